/**
 * Floods the webhook as a stranger or a leaked secret could: large signed deliveries meet bounds in
 * events, not deliveries, and clients that pipeline requests without reading the answers are
 * dropped; the webhook stays small, answers and stops.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { DevServer } from '../temporal/dev-server';
import { startTestServer } from './support/temporal';
import { floodDelivery, signDelivery } from '../emulators/asana';
import { MAX_BODY_BYTES } from '../webhook/app';
import { SecretStore, webhookUrl } from '../asana/webhook-secrets';
import { freePort } from './support/ports';
import { createPublicServer, UNREAD_MS } from '../webhook/server';
import { spawnEntry } from './support/processes';
import { eventually } from './support/stack';

const PROJECT = '1200000000000001';

/** Opens a connection that sends these GETs pipelined in one write and never reads a byte of the answers. */
async function nonReader(port: number, paths: string[]): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // a dropped client may see a reset
  await once(socket, 'connect');
  socket.pause();
  socket.write(paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
  return socket;
}

/** Reads what is left of a connection: resolves with the answers' count when the server has closed it, undefined if it is still open after `ms`. */
async function closedWithin(socket: Socket, ms: number): Promise<number | undefined> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.resume();
  const closed = socket.destroyed || (await Promise.race([once(socket, 'close').then(() => true), sleep(ms).then(() => false)]));
  socket.destroy();
  return closed ? text.split('HTTP/1.1 ').length - 1 : undefined;
}

describe('webhook: floods', function () {
  this.timeout(180_000);
  let dir: string;
  let temporal: DevServer;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flood-'));
    temporal = await startTestServer({ port: await freePort() }); // its own: the flood's workflows go with it
  });
  after(async () => {
    await temporal.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The median time of five /healthz answers. */
  async function healthzMedianMs(base: string): Promise<number> {
    const latencies: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      await axios.get(`${base}/healthz`, { validateStatus: () => true });
      latencies.push(performance.now() - started);
    }
    return latencies.sort((a, b) => a - b)[2];
  }

  /** Runs webhook/main.ts with a 128 MB heap and a DATA_DIR of its own, once its /healthz answers 200. */
  async function startWebhook(name: string, metricsPort = 0) {
    const port = await freePort();
    const dataDir = path.join(dir, name);
    const child = spawnEntry(
      'webhook/main.ts',
      {
        ASANA_PROJECT_GIDS: PROJECT,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_TASK_QUEUE: 'flood',
        PORT: String(port),
        WEBHOOK_METRICS_PORT: String(metricsPort),
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
      ['--max-old-space-size=128'],
    );
    const exited = once(child, 'exit');
    const base = `http://127.0.0.1:${port}`;
    await eventually(async () => assert.equal((await axios.get(`${base}/healthz`)).status, 200), 60_000, 250);
    return { webhook: child, exited, port, base, dataDir };
  }

  it('keeps a 128 MB heap, answers /healthz as fast as at idle, refuses what does not fit, and stops promptly on SIGTERM', async () => {
    const metricsPort = await freePort();
    const { webhook, exited, base, dataDir } = await startWebhook('deliveries', metricsPort);
    try {
      const url = webhookUrl(base, PROJECT, await new SecretStore(dataDir).openRegistration(PROJECT, 60_000));
      const secret = randomBytes(32).toString('hex');
      assert.equal((await axios.post(url, '', { headers: { 'x-hook-secret': secret } })).status, 200);

      const idle = await healthzMedianMs(base);
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) {
        const body = floodDelivery(1_000_000_000_000 + i * 100_000, MAX_BODY_BYTES);
        const response = await axios.post(url, body, {
          headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
          validateStatus: () => true,
          maxBodyLength: Infinity,
        });
        statuses.push(response.status);
      }
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        statuses.join(),
      );
      assert.ok(statuses.includes(200) && statuses.includes(503), `the backlog bound refuses what does not fit: ${statuses.join()}`);
      assert.equal(webhook.exitCode, null, 'the webhook is still running');

      // Compared with this machine's own idle answer: a wedged or swapping webhook is 10 times slower.
      const loaded = await healthzMedianMs(base);
      assert.ok(loaded < Math.max(10 * idle, 50), `/healthz took ${loaded.toFixed(1)} ms, ${idle.toFixed(1)} ms at idle`);
      const metrics = (await axios.get<string>(`http://127.0.0.1:${metricsPort}/metrics`)).data;
      const heapMb = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)![1]) / 2 ** 20;
      assert.ok(heapMb < 100, `heap ${heapMb.toFixed(0)} MB`);

      const stopping = Date.now();
      webhook.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      assert.ok(Date.now() - stopping < 15_000, `stopped after ${Date.now() - stopping} ms`);
    } finally {
      if (webhook.exitCode === null) webhook.kill('SIGKILL');
    }
  });

  it('drops clients that pipeline 1,500 GETs and never read the answers, and stays alive on a 128 MB heap, answering /healthz', async () => {
    const { webhook, port, base } = await startWebhook('non-readers');
    try {
      assert.equal((await axios.get(`${base}/metrics`, { validateStatus: () => true })).status, 404, 'no metrics on the public port');
      const paths = Array.from({ length: 1_500 }, (_, i) => (i % 2 === 0 ? '/healthz' : '/metrics'));
      for (const count of [2, 20]) {
        const sockets = await Promise.all(Array.from({ length: count }, () => nonReader(port, paths)));
        await sleep(UNREAD_MS + 2_000);
        assert.equal(webhook.exitCode, null, `the webhook is still running after ${count} non-readers`);
        assert.equal((await axios.get(`${base}/healthz`, { timeout: 5_000 })).status, 200);
        const answers = await Promise.all(sockets.map((socket) => closedWithin(socket, 1_000)));
        assert.ok(
          answers.every((n) => n !== undefined && n < paths.length),
          `answers each non-reader got before the webhook closed it (blank: still open): ${answers.join()}`,
        );
      }
    } finally {
      webhook.kill('SIGKILL');
    }
  });
});

describe('webhook server: a client that does not read its answers', () => {
  it('is dropped within seconds, though it sent a single request', async function () {
    this.timeout(30_000);
    const answer = Buffer.alloc(8 * 2 ** 20); // more than the kernel's buffers hold: the rest waits in the process
    const server = createPublicServer(async (_req, res) => {
      res.end(answer);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = await nonReader((server.address() as AddressInfo).port, ['/']);
      await sleep(UNREAD_MS + 2_000);
      assert.notEqual(await closedWithin(socket, 1_000), undefined, 'the connection is still open');
    } finally {
      server.close();
    }
  });
});
