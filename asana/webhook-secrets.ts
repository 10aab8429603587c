/**
 * Webhook registrations and secrets under DATA_DIR, one file each, named by the webhook's token.
 *
 * `webhooks create` opens a registration: a random token, bound to one project, valid for a minute.
 * The webhook's URL carries the token (/webhooks/asana/<project>/<token>), so only the party the CLI
 * gave the URL to (Asana) can complete the handshake, and exactly one handshake can: the secret
 * file is created exclusively. Each Asana webhook has its own token and secret, so a second webhook
 * for a project (a rotation) never disturbs the first.
 *
 * A secret lives exactly as long as its webhook. One the CLI or the health check registers waits
 * as pending until Asana's create answer carries the same secret (a handshake someone else
 * answered is never accepted), and one whose webhook Asana no longer lists, or that a successor
 * replaced, is retired: it verifies deliveries for a grace period, then is forgotten.
 *
 * Nothing is cached: every request reads the file, so a create, rotate or delete made by any
 * process takes effect at the next request, and forged requests leave nothing in memory.
 */
import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { GID_PATTERN, isGid } from '../config/gid';

/** A registration's token as it stands in a webhook's URL: 32 random bytes, in hex. */
export const TOKEN_PATTERN = '[0-9a-f]{64}';
const TOKEN = new RegExp(`^${TOKEN_PATTERN}$`);
/** What Asana sends as X-Hook-Secret: printable ASCII, long enough to be a key. */
const SECRET = /^[\x21-\x7e]{16,256}$/;

/** A webhook's path: gids and tokens are plain digits and hex, so it needs no decoding (and no escape can break it). */
export const WEBHOOK_PATH = new RegExp(`^/webhooks/asana/(${GID_PATTERN})/(${TOKEN_PATTERN})/?$`);

