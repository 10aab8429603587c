/**
 * The webhook app in-process with fake dependencies: every request a stranger can send gets the
 * right status and journals nothing; good deliveries journal exactly their task events.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { signDelivery, type AsanaEvent } from '../emulators/asana';
import { createLogger } from '../lib/logger';
import { SecretStore, tokenOf, webhookUrl } from '../asana/webhook-secrets';
import { createWebhookApp, emptyCounts, MAX_BODY_BYTES } from '../webhook/app';
import { JournalRefusal, type JournalEntry } from '../webhook/journal';
import { WebhookMetrics } from '../webhook/metrics';
import { postBody, taskEvent } from './support/deliveries';

const PROJECT = '1200000000000001';

/** An event of the synced project at a fixed time; a resource of another type or subtype when asked. */
const projectEvent = (gid: string, action: AsanaEvent['action'] = 'added', resource_type = 'task', resource_subtype = 'default_task') =>
  taskEvent(gid, {
    user: { gid: '1', resource_type: 'user' },
    created_at: '2026-11-30T10:00:00.000Z',
    action,
    resource: { gid, resource_type, resource_subtype },
    parent: { gid: PROJECT, resource_type: 'project' },
  });

/** A secret store that notes each look-up the app makes: each reads a file under DATA_DIR. */
class ObservedStore extends SecretStore {
  readonly lookups: string[] = [];

  override async get(token: string) {
    this.lookups.push(`secret of ${token}`);
    return super.get(token);
  }

  override async isRegistering(token: string, projectGid: string) {
    this.lookups.push(`registration of ${token}`);
    return super.isRegistering(token, projectGid);
  }
}

