/**
 * What needs the whole stack: the server's timeouts, a restart, a Temporal outage. The answers to
 * every kind of request are in webhook-app.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { signDelivery } from '../emulators/asana';
import type { DevServer } from '../temporal/dev-server';
import { startTestServer } from './support/temporal';
import { createLogger } from '../lib/logger';
import { startWebhookServer } from '../webhook/server';
import { SecretStore, webhookUrl } from '../asana/webhook-secrets';
import { taskWorkflowId } from '../client';
import { postBody, taskEvent } from './support/deliveries';
import { freePort } from './support/ports';
import { eventually, startStack, type Stack } from './support/stack';
import { openServices } from '../services';

describe('webhook server: slow requests, restarts and Temporal outages, on the whole stack', function () {
  let stack: Stack;
  let url: string;

  before(async () => {
    stack = await startStack();
    ({ target: url } = await stack.registerWebhook());
  });
  after(() => stack.stop());

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
    stack.webhook = await startWebhookServer({ ...stack.services, config: { ...stack.config, port } });
    const task = stack.asana.createTask(stack.project.gid, { name: 'After restart' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    assert.ok(stack.asana.deliveries.filter((d) => d.status === 200).length > 0);
  });

  it('answers 503 while Temporal is down, and takes the same delivery once it is back', async function () {
    this.timeout(120_000);
    const dir = await mkdtemp(path.join(tmpdir(), 'temporal-down-'));
    const port = await freePort();
    const dbFilename = path.join(dir, 'temporal.db');
    let server: DevServer | undefined = await startTestServer({ port, dbFilename });
    // a process of its own: its Temporal is the server this test stops and starts again
    const services = await openServices(
      {
        ...stack.config,
        asana: { ...stack.config.asana, projectGids: ['31337'] },
        port: 0,
        dataDir: dir,
        temporal: { ...stack.config.temporal, address: `127.0.0.1:${port}` },
      },
      createLogger('silent', 'test'),
    );
    const webhook = await startWebhookServer(services);
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
      const refused = await postBody(target, body, headers);
      assert.equal(refused.status, 503);
      assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms; Asana gives up at 10 s`);

      server = await startTestServer({ port, dbFilename });
      // Asana retries the same bytes; once Temporal answers again, they go through.
      await eventually(async () => assert.equal((await postBody(target, body, headers)).status, 200), 60_000, 1000);
      const description = await eventually(() => server!.env.client.workflow.getHandle(taskWorkflowId('8080808080')).describe());
      assert.equal(description.type, 'syncTaskWorkflow');
    } finally {
      await webhook.close();
      await services.close();
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
