/** A flood of large signed deliveries meets bounds in events, not deliveries: the webhook stays small, answers and stops. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { startDevServer, type DevServer } from '../lib/dev-server';
import { floodDelivery, signDelivery } from '../sandbox/asana';
import { MAX_BODY_BYTES } from '../webhook/app';
import { SecretStore, webhookUrl } from '../lib/webhook-secrets';
import { freePort } from './support/ports';
import { spawnEntry } from './support/processes';
import { eventually } from './support/stack';

const PROJECT = '1200000000000001';

describe('webhook: a flood of 1 MiB deliveries', function () {
  this.timeout(180_000);
  let dir: string;
  let temporal: DevServer;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'flood-'));
    temporal = await startDevServer({ port: await freePort() }); // its own: the flood's workflows go with it
  });
  after(async () => {
    await temporal.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps a 128 MB heap, answers /healthz within 50 ms, refuses what does not fit, and stops promptly on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const webhook = spawnEntry(
      'webhook/main.ts',
      {
        ASANA_PROJECT_GIDS: PROJECT,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_TASK_QUEUE: 'flood',
        PORT: String(port),
        DATA_DIR: dir,
        LOG_LEVEL: 'warn',
      },
      ['--max-old-space-size=128'],
    );
    const exited = once(webhook, 'exit');
    try {
      await eventually(async () => assert.equal((await axios.get(`${base}/healthz`)).status, 200), 60_000, 250);
      const url = webhookUrl(base, PROJECT, await new SecretStore(dir).openRegistration(PROJECT, 60_000));
      const secret = randomBytes(32).toString('hex');
      assert.equal((await axios.post(url, '', { headers: { 'x-hook-secret': secret } })).status, 200);

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

      const latencies: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const started = performance.now();
        await axios.get(`${base}/healthz`, { validateStatus: () => true });
        latencies.push(performance.now() - started);
      }
      latencies.sort((a, b) => a - b);
      assert.ok(latencies[2] < 50, `/healthz took ${latencies.map(Math.round).join(', ')} ms`);
      const metrics = (await axios.get<string>(`${base}/metrics`)).data;
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
});
