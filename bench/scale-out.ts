/**
 * Scale-out (`--scale-out`): a burst of 1,000 new tasks (200 with --quick) synced by 1, 2 and 3
 * identical worker processes that share their budgets through Redis (REDIS_URL), each count with
 * and without one worker killed (SIGKILL) 5 s into the burst (1 s with --quick); first, one worker
 * on its own pacer (no REDIS_URL), as before. The webhook runs as its own process; the emulators
 * enforce the APIs' real limits (Airtable 5 requests/s with its 30 s lock-out, Asana 1,500
 * requests/min). A lone worker killed is restarted at once, as compose's `restart: unless-stopped`
 * does; two or three are not: the survivors take over. Each row's workers start fresh and sync a
 * burst of 100 tasks before the measured one.
 *
 * Run with `npm run bench -- --scale-out [--topology …] [--quick] [--only TEXT]` (needs Redis:
 * REDIS_URL, or the one on 127.0.0.1:6379).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import Redis from 'ioredis';
import { readEnv } from '../config';
import { configuredFilters, registerWebhook } from '../asana/webhooks';
import { AsanaApi } from '../asana/api';
import { entryArgs, REPO_ROOT } from '../lib/runtime-paths';
import { SharedBudgets } from '../budgets/shared-pacer';
import { SecretStore } from '../asana/webhook-secrets';
import { AirtableEmulator } from '../emulators/airtable';
import { AsanaEmulator } from '../emulators/asana';
import { emulatorEnv } from '../emulators/env';
import { scheduleId } from '../client';
import { burst, sleep, TABLE, until, untilNoneRunning, type BurstOutcome } from './burst';
import { composeCpuShares, niceForShares, setGroupNice } from './cpu-weight';
import { floorMs } from './matrix';
import { pollerPid, workflowPollers } from '../temporal/connection';
import { Budgets } from '../budgets';

const BASE = 'appBENCHSCALEOUT1';
const TASK_QUEUE = 'bench-scale-out';
/** The kill comes a quarter into the floor: 5 s into a burst of 1,000. */
const KILL_AT_FLOOR = 0.25;
/** Each row: how many workers, whether one is killed, whether they share budgets (the first row is the single worker as before). */
const SCENARIOS = [
  { workers: 1, kill: false, shared: false },
  ...[1, 2, 3].flatMap((workers) => [false, true].map((kill) => ({ workers, kill, shared: true }))),
];
/** The burst each row's workers sync before the measured one. */
const WARM_UP_TASKS = 100;
/** Goals, in multiples of the floor: a burst near it whatever the number of workers; a kill costs seconds. */
const GOAL = { steady: 1.1, killed: 1.25 };

export interface ScaleOutOptions {
  /** The Temporal server the bench runs on (`--topology` in run.ts). */
  temporalAddress: string;
  /** For the processes' logs. */
  dir: string;
  quick?: boolean;
  redisUrl?: string;
  /** Runs only the rows whose label holds this text (`--only "3 workers"`). */
  only?: string;
  /** Told of each step. */
  progress?: (line: string) => void;
}

export interface ScaleOutTable {
  title: string;
  columns: string[];
  rows: string[][];
}

/** A service process in a session of its own, with the CPU weight docker-compose.yml gives its service (cpu-weight.ts). */
function startService(service: 'worker' | 'webhook', env: Record<string, string>, logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  const child = spawn(process.execPath, entryArgs(`${service}/main.ts`), {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', log, log],
    detached: true,
  });
  setGroupNice(child.pid!, niceForShares(composeCpuShares(service)));
  return child;
}

async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** What Redis has run of the budgets' scripts so far: calls, and the server's microseconds a call. */
async function scriptStats(redis: Redis): Promise<{ calls: number; usec: number }> {
  const line = /^cmdstat_evalsha:calls=(\d+),usec=(\d+)/m.exec(await redis.info('commandstats'));
  return { calls: Number(line?.[1] ?? 0), usec: Number(line?.[2] ?? 0) };
}

