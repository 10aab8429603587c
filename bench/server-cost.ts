/**
 * `npm run bench:server [-- --tasks 500 --rounds 2]`: what one sync costs the Temporal server alone,
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
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { signalTask } from '../client';
import { SQLITE_PRAGMAS, startDevServer } from '../lib/dev-server';
import { runMain } from '../lib/main';
import { cpuTicks, devServerPid } from './trace';
import { sleep } from './burst';

const TASK_QUEUE = 'bench-server-cost';
const FORWARDS_AT_ONCE = 4;
const SYNC_MS = 100;

/** How the server keeps its state: in memory, or a SQLite file with these pragmas. */
const VARIANTS: { label: string; pragmas?: Record<string, string> }[] = [
  {
    label: `SQLite file, ${Object.entries(SQLITE_PRAGMAS)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} (npm start)`,
    pragmas: SQLITE_PRAGMAS,
  },
  { label: 'SQLite file, journal_mode=wal, synchronous=full', pragmas: { journal_mode: 'wal', synchronous: 'full' } },
  { label: 'in memory (reference)' },
];

interface Outcome {
  perSecond: number;
  callP50: number;
  callP99: number;
  serverCpuMs: number;
}

async function measure(variant: (typeof VARIANTS)[number], tasks: number): Promise<Outcome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'server-cost-'));
  const server = await startDevServer(variant.pragmas ? { dbFilename: path.join(dir, 'temporal.db'), sqlitePragmas: variant.pragmas } : {});
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
    const client = new Client({ connection: server.env.connection });
    const pid = devServerPid(server.address);
    if (pid === undefined) throw new Error(`no dev server process found for ${server.address}`);
    const prefix = String(Date.now());
    let next = 0;
    const latencies: number[] = [];
    const startTicks = cpuTicks(pid);
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
      serverCpuMs: ((cpuTicks(pid) - startTicks) * 10) / tasks,
    };
  } finally {
    worker.shutdown();
    await running;
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tasks: { type: 'string', default: '500' }, rounds: { type: 'string', default: '2' } } });
  const [tasks, rounds] = [Number(values.tasks), Number(values.rounds)];
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  console.log(`${tasks} syncs a run, ${rounds} rounds; one line a run`);
  const rows: string[][] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of VARIANTS) {
      const o = await measure(variant, tasks);
      const row = [String(round), variant.label, o.perSecond.toFixed(1), `${o.callP50} / ${o.callP99} ms`, o.serverCpuMs.toFixed(1)];
      console.log(row.join(' | '));
      rows.push(row);
    }
  }
  console.log('\n| round | Temporal server | syncs a second | start-or-signal p50 / p99 | server CPU ms a sync |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

runMain(main);