export function webhookUrl(publicUrl: string, projectGid: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/asana/${projectGid}/${token}`;
}

/** The token in a webhook's target URL; undefined for a URL of ours from before tokens, or another's. */
export function tokenOf(target: string): string | undefined {
  try {
    return WEBHOOK_PATH.exec(new URL(target).pathname)?.[2];
  } catch {
    return undefined;
  }
}

const TARGET_END = new RegExp(`/webhooks/asana/(${GID_PATTERN})/(${TOKEN_PATTERN})$`);

/**
 * The project and token of a target that is this service's: exactly the URL `webhookUrl` makes
 * from `publicUrl` (scheme, host, port and path); undefined for any other, since a target on
 * another host that carries one of our tokens must not pass for our webhook.
 */
export function ownTarget(publicUrl: string, target: string): { projectGid: string; token: string } | undefined {
  const match = TARGET_END.exec(target);
  if (!match) return undefined;
  const [, projectGid, token] = match;
  try {
    return new URL(target).href === new URL(webhookUrl(publicUrl, projectGid, token)).href ? { projectGid, token } : undefined;
  } catch {
    return undefined;
  }
}

/** A stored webhook secret and the project its webhook is for. */
export interface WebhookSecret {
  token: string;
  projectGid: string;
  secret: string;
  /** Stored by a handshake whose webhook's create answer has not confirmed it yet: it verifies no delivery. */
  pending?: true;
}

/** A secret as its file holds it. */
interface StoredSecret {
  projectGid: string;
  secret: string;
  /** The webhook Asana made with it, once a create answer (or Asana's list) named it. */
  webhookGid?: string;
  /** When it was stored (pending) or accepted; absent in files written before it was recorded. */
  storedAt?: number;
  /** A retired secret verifies deliveries until then, and is forgotten after. */
  retiredUntil?: number;
}

/** DATA_DIR could not be read or written (not a missing file): the webhook answers 503 and logs it. */
export class SecretStoreUnavailable extends Error {
  constructor(cause: NodeJS.ErrnoException) {
    super(`webhook secret store unavailable: ${cause.code ?? cause.message}`);
  }
}

/** A temp file this old is a crashed write's leftover, not one under way. */
const STALE_TEMP_MS = 60_000;

/** How long a retired secret still verifies: longer than a delivery Asana sent before its webhook went takes to arrive. */
export const RETIREMENT_GRACE_MS = 5 * 60_000;

/** A pending secret this old was left by a registration that will not finish (its CLI stopped), so Asana's list settles it. */
const ABANDONED_PENDING_MS = 10 * 60_000;

/** How often a delivery signed with a pending secret looks whether the create answer has confirmed it. */
const CONFIRMATION_POLL_MS = 25;

const DAY_MS = 24 * 60 * 60_000;

/** A contested registration's marker: a second handshake came on its URL while its secret was pending. */
const CONTESTED = '.contested';

interface Registration {
  projectGid: string;
  expiresAt: number;
  /** The secret its handshake stores stays pending until the create answer confirms it. */
  confirm?: true;
}

/** How a handshake ended: the secret stored, or why not. */
export type Claim = 'accepted' | 'no_registration' | 'already_claimed';

export interface SecretStoreOptions {
  /** How long a retired secret still verifies deliveries; RETIREMENT_GRACE_MS unless a test needs less. */
  graceMs?: number;
}

export class SecretStore {
  private readonly secretsDir: string;
  private readonly pendingDir: string;
  private readonly registrationsDir: string;
  private readonly repairsDir: string;
  private readonly graceMs: number;

  constructor(dataDir: string, options: SecretStoreOptions = {}) {
    this.secretsDir = path.join(dataDir, 'webhook-secrets');
    this.pendingDir = path.join(dataDir, 'webhook-secrets-pending');
    this.registrationsDir = path.join(dataDir, 'webhook-registrations');
    this.repairsDir = path.join(dataDir, 'webhook-repairs');
    this.graceMs = options.graceMs ?? RETIREMENT_GRACE_MS;
  }

  static isToken(value: string): boolean {
    return TOKEN.test(value);
  }

  static isSecret(value: string): boolean {
    return SECRET.test(value);
  }

  /**
   * The secret stored for a token, accepted or pending; undefined for none, for a retired one past
   * its grace, and for a file that is empty or damaged.
   */
  async get(token: string, now = Date.now()): Promise<WebhookSecret | undefined> {
    if (!SecretStore.isToken(token)) return undefined;
    const accepted = this.read(this.secretsDir, token);
    if (accepted !== undefined)
      return (accepted.retiredUntil ?? Infinity) > now ? { token, projectGid: accepted.projectGid, secret: accepted.secret } : undefined;
    const pending = this.read(this.pendingDir, token);
    return pending && { token, projectGid: pending.projectGid, secret: pending.secret, pending: true };
  }

  /**
   * Waits, up to `timeoutMs`, for a pending secret's create answer: the secret once accepted,
   * undefined once forgotten (the answer carried another secret, or none came), pending still at the end.
   */
  async awaitConfirmation(token: string, timeoutMs: number): Promise<WebhookSecret | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const stored = await this.get(token);
      if (stored?.pending !== true || Date.now() >= deadline) return stored;
      await new Promise((resolve) => setTimeout(resolve, CONFIRMATION_POLL_MS));
    }
  }

  /** Whether this token and project have a registration (open or expired) that no handshake has claimed yet. */
  async isRegistering(token: string, projectGid: string): Promise<boolean> {
    return (await this.registration(token))?.projectGid === projectGid;
  }

  /** Every readable stored secret, accepted or pending (as `get` finds them). */
  async list(): Promise<WebhookSecret[]> {
    const names = [...new Set([...(await listDir(this.secretsDir)), ...(await listDir(this.pendingDir))])];
    const secrets = await Promise.all(names.filter(SecretStore.isToken).map((name) => this.get(name)));
    return secrets.filter((s) => s !== undefined);
  }

  /** The accepted secret of the webhook with this gid, as its create answer (or Asana's list) named it. */
  async ofWebhook(webhookGid: string): Promise<WebhookSecret | undefined> {
    for (const token of (await listDir(this.secretsDir)).filter(SecretStore.isToken)) {
      if (this.read(this.secretsDir, token)?.webhookGid === webhookGid) return this.get(token);
    }
    return undefined;
  }

  /** Projects with a secret stored the old way (by project, before URLs carried a token): these verify nothing now. */
  async legacyProjects(): Promise<string[]> {
    return (await listDir(this.secretsDir)).filter(isGid);
  }

  /** Forgets a token's secret at once, accepted or pending. */
  async delete(token: string): Promise<void> {
    if (!SecretStore.isToken(token)) return;
    await removeFile(path.join(this.secretsDir, token));
    await removeFile(path.join(this.pendingDir, token));
    await removeFile(path.join(this.pendingDir, `${token}${CONTESTED}`));
    await syncDirectory(this.secretsDir).catch(() => undefined);
  }

  /**
   * Opens a registration for the project: the returned token is valid for one handshake within
   * `ttlMs`. With `confirm`, the secret that handshake stores verifies nothing until `confirm` is
   * called with the webhook's gid; without it (a handshake made by hand, with no create answer to
   * compare), it verifies deliveries at once.
   */
  async openRegistration(projectGid: string, ttlMs: number, options: { confirm?: boolean; now?: number } = {}): Promise<string> {
    if (!isGid(projectGid)) throw new Error(`not an Asana gid: ${JSON.stringify(projectGid)}`);
    const now = options.now ?? Date.now();
    await this.removeLeftovers(now);
    const token = randomBytes(32).toString('hex');
    const registration: Registration = { projectGid, expiresAt: now + ttlMs, ...(options.confirm ? { confirm: true } : {}) };
    await writeDurably(path.join(this.registrationsDir, token), JSON.stringify(registration));
    return token;
  }

  /**
   * Accepts a pending secret: Asana's create answer carried it (or Asana lists a webhook on its
   * URL), so it is Asana's. The webhook's gid is kept with it, so `delete <gid>` finds the secret
   * even once Asana has forgotten the webhook.
   */
  async confirm(token: string, webhookGid: string, now = Date.now()): Promise<void> {
    const pending = SecretStore.isToken(token) ? this.read(this.pendingDir, token) : undefined;
    if (pending === undefined || !isGid(webhookGid)) return;
    const accepted: StoredSecret = { projectGid: pending.projectGid, secret: pending.secret, webhookGid, storedAt: now };
    await writeDurably(path.join(this.secretsDir, token), JSON.stringify(accepted));
    await removeFile(path.join(this.pendingDir, token));
    await removeFile(path.join(this.pendingDir, `${token}${CONTESTED}`));
  }

  /** Whether a second handshake came on the token's URL while its secret was pending: two parties answered it. */
  async contested(token: string): Promise<boolean> {
    return SecretStore.isToken(token) && readIfExists(path.join(this.pendingDir, `${token}${CONTESTED}`)) !== undefined;
  }

  /**
   * Retires an accepted secret: it verifies deliveries for the grace period (those already on
   * their way), then is forgotten. A pending one is forgotten at once, having verified nothing.
   */
  async retire(token: string, now = Date.now()): Promise<void> {
    if (!SecretStore.isToken(token)) return;
    const accepted = this.read(this.secretsDir, token);
    if (accepted === undefined) return this.delete(token);
    if (accepted.retiredUntil !== undefined) return;
    await replaceDurably(path.join(this.secretsDir, token), JSON.stringify({ ...accepted, retiredUntil: now + this.graceMs }));
  }

  /**
   * Brings a project's secrets in line with the webhooks Asana listed for it at `listedAt`
   * (`listed`: each listed target's token, with its webhook's gid). Retires the accepted secrets of
   * webhooks it no longer lists (not those accepted since the list was asked for), forgets retired
   * ones past their grace, and settles pending ones their registration abandoned: accepted when
   * Asana lists a webhook on their URL (Asana's own handshake was the one taken), forgotten when it
   * lists none. Returns how many secrets it retired.
   */
  async settle(projectGid: string, listed: ReadonlyMap<string, string>, listedAt: number, now = Date.now()): Promise<number> {
    let retired = 0;
    for (const token of (await listDir(this.secretsDir)).filter(SecretStore.isToken)) {
      const stored = this.read(this.secretsDir, token);
      if (stored?.projectGid !== projectGid) continue;
      if (stored.retiredUntil !== undefined) {
        if (stored.retiredUntil <= now) await this.delete(token);
      } else if (!listed.has(token) && (stored.storedAt ?? 0) < listedAt) {
        await this.retire(token, now);
        retired += 1;
      }
    }
    for (const token of (await listDir(this.pendingDir)).filter(SecretStore.isToken)) {
      const pending = this.read(this.pendingDir, token);
      if (pending?.projectGid !== projectGid || now - (pending.storedAt ?? 0) < ABANDONED_PENDING_MS) continue;
      const webhookGid = listed.get(token);
      await (webhookGid === undefined ? this.delete(token) : this.confirm(token, webhookGid, now));
    }
    return retired;
  }

  /** Records that a webhook is being registered for the project to replace a missing or inactive one. */
  async recordRepair(projectGid: string, now = Date.now()): Promise<void> {
    if (!isGid(projectGid)) return;
    const recent = (await this.repairTimes(projectGid)).filter((at) => at > now - DAY_MS);
    await replaceDurably(path.join(this.repairsDir, projectGid), JSON.stringify([...recent, now]));
  }

  /** How many repairs `recordRepair` recorded for the project in the day before `now`. */
  async repairsInLastDay(projectGid: string, now = Date.now()): Promise<number> {
    return (await this.repairTimes(projectGid)).filter((at) => at > now - DAY_MS).length;
  }

  async closeRegistration(token: string): Promise<void> {
    if (SecretStore.isToken(token)) await removeFile(path.join(this.registrationsDir, token));
  }

  /**
   * The handshake: stores the secret if the token's registration is open for this project and no
   * handshake has claimed it yet. Of simultaneous handshakes exactly one is accepted.
   */
  async claim(token: string, projectGid: string, secret: string, now = Date.now()): Promise<Claim> {
    if (!SecretStore.isToken(token) || !SecretStore.isSecret(secret)) return 'no_registration';
    if ((await this.get(token)) === undefined) {
      const registration = await this.registration(token);
      if (!registration || registration.projectGid !== projectGid || registration.expiresAt <= now) return 'no_registration';
      const stored: StoredSecret = { projectGid, secret, storedAt: now };
      if (await writeDurably(path.join(registration.confirm ? this.pendingDir : this.secretsDir, token), JSON.stringify(stored))) {
        await this.closeRegistration(token);
        return 'accepted';
      }
    }
    // the registering CLI reads this mark to tell a leaked URL from a lost answer
    if ((await this.get(token))?.pending) await writeDurably(path.join(this.pendingDir, `${token}${CONTESTED}`), '');
    return 'already_claimed';
  }

  private async registration(token: string): Promise<Registration | undefined> {
    if (!SecretStore.isToken(token)) return undefined;
    const stored = parse(readIfExists(path.join(this.registrationsDir, token)));
    if (!stored || typeof stored.projectGid !== 'string' || typeof stored.expiresAt !== 'number') return undefined;
    return { projectGid: stored.projectGid, expiresAt: stored.expiresAt, ...(stored.confirm === true ? { confirm: true } : {}) };
  }

  /** A secret file's content; undefined for none, and for one that is empty or damaged. */
  private read(dir: string, token: string): StoredSecret | undefined {
    const stored = parse(readIfExists(path.join(dir, token)));
    if (!stored || typeof stored.projectGid !== 'string' || typeof stored.secret !== 'string' || !SecretStore.isSecret(stored.secret))
      return undefined;
    const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
    return {
      projectGid: stored.projectGid,
      secret: stored.secret,
      webhookGid: typeof stored.webhookGid === 'string' ? stored.webhookGid : undefined,
      storedAt: number(stored.storedAt),
      retiredUntil: number(stored.retiredUntil),
    };
  }

  private async repairTimes(projectGid: string): Promise<number[]> {
    if (!isGid(projectGid)) return [];
    let times: unknown;
    try {
      times = JSON.parse(readIfExists(path.join(this.repairsDir, projectGid)) ?? '[]');
    } catch {
      return [];
    }
    return Array.isArray(times) ? times.filter((at): at is number => typeof at === 'number') : [];
  }

  /** Expired or damaged registrations, and temp files of writes a crash interrupted (they may hold a secret). */
  private async removeLeftovers(now: number): Promise<void> {
    for (const name of await listDir(this.registrationsDir)) {
      if (SecretStore.isToken(name) && ((await this.registration(name))?.expiresAt ?? 0) <= now)
        await removeFile(path.join(this.registrationsDir, name));
    }
    for (const dir of [this.registrationsDir, this.secretsDir, this.pendingDir, this.repairsDir]) {
      for (const name of (await listDir(dir)).filter((n) => n.endsWith('.tmp'))) {
        const file = path.join(dir, name);
        const modified = await stat(file).then(
          (s) => s.mtimeMs,
          () => now,
        );
        if (now - modified > STALE_TEMP_MS) await removeFile(file);
      }
    }
  }
}

function parse(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A file's text; undefined when there is none. Any other failure is the store's, not the request's.
 * Synchronous, as the journal's writes are: a few hundred bytes from the page cache cost less than
 * a round trip through the thread pool, and every delivery reads one.
 */
function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SecretStoreUnavailable(err as NodeJS.ErrnoException);
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SecretStoreUnavailable(err as NodeJS.ErrnoException);
  }
}

/** Removes a file if it is there; something else by its name (a folder) is left for the operator. */
async function removeFile(file: string): Promise<void> {
  await rm(file, { force: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ERR_FS_EISDIR') throw new SecretStoreUnavailable(err);
  });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates a whole file or nothing (false when the name exists), and makes it survive a machine
 * crash: a temp file, fsynced, linked to its name, then the directory fsynced so the name itself
 * is on disk (and the directory's own name, the first time).
 */
async function writeDurably(file: string, content: string): Promise<boolean> {
  return storeFailure(() => createFile(file, content, 'create'));
}

/** As writeDurably, but takes the name's place whole if it exists: a reader sees the old file or the new one. */
async function replaceDurably(file: string, content: string): Promise<void> {
  await storeFailure(() => createFile(file, content, 'replace'));
}

async function storeFailure<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw err instanceof SecretStoreUnavailable ? err : new SecretStoreUnavailable(err as NodeJS.ErrnoException);
  }
}

async function createFile(file: string, content: string, how: 'create' | 'replace'): Promise<boolean> {
  const dir = path.dirname(file);
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) {
    for (let made = dir; made.length >= created.length; made = path.dirname(made)) await syncDirectory(path.dirname(made));
  }
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  // the temp file goes whatever fails (a full disk fails the write): a leftover may hold a secret
  try {
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await (how === 'create' ? link(temp, file) : rename(temp, file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dir);
  return true;
}
