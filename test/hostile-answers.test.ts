/**
 * What Asana answers can neither hold the service back nor bring it down: one 429 asking to wait
 * for years delays a row by the ceiling on waits at most, and a worker waiting it out still stops
 * at once on SIGTERM; a 200 MB answer, or pages without end, to the webhook process's health check
 * end that check with a clear failure while the webhook goes on answering /healthz and deliveries.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { webhookTaskQueue } from '../client';
import { signDelivery } from '../emulators/asana';
import { emulatorEnv } from '../emulators/env';
import { SecretStore, webhookUrl } from '../asana/webhook-secrets';
import { MAX_WAIT_MS } from '../lib/waits';
import { webhookHealthWorkflow } from '../workflows';
import { taskEvent } from './support/deliveries';
import { freePort } from './support/ports';
import { spawnEntry } from './support/processes';
import { forwardRequest } from './support/proxy';
import { BASE_ID, eventually, startStack, type Stack } from './support/stack';

/** A sync's read of one task. */
const TASK_READ = /^GET \/api\/1\.0\/tasks\/\d+$/;

/** When `child` exits, or undefined if it is still running after `ms`. */
async function exitWithin(child: ChildProcess, ms: number): Promise<{ code: number | null; afterMs: number } | undefined> {
  const start = Date.now();
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number | null, afterMs: Date.now() - start }));
  return Promise.race([exited, sleep(ms).then(() => undefined)]);
}

describe('a 429 asking to wait for years', function () {
  this.timeout(300_000);
  let stack: Stack;
  let worker: ChildProcess | undefined;
  const rowOf = (gid: string) => stack.rows().find((r) => r['Task ID'] === gid);
  const answered429 = () => stack.asana.count((r) => r.status === 429);

  /** The real worker (whose SIGTERM is the one to honour), once it has synced a task. */
  async function startWorker(): Promise<ChildProcess> {
    const child = stack.spawnWorker();
    const first = stack.asana.createTask(stack.project.gid, { name: 'Before the 429' });
    await eventually(() => assert.ok(rowOf(first.gid)), 90_000, 250);
    return child;
  }

  /** Answers the next read of a task with a 429 asking to wait for years; resolves once it has. */
  async function rateLimitedRead(name: string) {
    const before = answered429();
    stack.asana.inject({
      status: 429,
      headers: { 'retry-after': '99999999' },
      body: { errors: [{ message: 'You have made too many requests recently.' }] },
      match: TASK_READ,
      times: 1,
    });
    const task = stack.asana.createTask(stack.project.gid, { name });
    await eventually(() => assert.equal(answered429(), before + 1), 20_000);
    return task;
  }

  before(async () => {
    stack = await startStack({ inProcessWorker: false });
    await stack.registerWebhook();
  });
  afterEach(() => worker?.kill('SIGKILL'));
  after(() => stack.stop());

  it('delays the rows of the task it answered and of a task created after it by the ceiling on waits, not years', async () => {
    worker = await startWorker();
    const limited = await rateLimitedRead('Answered 429');
    const since = Date.now();
    const next = stack.asana.createTask(stack.project.gid, { name: 'Created after the 429' });
    await eventually(() => assert.ok(rowOf(limited.gid) && rowOf(next.gid)), 2 * 60_000, 250);
    const delay = Date.now() - since;
    assert.ok(delay <= MAX_WAIT_MS + 15_000, `the rows came ${delay} ms after the 429`);
  });

  it('leaves SIGTERM honoured within 10 s while a sync waits out the pause; another worker then syncs the task', async () => {
    worker = await startWorker();
    await rateLimitedRead('Answered 429 before SIGTERM');
    const waiting = stack.asana.createTask(stack.project.gid, { name: 'Waiting when the worker stops' });
    await sleep(3_000); // its sync now waits for the pause to end
    assert.equal(rowOf(waiting.gid), undefined, 'the pause holds the sync');
    worker.kill('SIGTERM');
    const exit = await exitWithin(worker, 10_000);
    assert.ok(exit !== undefined, 'the worker still runs 10 s after SIGTERM');
    assert.equal(exit.code, 0);
    worker = stack.spawnWorker();
    await eventually(() => assert.ok(rowOf(waiting.gid)), 60_000, 250);
  });
});

type Mode = 'honest' | 'huge' | 'endless';