/** What a grant costs a request that need not wait: acquire, from this process, on a budget of its own (a fresh one each time). */
async function grantCost(redisUrl: string, count: number): Promise<{ p50: number; p99: number }> {
  const budgets = await SharedBudgets.connect(redisUrl, { keyPrefix: `bench-grant-cost:${randomUUID()}:` });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const pacer = budgets.pacer({ name: `airtable:cost${i}`, perSecond: 5 });
      const started = process.hrtime.bigint();
      const release = await pacer.acquire();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      release();
    }
  } finally {
    await budgets.close();
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(count / 2)], p99: times[Math.floor(count * 0.99)] };
}

export async function scaleOut(options: ScaleOutOptions): Promise<ScaleOutTable> {
  const progress = options.progress ?? (() => undefined);
  const redisUrl = options.redisUrl ?? readEnv().REDIS_URL ?? 'redis://127.0.0.1:6379';
  const count = options.quick ? 200 : 1000;
  const floor = floorMs(count);
  const killAtMs = KILL_AT_FLOOR * floor;
  const asana = new AsanaEmulator({ rateLimitPerMinute: 1500, deliveryBatchSize: 100, retryBaseMs: 1000, maxDeliveryAttempts: 6 });
  const airtable = new AirtableEmulator({ requestsPerSecond: 5, lockoutMs: 30_000 });
  await Promise.all([asana.listen(), airtable.listen()]);
  airtable.createTable(BASE, TABLE);
  const project = asana.addProject('Scale-out');
  const port = 4000 + Math.floor(Math.random() * 900);
  const env = {
    PATH: readEnv().PATH ?? '',
    HOME: readEnv().HOME ?? '/tmp',
    ...emulatorEnv(asana, airtable, BASE, project.gid),
    TEMPORAL_ADDRESS: options.temporalAddress,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: `bench-scale-out:${randomUUID()}:`,
    PORT: String(port),
    DATA_DIR: options.dir,
    LOG_LEVEL: 'warn',
    WORKER_METRICS_PORT: '0',
    WEBHOOK_METRICS_PORT: '0',
  };
  // measured first, while nothing else runs
  const cost = await grantCost(redisUrl, 2000);
  progress(`a grant that need not wait, from one process: p50 ${cost.p50.toFixed(2)} ms, p99 ${cost.p99.toFixed(2)} ms`);
  const redis = new Redis(redisUrl);
  const client = new Client({ connection: await Connection.connect({ address: options.temporalAddress }) });
  const webhook = startService('webhook', env, path.join(options.dir, 'webhook.log'));
  let workers: ChildProcess[] = [];
  let started = 0;
  /** Whether these worker processes all poll the task queue: they have started. */
  const polling = async (pids: number[]) => {
    const polled = new Set((await workflowPollers(client.connection, 'default', TASK_QUEUE)).map(pollerPid));
    return pids.every((pid) => polled.has(pid));
  };
  const rows: string[][] = [];
  try {
    let registered = false;
    for (const { workers: size, kill, shared } of SCENARIOS) {
      const label = `${size} worker${size > 1 ? 's' : ''}${shared ? '' : ', its own pacer (no REDIS_URL)'}${kill ? `, one killed at ${killAtMs / 1000} s` : ''}`;
      if (options.only !== undefined && !label.includes(options.only)) continue;
      const rowEnv: Record<string, string> = shared ? env : { ...env, REDIS_URL: '' };
      const startWorker = () => startService('worker', rowEnv, path.join(options.dir, `worker-${(started += 1)}.log`));
      workers = Array.from({ length: size }, startWorker);
      if (!(await until(() => polling(workers.map((w) => w.pid!)), 180_000, 500)))
        throw new Error(`the workers did not start; see ${options.dir}/worker-*.log`);
      if (!registered) {
        if (
          !(await until(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200, 60_000, 250))
        )
          throw new Error(`the webhook did not start; see ${options.dir}/webhook.log`);
        // the bench measures bursts alone: the schedules the workers made would only add reconciles
        for (const mode of ['incremental', 'full'] as const)
          await client.schedule.getHandle(scheduleId(project.gid, mode)).pause('the bench measures bursts only');
        const api = new AsanaApi({ baseUrl: asana.baseUrl, accessToken: asana.token, requestsPerMinute: 1500 }, new Budgets());
        await registerWebhook(api, new SecretStore(options.dir), project.gid, `http://127.0.0.1:${port}`, configuredFilters(undefined));
        registered = true;
      }
      // Warm workers, as the main bench's is by the scenarios before its burst: a cold one compiles
      // its code while it syncs, and on 2 cores that CPU comes out of the burst.
      await burst(asana, airtable, BASE, project.gid, WARM_UP_TASKS, 120_000);
      if (!(await untilNoneRunning(client, TASK_QUEUE))) throw new Error('syncs of the previous row did not finish');
      airtable.clear(BASE, TABLE);
      await sleep(1000); // a clean second of Airtable's rate
      progress(`${label}: burst of ${count}`);
      const scriptsBefore = await scriptStats(redis);
      const killer = !kill
        ? undefined
        : setTimeout(() => {
            workers[0].kill('SIGKILL');
            if (size === 1) workers.push(startWorker()); // compose restarts a lone worker; survivors need no help
          }, killAtMs);
      const outcome: BurstOutcome = await burst(asana, airtable, BASE, project.gid, count, 120_000);
      clearTimeout(killer);
      const scripts = await scriptStats(redis);
      const calls = scripts.calls - scriptsBefore.calls;
      const goal = kill ? (size > 1 ? GOAL.killed : undefined) : GOAL.steady;
      const exact = outcome.duplicates + outcome.lost + outcome.wrong === 0;
      const inTime = goal === undefined || (outcome.convergeMs !== undefined && outcome.convergeMs <= goal * floor);
      rows.push([
        label,
        outcome.convergeMs === undefined ? 'did not converge in 120 s' : `${(outcome.convergeMs / 1000).toFixed(1)} s`,
        outcome.convergeMs === undefined ? '-' : (outcome.convergeMs / floor).toFixed(2),
        String(outcome.airtableRequests),
        String(outcome.rateLimited),
        `${outcome.duplicates} / ${outcome.lost} / ${outcome.wrong}`,
        `${calls}, ${calls === 0 ? '-' : ((scripts.usec - scriptsBefore.usec) / calls).toFixed(1)} µs each`,
        goal === undefined ? 'exact rows, 0 × 429' : `≤ ${goal.toFixed(2)} × floor, exact rows, 0 × 429`,
        inTime && exact && outcome.rateLimited === 0 ? 'yes' : '**no**',
      ]);
      const writes = outcome.writes
        ? `, written from ${(outcome.writes.first / 1000).toFixed(1)} s to ${(outcome.writes.last / 1000).toFixed(1)} s (longest pause ${outcome.writes.longestPause.ms} ms at ${(outcome.writes.longestPause.at / 1000).toFixed(1)} s)`
        : '';
      progress(`${rows[rows.length - 1].join(' | ')}; ${outcome.asanaRequests} Asana requests${writes}`);
      await Promise.all(workers.map(stopService));
    }
    return {
      title: `Scale-out: a burst of ${count} new tasks, workers sharing their budgets through Redis (floor ${(floor / 1000).toFixed(1)} s; a grant that need not wait costs a worker p50 ${cost.p50.toFixed(2)} ms, p99 ${cost.p99.toFixed(2)} ms)`,
      columns: ['workers', 'converged', '× floor', 'Airtable req', '429', 'dup / lost / wrong', 'Redis script calls', 'goal', 'met'],
      rows,
    };
  } finally {
    await Promise.all([...workers, webhook].map(stopService));
    await client.connection.close();
    redis.disconnect();
    await Promise.all([asana.close(), airtable.close()]);
  }
}
