/**
 * `npm run bench:server [-- --tasks 500 --rounds 2 --only <text>]`: what one sync costs the Temporal server alone,
 * by how the embedded server keeps its SQLite file. The real sync workflow and the webhook's own
 * start-or-signal call (4 at a time, as its journal forwards), with a stand-in sync activity of
 * 100 ms (no Asana, no Airtable), so the figures are the server's: runs a second, the call's
 * latency, and the server's CPU per run. Variants run in turn, round after round, so a busy
 * machine weighs on each alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { signalTask } from '../client';
import { SQLITE_PRAGMAS, startDevServer } from '../temporal/dev-server';
import { createLogger } from '../lib/logger';
import { DEFAULT_OPTIONS, DYNAMIC_CONFIGS, resetServer, serverBinaries, startServer, type SqlPlugin } from '../temporal/postgres-temporal';
import { awaitSearchAttributes, ensureSearchAttributes } from '../temporal/connection';
import { runMain } from '../lib/run-main';
import { cpuTicks, devServerPid } from './trace';
import { sleep } from './burst';

const TASK_QUEUE = 'bench-server-cost';
const FORWARDS_AT_ONCE = 4;
const SYNC_MS = 100;

/** A Temporal server of one variant, and the processes whose CPU is its cost. */
interface CostedServer {
  address: string;
  /** The server's processes, and its database's (PostgreSQL's backends; none for SQLite, which runs inside the server). */
  pids(): { server: number[]; database: number[] };
  stop(): Promise<void>;
}

/** The embedded dev server, in memory or on a SQLite file with these pragmas. */
async function devServer(dir: string, pragmas?: Record<string, string>): Promise<CostedServer> {
  const server = await startDevServer(pragmas ? { dbFilename: path.join(dir, 'temporal.db'), sqlitePragmas: pragmas } : {});
  const pid = devServerPid(server.address);
  if (pid === undefined) throw new Error(`no dev server process found for ${server.address}`);
  return { address: server.address, pids: () => ({ server: [pid], database: [] }), stop: () => server.stop() };
}

/** Temporal 1.29.1 on the local PostgreSQL, on fresh databases, with one of the dynamic configs and compose's plugin or another. */
async function postgresServer(
  dir: string,
  dynamicConfig: keyof typeof DYNAMIC_CONFIGS,
  plugin: SqlPlugin = DEFAULT_OPTIONS.plugin,
): Promise<CostedServer> {
  const binaries = await serverBinaries();
  if (!binaries) throw new Error('the Temporal server is not built: `npm run provision`');
  const options = { ...DEFAULT_OPTIONS, dir, database: 'temporal_server_cost', port: POSTGRES_PORT, dynamicConfig, plugin };
  await resetServer(binaries, options);
  const server = await startServer(binaries, options);
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  await ensureSearchAttributes(client.connection, 'default');
  await awaitSearchAttributes(client, createLogger('silent', 'bench'));
  await client.connection.close();
  const serverPid = Number(readFileSync(path.join(dir, 'temporal.pid'), 'utf8'));
  return {
    address: server.address,
    pids: () => ({ server: [serverPid], database: processesNamed('postgres') }),
    stop: () => resetServer(binaries, options),
  };
}

/** Frontend port of the PostgreSQL variants (every port of their four services stays below 32768). */
const POSTGRES_PORT = 18233;

const VARIANTS: { label: string; start: (dir: string) => Promise<CostedServer> }[] = [
  {
    label: `dev server, SQLite file, ${Object.entries(SQLITE_PRAGMAS)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} (npm start)`,
    start: (dir) => devServer(dir, SQLITE_PRAGMAS),
  },
  {
    label: 'dev server, SQLite file, journal_mode=wal, synchronous=full',
    start: (dir) => devServer(dir, { journal_mode: 'wal', synchronous: 'full' }),
  },
  { label: 'dev server in memory (reference)', start: (dir) => devServer(dir) },
  { label: "1.29.1 on PostgreSQL, compose's dynamic config, pgx (postgres12_pgx)", start: (dir) => postgresServer(dir, 'compose') },
  {
    label: "1.29.1 on PostgreSQL, compose's dynamic config, lib/pq (postgres12)",
    start: (dir) => postgresServer(dir, 'compose', 'postgres12'),
  },
  { label: '1.29.1 on PostgreSQL, production defaults', start: (dir) => postgresServer(dir, 'production') },
];

/** The pids of the processes of this name (PostgreSQL's backends), for their CPU. */
function processesNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface Outcome {
  perSecond: number;
  callP50: number;
  callP99: number;
  serverCpuMs: number;
  databaseCpuMs: number;
}

async function measure(variant: (typeof VARIANTS)[number], tasks: number): Promise<Outcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'server-cost-'));
  const server = await variant.start(dir);
  let synced = 0;
  const activities = {
    async syncTaskRow(taskGid: string) {
      await sleep(SYNC_MS);
      synced += 1;
      return { name: `Task ${taskGid}`, modifiedAt: new Date().toISOString() };
    },
  };
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue: TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities,
    // as worker/worker.ts sets them
    maxConcurrentWorkflowTaskExecutions: 100,
    nonStickyToStickyPollRatio: 0.8,
  });
  const running = worker.run();
  try {
    const client = new Client({ connection: await Connection.connect({ address: server.address }) });
    const ticks = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const serverTicks = () => {
      const { server: own, database } = server.pids();
      return { server: ticks(own), database: ticks(database) };
    };
    const prefix = String(Date.now());
    let next = 0;
    const latencies: number[] = [];
    const startTicks = serverTicks();
    const started = Date.now();
    await Promise.all(
      Array.from({ length: FORWARDS_AT_ONCE }, async () => {
        while (next < tasks) {
          const n = next++;
          const callStarted = Date.now();
          await signalTask(client, TASK_QUEUE, { taskGid: `${prefix}${n}`, projectGid: '1', receivedAt: Date.now() });
          latencies.push(Date.now() - callStarted);
        }
      }),
    );
    while (synced < tasks) await sleep(20);
    const seconds = (Date.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      perSecond: tasks / seconds,
      callP50: latencies[Math.floor(tasks / 2)],
      callP99: latencies[Math.floor(tasks * 0.99)],
      serverCpuMs: ((serverTicks().server - startTicks.server) * 10) / tasks,
      databaseCpuMs: ((serverTicks().database - startTicks.database) * 10) / tasks,
    };
  } finally {
    worker.shutdown();
    await running;
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { tasks: { type: 'string', default: '500' }, rounds: { type: 'string', default: '2' }, only: { type: 'string' } },
  });
  const variants = VARIANTS.filter((v) => values.only === undefined || v.label.includes(values.only));
  const [tasks, rounds] = [Number(values.tasks), Number(values.rounds)];
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  console.log(`${tasks} syncs a run, ${rounds} rounds; one line a run`);
  const rows: string[][] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of variants) {
      const o = await measure(variant, tasks);
      const row = [
        String(round),
        variant.label,
        o.perSecond.toFixed(1),
        `${o.callP50} / ${o.callP99} ms`,
        o.serverCpuMs.toFixed(1),
        o.databaseCpuMs.toFixed(1),
      ];
      console.log(row.join(' | '));
      rows.push(row);
    }
  }
  console.log('\n| round | Temporal server | syncs a second | start-or-signal p50 / p99 | CPU ms a sync: server | database |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

runMain(main);