/** Asana as whatever answers at ASANA_BASE_URL may: the emulator behind it, except for the listing of webhooks, which `mode` says. */
async function hostileAsana(upstream: string) {
  const state = { mode: 'honest' as Mode, pages: 0, bytes: 0 };
  const hostilePage = (res: ServerResponse) => {
    state.pages += 1;
    const hooks = Array.from({ length: 100 }, (_, i) => ({ gid: `${i + 1}`, active: true, last_failure_content: 'x'.repeat(10_000) }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: hooks, next_page: { offset: `page-${state.pages}` } }));
  };
  const huge = (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.on('error', () => undefined);
    const chunk = Buffer.from('{},'.repeat(100_000));
    res.write('{"data":[');
    const more = () => {
      while (state.bytes < 200 * 2 ** 20) {
        state.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end('{}]}');
    };
    more();
  };
  const server = http.createServer((req, res) => {
    if (state.mode !== 'honest' && req.method === 'GET' && req.url?.startsWith('/api/1.0/webhooks?'))
      return state.mode === 'huge' ? huge(res) : hostilePage(res);
    forwardRequest(upstream, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("hostile answers to the webhook process's calls to Asana", function () {
  this.timeout(300_000);
  let stack: Stack;
  let front: Awaited<ReturnType<typeof hostileAsana>>;
  let webhook: ChildProcess;
  let dataDir: string;
  let base: string;
  let target: string;
  let secret: string;

  before(async () => {
    stack = await startStack(); // its worker runs the health workflow; the webhook process takes the check
    front = await hostileAsana(stack.asana.url);
  });
  after(async () => {
    await front.close();
    await stack.stop();
  });

  /** The webhook process, on the heap of a small container, with a webhook of Asana's registered on it. */
  beforeEach(async () => {
    front.state.mode = 'honest';
    dataDir = await mkdtemp(path.join(tmpdir(), 'hostile-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      ...emulatorEnv(stack.asana, stack.airtable, BASE_ID, stack.project.gid),
      ASANA_BASE_URL: `${front.url}/api/1.0`,
      TEMPORAL_ADDRESS: stack.config.temporal.address!,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      PORT: String(port),
      PUBLIC_URL: base, // so it takes the health checks
      DATA_DIR: dataDir,
      WEBHOOK_METRICS_PORT: '0',
      LOG_LEVEL: 'silent',
    };
    webhook = spawnEntry('webhook/main.ts', env, ['--max-old-space-size=256']);
    await eventually(async () => assert.equal((await axios.get(`${base}/healthz`)).status, 200), 60_000, 250);
    target = webhookUrl(base, stack.project.gid, await new SecretStore(dataDir).openRegistration(stack.project.gid, 60_000));
    secret = randomBytes(32).toString('hex');
    assert.equal((await axios.post(target, '', { headers: { 'x-hook-secret': secret } })).status, 200);
  });
  afterEach(async () => {
    if (webhook.exitCode === null && webhook.signalCode === null) {
      webhook.kill('SIGKILL');
      await once(webhook, 'exit');
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Runs the webhook health check, as its schedule does; what it failed with, or undefined for a report or no end within 90 s. */
  async function healthCheckFailure(): Promise<Error | undefined> {
    const run = stack.client.workflow.execute(webhookHealthWorkflow, {
      workflowId: `hostile-health-${randomUUID()}`,
      taskQueue: stack.config.temporal.taskQueue,
      args: [{ taskQueue: webhookTaskQueue(stack.config.temporal.taskQueue) }],
    });
    return Promise.race([
      run.then(
        () => undefined,
        (err: Error) => err,
      ),
      sleep(90_000).then(() => undefined),
    ]);
  }

  /** The webhook runs, and answers /healthz and a signed delivery. */
  async function stillAnswering(): Promise<void> {
    assert.equal(webhook.exitCode, null, 'the webhook process ended');
    assert.equal((await axios.get(`${base}/healthz`, { timeout: 5_000 })).status, 200);
    const task = stack.asana.createTask(stack.project.gid, { name: 'Delivered meanwhile' });
    const body = JSON.stringify({ events: [taskEvent(task.gid, { parent: { gid: stack.project.gid, resource_type: 'project' } })] });
    const delivery = await axios.post(target, body, {
      headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
      timeout: 5_000,
    });
    assert.equal(delivery.status, 200);
  }

  /** The messages of a failure and of its causes, outermost first. */
  const failureText = (err: Error | undefined): string => {
    const messages: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message);
    return messages.join(': ');
  };

  it('ends the check on a 200 MB answer to GET /webhooks, having read a fraction of it, and keeps answering', async () => {
    front.state.mode = 'huge';
    const failure = await healthCheckFailure();
    assert.match(failureText(failure), /out of bounds/, failureText(failure));
    assert.ok(front.state.bytes < 100 * 2 ** 20, `Asana wrote ${front.state.bytes} bytes`);
    await stillAnswering();
  });

  it('ends the check on pages of webhooks that never end, after a bounded listing, and keeps answering', async () => {
    front.state.mode = 'endless';
    const failure = await healthCheckFailure();
    assert.match(failureText(failure), /out of bounds/, failureText(failure));
    assert.ok(front.state.pages <= 100, `${front.state.pages} pages read`);
    await stillAnswering();
  });
});
