import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ownTarget, SecretStore, tokenOf, webhookUrl } from '../../asana/webhook-secrets';
import { run } from '../support/processes';

describe('webhook secret store', () => {
  let dir: string;
  let store: SecretStore;
  const secret = 'a'.repeat(40);
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    store = new SecretStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('stores a secret only through an open registration, for its project, once', async () => {
    const token = await store.openRegistration('123', 60_000);
    assert.equal(await store.claim(token, '456', secret), 'no_registration', 'another project');
    assert.equal(await store.claim('f'.repeat(64), '123', secret), 'no_registration', 'a token nobody opened');
    assert.equal(await store.claim(token, '123', secret), 'accepted');
    assert.equal(await store.claim(token, '123', 'b'.repeat(40)), 'already_claimed');
    assert.deepEqual(await new SecretStore(dir).get(token), { token, projectGid: '123', secret });
  });

  it('accepts exactly one of simultaneous handshakes', async () => {
    const token = await store.openRegistration('123', 60_000);
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claim(token, '123', `${i}`.repeat(20))));
    assert.equal(claims.filter((c) => c === 'accepted').length, 1, claims.join());
    const winner = claims.indexOf('accepted');
    assert.equal((await store.get(token))?.secret, `${winner}`.repeat(20));
  });

  it('refuses a handshake once the registration has expired', async () => {
    const token = await store.openRegistration('123', 60_000);
    assert.equal(await store.claim(token, '123', secret, Date.now() + 61_000), 'no_registration');
  });

  it('keeps secrets mode 0600 with no temp files, and forgets one on delete', async () => {
    const token = await store.openRegistration('123', 60_000);
    await store.claim(token, '123', secret);
    assert.deepEqual(await readdir(path.join(dir, 'webhook-secrets')), [token]);
    assert.deepEqual(await readdir(path.join(dir, 'webhook-registrations')), []);
    assert.equal((await stat(path.join(dir, 'webhook-secrets', token))).mode & 0o777, 0o600);
    await store.delete(token);
    assert.equal(await store.get(token), undefined);
  });

  it("removes a crashed write's stale temp file (it may hold a secret), not one under way", async () => {
    await mkdir(path.join(dir, 'webhook-secrets'));
    const stale = path.join(dir, 'webhook-secrets', `.${'d'.repeat(64)}.abc.tmp`);
    const fresh = path.join(dir, 'webhook-secrets', `.${'e'.repeat(64)}.abc.tmp`);
    await writeFile(stale, '{"projectGid":"123","secret":"x"}');
    await writeFile(fresh, '{"projectGid":"123","secret":"y"}');
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await utimes(stale, longAgo, longAgo);
    await store.openRegistration('123', 60_000);
    assert.deepEqual(await readdir(path.join(dir, 'webhook-secrets')), [path.basename(fresh)]);
  });

  it('takes an empty, damaged or keyless secret file for no secret', async () => {
    const secretsDir = path.join(dir, 'webhook-secrets');
    await mkdir(secretsDir);
    const files: [string, string][] = [
      ['1'.repeat(64), ''],
      ['2'.repeat(64), '{"projectGid":"123","sec'],
      ['3'.repeat(64), '{"projectGid":"123","secret":""}'],
      ['4'.repeat(64), '["123"]'],
    ];
    for (const [name, content] of files) await writeFile(path.join(secretsDir, name), content);
    for (const [name] of files) assert.equal(await store.get(name), undefined, name);
    assert.deepEqual(await store.list(), []);
  });

  it('builds and reads webhook URLs; refuses non-gids', async () => {
    const token = 'c'.repeat(64);
    const url = webhookUrl('https://sync.example.com/', '123', token);
    assert.equal(url, `https://sync.example.com/webhooks/asana/123/${token}`);
    assert.equal(tokenOf(url), token);
    assert.equal(tokenOf('https://sync.example.com/webhooks/asana/123'), undefined);
    assert.equal(tokenOf('not a url'), undefined);
    await assert.rejects(store.openRegistration('../etc', 1000), /not an Asana gid/);
  });

  it("takes a target for ours only if it is the public URL's own, whoever's token it carries", () => {
    const token = 'c'.repeat(64);
    const publicUrl = 'https://sync.example.com/hooks';
    assert.deepEqual(ownTarget(publicUrl, webhookUrl(publicUrl, '123', token)), { projectGid: '123', token });
    assert.deepEqual(ownTarget(`${publicUrl}/`, `https://SYNC.example.com:443/hooks/webhooks/asana/123/${token}`), {
      projectGid: '123',
      token,
    });
    for (const foreign of [
      `https://evil.example/hooks/webhooks/asana/123/${token}`,
      `http://sync.example.com/hooks/webhooks/asana/123/${token}`,
      `https://sync.example.com:8443/hooks/webhooks/asana/123/${token}`,
      `https://sync.example.com/other/webhooks/asana/123/${token}`,
      `https://sync.example.com/webhooks/asana/123/${token}`,
      `https://user@sync.example.com/hooks/webhooks/asana/123/${token}`,
      `https://sync.example.com.evil.example/hooks/webhooks/asana/123/${token}`,
      `https://evil.example/?https://sync.example.com/hooks/webhooks/asana/123/${token}`,
      `https://sync.example.com/hooks/webhooks/asana/123/${token}?x`,
      'not a url',
    ])
      assert.equal(ownTarget(publicUrl, foreign), undefined, foreign);
  });

  describe('a secret lives as long as its webhook', () => {
    const claimPending = async (projectGid = '123', value = secret) => {
      const token = await store.openRegistration(projectGid, 60_000, { confirm: true });
      assert.equal(await store.claim(token, projectGid, value), 'accepted');
      return token;
    };

    it('keeps a secret its create answer has not confirmed pending, then accepts it with its webhook', async () => {
      const token = await claimPending();
      assert.deepEqual(await store.get(token), { token, projectGid: '123', secret, pending: true });
      assert.equal(await store.ofWebhook('777'), undefined);
      await store.confirm(token, '777');
      assert.deepEqual(await store.get(token), { token, projectGid: '123', secret });
      assert.deepEqual(await store.ofWebhook('777'), { token, projectGid: '123', secret });
      assert.deepEqual(await readdir(path.join(dir, 'webhook-secrets-pending')), []);
    });

    it('marks a pending registration contested when a second handshake comes, and not an accepted one', async () => {
      const token = await claimPending();
      assert.equal(await store.contested(token), false);
      assert.equal(await store.claim(token, '123', 'b'.repeat(40)), 'already_claimed');
      assert.equal(await store.contested(token), true);
      assert.equal((await store.get(token))?.secret, secret, 'the first handshake keeps its secret');
      await store.delete(token);
      assert.equal(await store.contested(token), false);

      const accepted = await store.openRegistration('123', 60_000);
      await store.claim(accepted, '123', secret);
      assert.equal(await store.claim(accepted, '123', 'b'.repeat(40)), 'already_claimed');
      assert.equal(await store.contested(accepted), false);
    });

    it('waits for a pending secret: accepted, forgotten, or still pending when the wait is over', async () => {
      const confirmed = await claimPending();
      setTimeout(() => void store.confirm(confirmed, '777'), 100);
      assert.deepEqual(await store.awaitConfirmation(confirmed, 5_000), { token: confirmed, projectGid: '123', secret });
      const forgotten = await claimPending();
      setTimeout(() => void store.delete(forgotten), 100);
      assert.equal(await store.awaitConfirmation(forgotten, 5_000), undefined);
      const waiting = await claimPending();
      assert.equal((await store.awaitConfirmation(waiting, 100))?.pending, true);
    });

    it('lets a retired secret verify for the grace period only, and retires it once', async () => {
      store = new SecretStore(dir, { graceMs: 60_000 });
      const token = await claimPending();
      await store.confirm(token, '777');
      const now = Date.now();
      await store.retire(token, now);
      await store.retire(token, now + 30_000);
      assert.ok(await store.get(token, now + 59_000), 'within the grace');
      assert.equal(await store.get(token, now + 60_000), undefined, 'past it, from the first retirement');
      const pending = await claimPending();
      await store.retire(pending);
      assert.equal(await store.get(pending), undefined, 'a pending secret verified nothing: forgotten at once');
    });

    it("retires the project's secrets Asana no longer lists, not those accepted since the list, and forgets them after the grace", async () => {
      store = new SecretStore(dir, { graceMs: 60_000 });
      const listedToken = await claimPending();
      const droppedToken = await claimPending();
      const otherProject = await claimPending('456');
      for (const [token, gid] of [
        [listedToken, '1'],
        [droppedToken, '2'],
        [otherProject, '3'],
      ])
        await store.confirm(token, gid);
      const listedAt = Date.now();
      const later = await claimPending();
      await store.confirm(later, '4', listedAt + 1);
      assert.equal(await store.settle('123', new Map([[listedToken, '1']]), listedAt), 1);
      const now = Date.now();
      assert.ok(await store.get(droppedToken), 'retired, within the grace');
      assert.equal(await store.get(droppedToken, now + 60_000), undefined);
      await store.settle('123', new Map([[listedToken, '1']]), listedAt, now + 60_000);
      assert.deepEqual((await store.list()).map((s) => s.token).sort(), [listedToken, otherProject, later].sort());
    });

    it('settles a pending secret its registration abandoned by what Asana lists', async () => {
      const listedToken = await claimPending();
      const unlistedToken = await claimPending();
      const young = await claimPending();
      const listed = new Map([
        [listedToken, '1'],
        [young, '3'],
      ]);
      await store.settle('123', listed, Date.now(), Date.now() + 60_000);
      assert.equal((await store.get(young))?.pending, true, 'a registration under way is left alone');
      await store.settle('123', listed, Date.now(), Date.now() + 11 * 60_000);
      assert.deepEqual(await store.get(listedToken), { token: listedToken, projectGid: '123', secret });
      assert.equal(await store.get(unlistedToken), undefined);
    });

    it('counts the repairs of the last day, per project', async () => {
      const now = Date.now();
      await store.recordRepair('123', now - 25 * 60 * 60_000);
      await store.recordRepair('123', now - 60_000);
      await store.recordRepair('123', now);
      await store.recordRepair('456', now);
      assert.equal(await store.repairsInLastDay('123', now), 2);
      assert.equal(await store.repairsInLastDay('456', now), 1);
      assert.equal(await new SecretStore(dir).repairsInLastDay('789', now), 0);
    });
  });

  it('leaves no temp file when a write fails (a full disk: no byte may be written)', async () => {
    const token = await store.openRegistration('123', 60_000);
    // a file size limit of 0 fails every write with EFBIG, as a full disk fails it with ENOSPC
    const script = [
      "process.on('SIGXFSZ', () => undefined);",
      `const { SecretStore } = require(${JSON.stringify(require.resolve('../../asana/webhook-secrets'))});`,
      'const store = new SecretStore(process.argv[1]);',
      'const outcome = (p) => p.then(() => "written", (err) => err.message);',
      `Promise.all([outcome(store.claim(${JSON.stringify(token)}, '123', ${JSON.stringify(secret)})), outcome(store.openRegistration('123', 60000))])`,
      '  .then((outcomes) => console.log(JSON.stringify(outcomes)));',
    ].join('\n');
    const child = await run('/bin/sh', ['-c', 'ulimit -f 0; exec "$0" -r ts-node/register -e "$1" "$2"', process.execPath, script, dir]);
    assert.equal(child.code, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), ['webhook secret store unavailable: EFBIG', 'webhook secret store unavailable: EFBIG']);
    assert.deepEqual(await readdir(path.join(dir, 'webhook-secrets')), []);
    assert.deepEqual(await readdir(path.join(dir, 'webhook-registrations')), [token]);
  });
});
