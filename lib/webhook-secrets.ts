/**
 * Webhook registrations and secrets under DATA_DIR, one file each, named by the webhook's token.
 *
 * `webhooks create` opens a registration: a random token, bound to one project, valid for a minute.
 * The webhook's URL carries the token (/webhooks/asana/<project>/<token>), so only the party the CLI
 * gave the URL to (Asana) can complete the handshake, and exactly one handshake can: the secret
 * file is created exclusively. Each Asana webhook has its own token and secret, so a second webhook
 * for a project (a rotation) never disturbs the first.
 *
 * Nothing is cached: every request reads the file, so a create, rotate or delete made by any
 * process takes effect at the next request, and forged requests leave nothing in memory.
 */
import { randomBytes } from 'node:crypto';
import { constants, readFileSync } from 'node:fs';
import { link, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
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
}

/** DATA_DIR could not be read or written (not a missing file): the webhook answers 503 and logs it. */
export class SecretStoreUnavailable extends Error {
  constructor(cause: NodeJS.ErrnoException) {
    super(`webhook secret store unavailable: ${cause.code ?? cause.message}`);
  }
}

/** A temp file this old is a crashed write's leftover, not one under way. */
const STALE_TEMP_MS = 60_000;

interface Registration {
  projectGid: string;
  expiresAt: number;
}

/** How a handshake ended: the secret stored, or why not. */
export type Claim = 'accepted' | 'no_registration' | 'already_claimed';

export class SecretStore {
  private readonly secretsDir: string;
  private readonly registrationsDir: string;

  constructor(dataDir: string) {
    this.secretsDir = path.join(dataDir, 'webhook-secrets');
    this.registrationsDir = path.join(dataDir, 'webhook-registrations');
  }

  static isToken(value: string): boolean {
    return TOKEN.test(value);
  }

  static isSecret(value: string): boolean {
    return SECRET.test(value);
  }

  /** The secret stored for a token; undefined for none, and for a file that is empty or damaged. */
  async get(token: string): Promise<WebhookSecret | undefined> {
    if (!SecretStore.isToken(token)) return undefined;
    const stored = parse(readIfExists(path.join(this.secretsDir, token)));
    if (!stored || typeof stored.projectGid !== 'string' || typeof stored.secret !== 'string' || !SecretStore.isSecret(stored.secret))
      return undefined;
    return { token, projectGid: stored.projectGid, secret: stored.secret };
  }

  /** Whether this token and project have a registration (open or expired) that no handshake has claimed yet. */
  async isRegistering(token: string, projectGid: string): Promise<boolean> {
    return (await this.registration(token))?.projectGid === projectGid;
  }

  /** Every readable stored secret. */
  async list(): Promise<WebhookSecret[]> {
    const names = await listDir(this.secretsDir);
    const secrets = await Promise.all(names.filter(SecretStore.isToken).map((name) => this.get(name)));
    return secrets.filter((s) => s !== undefined);
  }

  /** Projects with a secret stored the old way (by project, before URLs carried a token): these verify nothing now. */
  async legacyProjects(): Promise<string[]> {
    return (await listDir(this.secretsDir)).filter(isGid);
  }

  async delete(token: string): Promise<void> {
    if (!SecretStore.isToken(token)) return;
    await removeFile(path.join(this.secretsDir, token));
    await syncDirectory(this.secretsDir).catch(() => undefined);
  }

  /** Opens a registration for the project: the returned token is valid for one handshake within `ttlMs`. */
  async openRegistration(projectGid: string, ttlMs: number, now = Date.now()): Promise<string> {
    if (!isGid(projectGid)) throw new Error(`not an Asana gid: ${JSON.stringify(projectGid)}`);
    await this.removeLeftovers(now);
    const token = randomBytes(32).toString('hex');
    const registration: Registration = { projectGid, expiresAt: now + ttlMs };
    await writeDurably(path.join(this.registrationsDir, token), JSON.stringify(registration));
    return token;
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
    if (await this.get(token)) return 'already_claimed';
    const registration = await this.registration(token);
    if (!registration || registration.projectGid !== projectGid || registration.expiresAt <= now) return 'no_registration';
    const stored: Omit<WebhookSecret, 'token'> = { projectGid, secret };
    if (!(await writeDurably(path.join(this.secretsDir, token), JSON.stringify(stored)))) return 'already_claimed';
    await this.closeRegistration(token);
    return 'accepted';
  }

  private async registration(token: string): Promise<Registration | undefined> {
    if (!SecretStore.isToken(token)) return undefined;
    const stored = parse(readIfExists(path.join(this.registrationsDir, token)));
    if (!stored || typeof stored.projectGid !== 'string' || typeof stored.expiresAt !== 'number') return undefined;
    return { projectGid: stored.projectGid, expiresAt: stored.expiresAt };
  }

  /** Expired or damaged registrations, and temp files of writes a crash interrupted (they may hold a secret). */
  private async removeLeftovers(now: number): Promise<void> {
    for (const name of await listDir(this.registrationsDir)) {
      if (SecretStore.isToken(name) && ((await this.registration(name))?.expiresAt ?? 0) <= now)
        await removeFile(path.join(this.registrationsDir, name));
    }
    for (const dir of [this.registrationsDir, this.secretsDir]) {
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
  try {
    return await createFile(file, content);
  } catch (err) {
    throw err instanceof SecretStoreUnavailable ? err : new SecretStoreUnavailable(err as NodeJS.ErrnoException);
  }
}

async function createFile(file: string, content: string): Promise<boolean> {
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
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
  await syncDirectory(dir);
  return true;
}
