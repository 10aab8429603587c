/**
 * `--trace`: a line every 500 ms while a matrix row (or the burst with ten more columns) runs, of
 * where its tasks are (delivered, signalled, written) and of what the machine and the worker's
 * slots are doing, so a slow row shows which stage held it back. Written to trace-<row>.tsv in the
 * bench's log directory. Counts are totals since the row began; latencies and CPU (Linux's 100
 * ticks a second) are the interval's.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AirtableEmulator } from '../emulators/airtable';
import type { AsanaEmulator } from '../emulators/asana';
import { MAX_RECORDS_PER_REQUEST } from '../airtable/row-writer';
import { TABLE } from './burst';

const INTERVAL_MS = 500;

/** utime + stime of a process, in clock ticks (100 a second); 0 once it is gone. */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** The machine's idle and steal ticks, and all of them. */
function machineTicks(): { idle: number; steal: number; total: number } {
  // user nice system idle iowait irq softirq steal (guest time is counted in user already)
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  return { idle: cpu[3] + cpu[4], steal: cpu[7] ?? 0, total: cpu.reduce((a, b) => a + b, 0) };
}

/** The pid of the Temporal dev server (the CLI's `server start-dev`) listening on `address`. */
export function devServerPid(address: string): number | undefined {
  const port = address.slice(address.lastIndexOf(':') + 1);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.includes('start-dev') && args[args.indexOf('--port') + 1] === port) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** A Prometheus text's samples whose name and labels start with `prefix`, summed. */
function sampleSum(text: string, prefix: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const slots = (text: string, workerType: string): string =>
  new RegExp(`temporal_worker_task_slots_available\\{[^}]*worker_type="${workerType}"[^}]*\\} (\\S+)`).exec(text)?.[1] ?? '-';

export interface TraceSources {
  asana: AsanaEmulator;
  airtable: AirtableEmulator;
  baseId: string;
  webhookMetricsUrl: string;
  workerMetricsUrl: string;
  pids: { worker: number; webhook: number; server?: number };
  dir: string;
}

/** What one sample reads: counts since the row began; CPU ticks and the worker's histograms become the interval's figures below. */
interface Reading {
  at: number;
  webhook: string;
  worker: string;
  signals: number;
  deliveries: number;
  events: number;
  asanaRequests: number;
  airtableWrites: number;
  /** Rows those writes carried, and how many of them carried fewer than a full request's. */
  rowsWritten: number;
  shortWrites: number;
  /** CPU ticks of the worker, the webhook and the server. */
  cpu: [number, number, number];
  machine: { idle: number; steal: number; total: number };
}

type Column = [string, (now: Reading, before: Reading) => string | number];

/** The mean of a worker histogram (ms) over the interval. */
const meanLatency =
  (name: string) =>
  (now: Reading, before: Reading): string => {
    const [a, b] = [now, before].map((r) => ({
      sum: sampleSum(r.worker, `temporal_${name}_sum`),
      count: sampleSum(r.worker, `temporal_${name}_count`),
    }));
    return a.count > b.count ? ((a.sum - b.sum) / (a.count - b.count)).toFixed(0) : '-';
  };

/** The trace's columns: each a name and how a sample and the one before give its value. */
const COLUMNS: Column[] = [
  ['ms', (now) => now.at],
  ['deliveries', (now) => now.deliveries],
  ['events', (now) => now.events],
  ['signals', (now) => now.signals],
  ['backlog', (now) => sampleSum(now.webhook, 'webhook_journal_backlog ')],
  ['wft_slots_free', (now) => slots(now.worker, 'WorkflowWorker')],
  ['la_slots_free', (now) => slots(now.worker, 'LocalActivityWorker')],
  ['wft_sched_ms', meanLatency('workflow_task_schedule_to_start_latency')],
  ['wft_exec_ms', meanLatency('workflow_task_execution_latency')],
  ['asana_requests', (now) => now.asanaRequests],
  ['airtable_writes', (now) => now.airtableWrites],
  ['rows_written', (now) => now.rowsWritten],
  ['short_writes', (now) => now.shortWrites],
  ...(['worker', 'webhook', 'server'] as const).map((name, i): Column => [
    `cpu_${name}_%`,
    // a tick is 10 ms of one core
    (now, before) => ((1000 * (now.cpu[i] - before.cpu[i])) / Math.max(1, now.at - before.at)).toFixed(0),
  ]),
  ...(['idle', 'steal'] as const).map((name): Column => [
    `machine_${name}_%`,
    (now, before) =>
      ((100 * (now.machine[name] - before.machine[name])) / Math.max(1, now.machine.total - before.machine.total)).toFixed(0),
  ]),
];

/** Samples every INTERVAL_MS from now; the function it returns stops and writes trace-<label>.tsv. */
export function startTrace(sources: TraceSources, label: string): () => void {
  const { asana, airtable, baseId, pids } = sources;
  const started = Date.now();
  airtable.exchanges ??= [];
  const since = { deliveries: asana.deliveries.length, asana: asana.requests.length, exchanges: airtable.exchanges.length };
  let signalsBefore: number | undefined;
  const read = async (): Promise<Reading> => {
    const [webhook, worker] = await Promise.all(
      [sources.webhookMetricsUrl, sources.workerMetricsUrl].map((url) =>
        fetch(url).then(
          (r) => r.text(),
          () => '',
        ),
      ),
    );
    const deliveries = asana.deliveries.slice(since.deliveries);
    // the base's answered upserts (PATCH, POST), each with the rows it carried; airtable.js ends their path with a slash
    const tablePath = `/v0/${baseId}/${encodeURIComponent(TABLE)}`;
    const writeSizes = (airtable.exchanges ?? [])
      .slice(since.exchanges)
      .filter((e) => ['PATCH', 'POST'].includes(e.method) && [tablePath, `${tablePath}/`].includes(e.path) && e.status < 300)
      .map((e) => ((JSON.parse(e.body.toString()) as { records?: unknown[] }).records ?? []).length);
    const signals = sampleSum(webhook, 'webhook_workflow_signals_total ');
    signalsBefore ??= signals;
    return {
      at: Date.now() - started,
      webhook,
      worker,
      signals: signals - signalsBefore,
      deliveries: deliveries.length,
      events: deliveries.reduce((n, d) => n + d.events, 0),
      asanaRequests: asana.requests.length - since.asana,
      airtableWrites: writeSizes.length,
      rowsWritten: writeSizes.reduce((a, b) => a + b, 0),
      shortWrites: writeSizes.filter((n) => n < MAX_RECORDS_PER_REQUEST).length,
      cpu: [cpuTicks(pids.worker), cpuTicks(pids.webhook), pids.server === undefined ? 0 : cpuTicks(pids.server)],
      machine: machineTicks(),
    };
  };
  const lines = [COLUMNS.map(([name]) => name).join('\t')];
  let stopped = false;
  const loop = async () => {
    let before = await read();
    while (!stopped) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, before.at + started + INTERVAL_MS - Date.now())));
      const now = await read();
      lines.push(COLUMNS.map(([, value]) => value(now, before)).join('\t'));
      before = now;
    }
  };
  const running = loop();
  return () => {
    stopped = true;
    void running.then(
      () => writeFileSync(path.join(sources.dir, `trace-${label}.tsv`), lines.join('\n') + '\n'),
      (err: unknown) => console.error(`trace ${label} failed: ${(err as Error).message}`),
    );
  };
}
