import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretStore } from '../../webhook/secrets';

describe('webhook secret store', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'secrets-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps secrets across instances (restarts), mode 0600, with no temp files left', async () => {
    await new SecretStore(dir).set('123', 'abc');
    assert.equal(await new SecretStore(dir).get('123'), 'abc');
    const files = await readdir(path.join(dir, 'webhook-secrets'));
    assert.deepEqual(files, ['123']);
    assert.equal((await stat(path.join(dir, 'webhook-secrets', '123'))).mode & 0o777, 0o600);
  });

  it('accepts a first handshake, and a replacement only while a registration is open', async () => {
    const store = new SecretStore(dir);
    assert.equal(await store.mayAcceptHandshake('123'), true);
    await store.set('123', 'abc');
    assert.equal(await store.mayAcceptHandshake('123'), false);
    await store.openRegistration('123', 60_000);
    assert.equal(await store.mayAcceptHandshake('123'), true);
    assert.equal(await store.mayAcceptHandshake('123', Date.now() + 61_000), false, 'the window expires');
    await store.closeRegistration('123');
    assert.equal(await store.mayAcceptHandshake('123'), false);
  });

  it('refuses resource ids that are not gids (no path tricks)', async () => {
    await assert.rejects(new SecretStore(dir).set('../etc', 'x'), /not an Asana gid/);
  });
});
