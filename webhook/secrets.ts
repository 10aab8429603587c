/**
 * Webhook secrets, one file per Asana resource under DATA_DIR, written atomically with mode 0600:
 * Asana sends a secret only once, at the handshake, so losing it means re-creating the webhook.
 * A handshake may replace an existing secret only while a registration is open (the CLI opens one
 * just before it asks Asana to create the webhook), so nobody outside can swap the secret.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const GID = /^\d{1,32}$/;

export class SecretStore {
  private readonly secretsDir: string;
  private readonly registrationsDir: string;
  private readonly cache = new Map<string, string>();

  constructor(dataDir: string) {
    this.secretsDir = path.join(dataDir, 'webhook-secrets');
    this.registrationsDir = path.join(dataDir, 'webhook-registrations');
  }

  static isGid(value: string): boolean {
    return GID.test(value);
  }

  async get(resourceGid: string): Promise<string | undefined> {
    const cached = this.cache.get(resourceGid);
    if (cached !== undefined) return cached;
    const secret = await readIfExists(this.file(this.secretsDir, resourceGid));
    if (secret !== undefined) this.cache.set(resourceGid, secret);
    return secret;
  }

  async set(resourceGid: string, secret: string): Promise<void> {
    await writeAtomically(this.file(this.secretsDir, resourceGid), secret);
    this.cache.set(resourceGid, secret);
  }

  async delete(resourceGid: string): Promise<void> {
    await rm(this.file(this.secretsDir, resourceGid), { force: true });
    this.cache.delete(resourceGid);
  }

  /** Lets the next handshake for the resource replace its secret, for `ttlMs`. */
  async openRegistration(resourceGid: string, ttlMs: number, now = Date.now()): Promise<void> {
    await writeAtomically(this.file(this.registrationsDir, resourceGid), String(now + ttlMs));
  }

  async closeRegistration(resourceGid: string): Promise<void> {
    await rm(this.file(this.registrationsDir, resourceGid), { force: true });
  }

  /** Whether a handshake may set the resource's secret: none stored yet, or a registration is open. */
  async mayAcceptHandshake(resourceGid: string, now = Date.now()): Promise<boolean> {
    if ((await this.get(resourceGid)) === undefined) return true;
    const until = Number(await readIfExists(this.file(this.registrationsDir, resourceGid)));
    return Number.isFinite(until) && until > now;
  }

  private file(dir: string, resourceGid: string): string {
    if (!SecretStore.isGid(resourceGid)) throw new Error(`not an Asana gid: ${JSON.stringify(resourceGid)}`);
    return path.join(dir, resourceGid);
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function writeAtomically(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, content, { mode: 0o600 });
  await rename(temp, file);
}
