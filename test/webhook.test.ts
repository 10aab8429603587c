/** Every request gets the right answer, bad ones change nothing, and no event is lost. */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { WorkflowNotFoundError } from '@temporalio/client';
import { signDelivery } from '../sandbox/asana';
import { startDevServer, type DevServer } from '../lib/dev-server';
import { createLogger } from '../lib/logger';
import { startWebhookServer } from '../webhook/server';
import { MAX_BODY_BYTES } from '../webhook/app';
import { SecretStore, tokenOf, webhookUrl } from '../lib/webhook-secrets';
import { taskWorkflowId } from '../workflows/client';
import { freePort } from './support/ports';
import { eventually, startStack, type Stack } from './support/stack';

const taskEvent = (gid: string, action = 'added', resource_type = 'task', resource_subtype = 'default_task') => ({
  user: null,
  created_at: new Date().toISOString(),
  action,
  resource: { gid, resource_type, resource_subtype },
  parent: null,
});

describe('webhook: secure and robust', function () {
  let stack: Stack;
  let secret: string;
  let url: string;
  const storedSecret = async () => (await new SecretStore(stack.config.dataDir).get(tokenOf(url)!))?.secret;

  before(async () => {
    stack = await startStack();
    ({ target: url } = await stack.registerWebhook());
    secret = (await storedSecret())!;
  });
  after(() => stack.stop());

  type Headers = Record<string, string>;
  const post = (body: string | Buffer, headers: Headers = {}, target = url) =>
    axios.post(target, body, {
      headers: { 'content-type': 'application/json', ...headers },
      validateStatus: () => true,
      maxBodyLength: Infinity,
      transformRequest: (d: unknown) => d,
    });
  const signed = (body: string | Buffer, headers: Headers = {}) =>
    post(body, { 'x-hook-signature': signDelivery(secret, body), ...headers });
  const assertNoWorkflow = (gid: string) =>
    assert.rejects(stack.client.workflow.getHandle(taskWorkflowId(gid)).describe(), WorkflowNotFoundError);

  describe('the bad-input matrix: the right status, and nothing started', () => {
    const gid = '555000111222';
    const good = JSON.stringify({ events: [taskEvent(gid)] });
    const cases: [string, () => Promise<{ status: number; data: unknown }>, number][] = [
      ['no signature', () => post(good), 401],
      ['a wrong signature', () => post(good, { 'x-hook-signature': signDelivery('forged', good) }), 401],
      ['a signature of other bytes', () => post(good, { 'x-hook-signature': signDelivery(secret, good + ' ') }), 401],
      [
        'an unregistered webhook URL',
        () =>
          post(good, { 'x-hook-signature': signDelivery(secret, good) }, webhookUrl(stack.webhook.url, stack.project.gid, 'a'.repeat(64))),
        404,
      ],
      [
        'a URL of the form before tokens',
        () => post(good, { 'x-hook-signature': signDelivery(secret, good) }, `${stack.webhook.url}/webhooks/asana/${stack.project.gid}`),
        404,
      ],
      ['malformed JSON', () => signed('{"events": [', {}), 400],
      ['JSON of the wrong shape', () => signed(JSON.stringify({ events: [{ action: 'added', resource: { gid } }] })), 400],
      ['a body over 1 MiB', () => signed(Buffer.alloc(MAX_BODY_BYTES + 1, 'a')), 413],
      ['GET on the delivery path', () => axios.get(url, { validateStatus: () => true }), 405],
      ['PUT on the delivery path', () => axios.put(url, good, { validateStatus: () => true }), 405],
      ['a non-JSON content type', () => signed(good, { 'content-type': 'text/plain' }), 415],
    ];
    for (const [name, send, status] of cases) {
      it(`${name} → ${status}`, async () => {
        const response = await send();
        assert.equal(response.status, status);
        assert.ok(!JSON.stringify(response.data).includes(secret), 'the secret never appears in an answer');
        await assertNoWorkflow(gid);
      });
    }
  });

  it('skips events that are not synced tasks or cannot change a row, counts them, and handles the good ones beside them', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Mixed company' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    const skippedBefore = stack.webhook.counts.events_skipped;
    const body = JSON.stringify({
      events: [
        taskEvent('777', 'added', 'story'),
        taskEvent('778', 'added', 'section'),
        taskEvent('779', 'added', 'task', 'section'),
        { ...taskEvent('780'), parent: { gid: '1', resource_type: 'section' } }, // a section move: the row cannot change
        { ...taskEvent('781', 'changed'), change: { field: 'completed', action: 'changed' } }, // no column uses it
        taskEvent(task.gid, 'changed'),
      ],
    });
    const response = await signed(body);
    assert.equal(response.status, 200);
    assert.equal(stack.webhook.counts.events_skipped - skippedBefore, 5);
    await assertNoWorkflow('780');
    await assertNoWorkflow('781');
    await assertNoWorkflow('777');
    await assertNoWorkflow('779');
  });

  it("skips a task gid too long to be Asana's (a workflow id Temporal would refuse), and keeps taking deliveries", async () => {
    const skippedBefore = stack.webhook.counts.events_skipped;
    assert.equal((await signed(JSON.stringify({ events: [taskEvent('1'.repeat(1100))] }))).status, 200);
    assert.equal(stack.webhook.counts.events_skipped - skippedBefore, 1);
    const task = stack.asana.createTask(stack.project.gid, { name: 'After a long gid' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    assert.equal((await axios.get(`${stack.webhook.url}/healthz`)).status, 200);
  });

  it("echoes a caller's x-request-id only in a short, printable form", async () => {
    const heartbeat = JSON.stringify({ events: [] });
    const long = await signed(heartbeat, { 'x-request-id': 'x'.repeat(500) });
    assert.equal(long.status, 200);
    assert.match(String(long.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal((await signed(heartbeat, { 'x-request-id': 'abc-123' })).headers['x-request-id'], 'abc-123');
  });

  it('survives thousands of random bodies and headers with no 5xx and no crash', async function () {
    this.timeout(60_000);
    const deadline = Date.now() + 20_000;
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
    let sent = 0;
    while (sent < 3000 && Date.now() < deadline) {
      const batch = Array.from({ length: 50 }, () => {
        const body = junk();
        const headers = headerSets(body)[randomInt(5)];
        const target = randomInt(10) === 0 ? `${stack.webhook.url}/webhooks/asana/${randomBytes(4).toString('hex')}` : url;
        return post(body, headers, target).then((r) => statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1));
      });
      await Promise.all(batch);
      sent += batch.length;
    }
    assert.ok(sent >= 1000, `sent only ${sent}`);
    const serverErrors = [...statuses].filter(([status]) => status >= 500);
    assert.deepEqual(serverErrors, [], JSON.stringify([...statuses]));
    assert.equal((await axios.get(`${stack.webhook.url}/healthz`)).status, 200);
    // a forged handshake among them must not have replaced the secret
    assert.equal(await storedSecret(), secret);
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

  it("answers a request whose body never comes with 408 within Asana's 10 s, and closes it", async function () {
    this.timeout(20_000);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(stack.webhook.url).port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.write(`POST ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n`);
    });
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
  });

  it('still verifies signatures after the webhook restarts', async () => {
    const port = Number(new URL(stack.webhook.url).port);
    await stack.webhook.close();
    stack.webhook = await startWebhookServer({ ...stack.config, port }, createLogger('silent', 'test'), stack.client);
    const task = stack.asana.createTask(stack.project.gid, { name: 'After restart' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    assert.ok(stack.asana.deliveries.filter((d) => d.status === 200).length > 0);
  });

  it('answers 503 while Temporal is down, and takes the same delivery once it is back', async function () {
    this.timeout(120_000);
    const dir = await mkdtemp(path.join(tmpdir(), 'temporal-down-'));
    const port = await freePort();
    const dbFilename = path.join(dir, 'temporal.db');
    let server: DevServer | undefined = await startDevServer({ port, dbFilename });
    const webhook = await startWebhookServer(
      {
        ...stack.config,
        asana: { ...stack.config.asana, projectGids: ['31337'] },
        port: 0,
        dataDir: dir,
        temporal: { ...stack.config.temporal, address: `127.0.0.1:${port}` },
      },
      createLogger('silent', 'test'),
    );
    try {
      const target = webhookUrl(webhook.url, '31337', await new SecretStore(dir).openRegistration('31337', 60_000));
      const ownSecret = randomBytes(32).toString('hex');
      assert.equal((await axios.post(target, '', { headers: { 'x-hook-secret': ownSecret } })).status, 200);
      await eventually(async () => assert.equal((await axios.get(`${webhook.url}/healthz`, { validateStatus: () => true })).status, 200));
      await server.stop();
      server = undefined;
      // the webhook notices within a probe's interval, and says so
      await eventually(
        async () => assert.equal((await axios.get(`${webhook.url}/healthz`, { validateStatus: () => true })).status, 503),
        5_000,
      );

      const body = JSON.stringify({ events: [taskEvent('8080808080')] });
      const headers = { 'x-hook-signature': signDelivery(ownSecret, body) };
      const started = Date.now();
      const refused = await post(body, headers, target);
      assert.equal(refused.status, 503);
      assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms; Asana gives up at 10 s`);

      server = await startDevServer({ port, dbFilename });
      // Asana retries the same bytes; once Temporal answers again, they go through.
      await eventually(async () => assert.equal((await post(body, headers, target)).status, 200), 60_000, 1000);
      const description = await eventually(() => server!.env.client.workflow.getHandle(taskWorkflowId('8080808080')).describe());
      assert.equal(description.type, 'syncTaskWorkflow');
    } finally {
      await webhook.close();
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