describe('webhook app: answers and journal entries, in-process', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let url: string;
  let secret: string;
  let secrets: ObservedStore;
  const journaled: JournalEntry[] = [];
  let taking = true;
  let counts = emptyCounts();

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'webhook-app-'));
    secrets = new ObservedStore(dir);
    const app = createWebhookApp(
      {
        secrets,
        projects: new Set([PROJECT]),
        log: createLogger('silent', 'test'),
        metrics: new WebhookMetrics(),
        accepting: () => taking,
        enqueue: (entries) => {
          if (!taking) throw new JournalRefusal('the journal is full');
          journaled.push(...entries);
        },
      },
      counts,
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    url = webhookUrl(base, PROJECT, await secrets.openRegistration(PROJECT, 60_000));
    secret = randomBytes(32).toString('hex');
    const handshake = await axios.post(url, '', { headers: { 'x-hook-secret': secret } });
    assert.equal(handshake.headers['x-hook-secret'], secret);
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    journaled.length = 0;
    counts = Object.assign(counts, emptyCounts());
  });

  type Headers = Record<string, string>;
  const post = (body: string | Buffer, headers: Headers = {}, target = url) => postBody(target, body, headers);
  const signed = (body: string | Buffer, headers: Headers = {}) =>
    post(body, { 'x-hook-signature': signDelivery(secret, body), ...headers });

  describe('the bad-input matrix: the right status, and nothing journaled', () => {
    const gid = '555000111222';
    const good = JSON.stringify({ events: [projectEvent(gid)] });
    const cases: [string, () => Promise<{ status: number; data: unknown }>, number][] = [
      ['no signature', () => post(good), 401],
      ['a wrong signature', () => post(good, { 'x-hook-signature': signDelivery('forged', good) }), 401],
      ['a signature of other bytes', () => post(good, { 'x-hook-signature': signDelivery(secret, good + ' ') }), 401],
      [
        'an unregistered webhook URL',
        () => post(good, { 'x-hook-signature': signDelivery(secret, good) }, webhookUrl(base, PROJECT, 'a'.repeat(64))),
        404,
      ],
      [
        'a URL of the form before tokens',
        () => post(good, { 'x-hook-signature': signDelivery(secret, good) }, `${base}/webhooks/asana/${PROJECT}`),
        404,
      ],
      [
        'a project that is not synced',
        () => post(good, { 'x-hook-signature': signDelivery(secret, good) }, webhookUrl(base, '999', 'a'.repeat(64))),
        404,
      ],
      ['malformed JSON', () => signed('{"events": ['), 400],
      ['JSON of the wrong shape', () => signed(JSON.stringify({ events: [{ action: 'added', resource: { gid } }] })), 400],
      ['a body over 1 MiB', () => signed(Buffer.alloc(MAX_BODY_BYTES + 1, 'a')), 413],
      ['GET on the delivery path', () => axios.get(url, { validateStatus: () => true }), 405],
      ['PUT on the delivery path', () => axios.put(url, good, { validateStatus: () => true }), 405],
      ['a non-JSON content type', () => signed(good, { 'content-type': 'text/plain' }), 415],
      ['an unknown path', () => axios.get(`${base}/admin`, { validateStatus: () => true }), 404],
      ['GET /metrics (they have a port of their own)', () => axios.get(`${base}/metrics`, { validateStatus: () => true }), 404],
    ];
    for (const [name, send, status] of cases) {
      it(`${name} → ${status}`, async () => {
        const response = await send();
        assert.equal(response.status, status);
        assert.ok(!JSON.stringify(response.data).includes(secret), 'the secret never appears in an answer');
        assert.deepEqual(journaled, []);
      });
    }
  });

  it('reads the same files for an unknown token whether or not its project is synced, so the timing tells neither', async () => {
    const token = randomBytes(32).toString('hex');
    const lookups = async (project: string) => {
      secrets.lookups.length = 0;
      assert.equal((await post('{}', {}, webhookUrl(base, project, token))).status, 404);
      return [...secrets.lookups];
    };
    const synced = await lookups(PROJECT);
    assert.deepEqual(synced, [`secret of ${token}`, `registration of ${token}`]);
    assert.deepEqual(await lookups('999'), synced);
  });

  it('journals the task events that can change a row, one entry a task, and counts the rest as skipped', async () => {
    const body = JSON.stringify({
      events: [
        projectEvent('777', 'added', 'story'),
        projectEvent('778', 'added', 'section'),
        projectEvent('779', 'added', 'task', 'section'),
        { ...projectEvent('780'), parent: { gid: '1', resource_type: 'section' } }, // a section move: the row cannot change
        { ...projectEvent('781', 'changed'), change: { field: 'completed', action: 'changed' } }, // no column uses it
        { ...projectEvent('782', 'changed'), change: { field: 'due_on', action: 'changed' } },
        projectEvent('782'),
      ],
    });
    const response = await signed(body);
    assert.equal(response.status, 200);
    assert.equal(counts.events_skipped, 5);
    assert.deepEqual(
      journaled.map(({ projectGid, taskGid, changedAt }) => ({ projectGid, taskGid, changedAt })),
      [{ projectGid: PROJECT, taskGid: '782', changedAt: '2026-11-30T10:00:00.000Z' }],
    );
  });

  it('answers 503 and journals nothing while deliveries are not taken, so Asana keeps them and retries', async () => {
    taking = false;
    try {
      assert.equal((await signed(JSON.stringify({ events: [projectEvent('783')] }))).status, 503);
      assert.equal((await axios.get(`${base}/healthz`, { validateStatus: () => true })).status, 503);
    } finally {
      taking = true;
    }
    assert.equal(journaled.length, 0);
    assert.equal((await signed(JSON.stringify({ events: [projectEvent('783')] }))).status, 200);
    assert.deepEqual(
      journaled.map((e) => e.taskGid),
      ['783'],
    );
  });

  it("skips a task gid too long to be Asana's (a workflow id Temporal would refuse)", async () => {
    assert.equal((await signed(JSON.stringify({ events: [projectEvent('1'.repeat(1100))] }))).status, 200);
    assert.equal(counts.events_skipped, 1);
    assert.deepEqual(journaled, []);
  });

  it("echoes a caller's x-request-id only in a short, printable form", async () => {
    const heartbeat = JSON.stringify({ events: [] });
    const long = await signed(heartbeat, { 'x-request-id': 'x'.repeat(500) });
    assert.equal(long.status, 200);
    assert.match(String(long.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal((await signed(heartbeat, { 'x-request-id': 'abc-123' })).headers['x-request-id'], 'abc-123');
  });

  it('refuses a second handshake on a registered webhook URL, and keeps verifying with the real secret', async () => {
    const forged = randomBytes(32).toString('hex');
    const response = await axios.post(url, '', { headers: { 'x-hook-secret': forged }, validateStatus: () => true });
    assert.equal(response.status, 409);
    assert.equal(response.headers['x-hook-secret'], undefined);
    const body = JSON.stringify({ events: [] });
    assert.equal((await post(body, { 'x-hook-signature': signDelivery(forged, body) })).status, 401);
    assert.equal((await signed(body)).status, 200);
  });

  it('survives thousands of random bodies and headers with no 5xx, journals nothing forged, keeps the secret', async function () {
    this.timeout(60_000);
    const statuses = new Map<number, number>();
    const junk = (): string => {
      switch (randomInt(6)) {
        case 0:
          return randomBytes(randomInt(0, 200)).toString('latin1');
        case 1:
          return JSON.stringify({
            events: Array.from({ length: randomInt(0, 4) }, () => ({
              action: randomBytes(3).toString('hex'),
              resource: randomInt(2) ? { gid: String(randomInt(1e9)), resource_type: 'story' } : null,
            })),
          });
        case 2:
          return JSON.stringify(randomInt(2) ? [] : { events: 'nope' });
        case 3:
          return '{"events":[' + '{"a":'.repeat(randomInt(1, 50));
        case 4:
          return JSON.stringify({ events: [{ action: 'added', resource: { gid: '../../etc', resource_type: 'task' } }] });
        default:
          return '\u0000\uffff' + randomBytes(8).toString('base64');
      }
    };
    const headerSets = (body: string): Headers[] => [
      {},
      { 'x-hook-signature': randomBytes(32).toString('hex') },
      { 'x-hook-signature': signDelivery(secret, body) },
      { 'x-hook-signature': 'zz', 'content-type': 'application/x-www-form-urlencoded' },
      { 'x-hook-secret': randomInt(2) ? 'short' : randomBytes(32).toString('hex') },
    ];
    for (let sent = 0; sent < 3000; sent += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () => {
          const body = junk();
          const target = randomInt(10) === 0 ? `${base}/webhooks/asana/${randomBytes(4).toString('hex')}` : url;
          return post(body, headerSets(body)[randomInt(5)], target).then((r) => statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1));
        }),
      );
    }
    assert.deepEqual(
      [...statuses].filter(([status]) => status >= 500),
      [],
      JSON.stringify([...statuses]),
    );
    assert.deepEqual(journaled, [], 'no junk body is a synced task event');
    assert.equal((await secrets.get(tokenOf(url)!))?.secret, secret, 'a forged handshake among them replaced nothing');
  });
});
