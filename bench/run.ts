/**
 * `npm run bench [-- --topology embedded|postgres|memory] [-- --quick] [-- --bursts] [-- --steady]`:
 * the service at the APIs' real limits (Airtable 5 requests/s per base with its 30 s lock-out,
 * Asana 1,500 requests/min), against the emulators, with the worker and the webhook as separate
 * processes on a real Temporal server (bench/topology.ts; the embedded one by default); then the
 * naive baseline on the same burst. Prints one table per scenario. --quick runs smaller sizes;
 * --bursts: idle latency, steady load, the burst and its matrix only; --steady: idle latency and
 * steady load only; --scale-out: 1, 2 and 3 workers sharing one budget through Redis (REDIS_URL, or
 * the local one), with and without a kill (bench/scale-out.ts), and nothing else.
 */
import type { AsanaTask } from '../rows/asana-task';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, readEnv } from '../config';
import { airtableSetup } from '../cli/airtable';
import { loadColumns } from '../rows/columns-file';
import { rowAsRead, TASK_ID, toTaskRow } from '../rows/columns';
import { burst, sleep, TABLE, until, untilNoneRunning, type BurstOutcome } from './burst';
import { burstGoals, deliveryMatrix, floorMs, meetsGoals } from './matrix';
import { runMain } from '../lib/run-main';
import { entryArgs, REPO_ROOT } from '../lib/runtime-paths';
import { AirtableEmulator } from '../emulators/airtable';
import { AsanaEmulator, floodDelivery, signDelivery } from '../emulators/asana';
import { emulatorEnv } from '../emulators/env';
import { configuredFilters, registerWebhook } from '../asana/webhooks';
import { AsanaApi } from '../asana/api';
import { MAX_BODY_BYTES } from '../webhook/app';
import { SecretStore, webhookUrl } from '../asana/webhook-secrets';
import { scheduleId, startBackfill } from '../client';
import { measureAcks } from './ack-load';
import { composeCpuShares, niceForShares, setGroupNice } from './cpu-weight';
import { startBaseline } from './baseline';
import { devServerPid, startTrace } from './trace';
import { steadyLoad } from './steady';
import { startTopology, TOPOLOGIES, type Topology } from './topology';
import { scaleOut } from './scale-out';
import { pollerPid, workflowPollers } from '../temporal/connection';
import { Budgets } from '../budgets';
import { openServices } from '../services';
import { createLogger } from '../lib/logger';

const SERVICE_BASE = 'appBENCHSERVICE01';
const BASELINE_BASE = 'appBENCHBASELINE1';

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const converge = (o: BurstOutcome) => (o.convergeMs === undefined ? 'did not converge in 120 s' : seconds(o.convergeMs));
const writeSpan = (o: BurstOutcome) =>
  o.writes
    ? `, written from ${seconds(o.writes.first)} to ${seconds(o.writes.last)} (longest pause ${o.writes.longestPause.ms} ms, at ${seconds(o.writes.longestPause.at)})`
    : '';
const benchStarted = Date.now();
/** One line a step, so a long run shows where it is. */
const progress = (line: string) => console.log(`[${seconds(Date.now() - benchStarted).padStart(7)}] ${line}`);

function table(title: string, columns: string[], rows: (string | number)[][]): void {
  const cells = [columns, ...rows.map((r) => r.map(String))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  console.log(`\n${title}`);
  cells.forEach((r, n) => {
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`);
    if (n === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  });
}

/** A service process (worker or webhook), its RSS sampled while it runs. */
class ServiceProcess {
  readonly child: ChildProcess;
  maxRssMb = 0;
  /** The CPU weight docker-compose.yml gives the service. */
  readonly cpuShares: number;
  /** Why the process could not get that weight, if it could not. */
  readonly unweighted?: string;
  private readonly sampler: NodeJS.Timeout;

  constructor(
    readonly service: 'worker' | 'webhook',
    env: Record<string, string>,
    logFile: string,
  ) {
    const log = openSync(logFile, 'a');
    // A session of its own, as each container of docker-compose.yml or each systemd unit has its
    // own cgroup: the kernel then shares the CPU between the processes, not between their threads,
    // by the weight compose gives the service (cpu-weight.ts).
    this.child = spawn(process.execPath, entryArgs(`${service}/main.ts`), {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', log, log],
      detached: true,
    });
    this.cpuShares = composeCpuShares(service);
    this.unweighted = setGroupNice(this.child.pid!, niceForShares(this.cpuShares));
    this.sampler = setInterval(() => this.sample(), 250);
  }

  sample(): number {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1] ?? 0);
      this.maxRssMb = Math.max(this.maxRssMb, kb / 1024);
      return kb / 1024;
    } catch {
      return 0;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

/** The naive baseline takes any handshake; the service's webhooks are registered as `webhooks create` does. */
async function registerBaselineWebhook(asana: AsanaEmulator, projectGid: string, target: string): Promise<string> {
  const response = await fetch(`${asana.baseUrl}/webhooks`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${asana.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { resource: projectGid, target, filters: [{ resource_type: 'task' }] } }),
  });
  if (response.status !== 201) throw new Error(`webhook registration failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { data: { gid: string } }).data.gid;
}

/** Sends `count` 1 MiB signed deliveries of distinct tasks to a webhook process of its own; its answers and peak RSS. */
async function floodWebhook(
  env: Record<string, string>,
  dir: string,
  projectGid: string,
  count: number,
): Promise<{ statuses: Record<number, number>; idleRssMb: number; rssMb: number }> {
  const dataDir = path.join(dir, 'flood');
  await mkdir(dataDir);
  const port = Number(env.PORT) + 1;
  const base = `http://127.0.0.1:${port}`;
  const webhook = new ServiceProcess(
    'webhook',
    { ...env, PORT: String(port), WEBHOOK_METRICS_PORT: '0', DATA_DIR: dataDir, TEMPORAL_TASK_QUEUE: 'bench-flood' },
    path.join(dir, 'flood-webhook.log'),
  );
  const statuses: Record<number, number> = {};
  let idleRssMb = 0;
  try {
    if (!(await until(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200, 60_000, 250)))
      throw new Error('flood webhook did not become ready');
    const url = webhookUrl(base, projectGid, await new SecretStore(dataDir).openRegistration(projectGid, 60_000));
    const secret = randomUUID().replace(/-/g, '');
    await fetch(url, { method: 'POST', headers: { 'x-hook-secret': secret } });
    await sleep(1000);
    idleRssMb = webhook.sample();
    for (let i = 0; i < count; i += 1) {
      const body = floodDelivery(2_000_000_000_000 + i * 100_000, MAX_BODY_BYTES);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
        body,
      });
      await response.arrayBuffer();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    }
    await sleep(2000);
    webhook.sample();
  } finally {
    await webhook.stop();
  }
  return { statuses, idleRssMb, rssMb: webhook.maxRssMb };
}

/** Every scenario, each printed as it ends (the options choose which). */
async function runBench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      bursts: { type: 'boolean', default: false },
      only: { type: 'string' },
      trace: { type: 'boolean', default: false },
      steady: { type: 'boolean', default: false },
      topology: { type: 'string', default: 'embedded' },
      'scale-out': { type: 'boolean', default: false },
    },
  });
  const topology = values.topology as Topology;
  if (!TOPOLOGIES.includes(topology)) throw new Error(`--topology must be one of ${TOPOLOGIES.join(', ')}, got "${values.topology}"`);
  const size = values.quick
    ? { burst: 200, latency: 10, acks: 400, project: 1000, steadyMs: 10_000 }
    : { burst: 1000, latency: 30, acks: 1000, project: 10_000, steadyMs: 60_000 };
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-'));
  progress(`asana-airtable-sync benchmark${values.quick ? ' (quick)' : ''}: logs in ${dir}; every step prints a line`);

  const server = await startTopology(topology, dir);
  progress(`Temporal: ${server.description}`);
  if (values['scale-out']) {
    try {
      const result = await scaleOut({ temporalAddress: server.address, dir, quick: values.quick, only: values.only, progress });
      table(result.title, result.columns, result.rows);
    } finally {
      await server.stop();
    }
    return;
  }
  const asana = new AsanaEmulator({ rateLimitPerMinute: 1500, deliveryBatchSize: 100, retryBaseMs: 1000, maxDeliveryAttempts: 6 });
  const airtable = new AirtableEmulator({ requestsPerSecond: 5, lockoutMs: 30_000 });
  await Promise.all([asana.listen(), airtable.listen()]);
  airtable.createTable(SERVICE_BASE, TABLE);
  airtable.createTable(BASELINE_BASE, TABLE);

  const project = asana.addProject('Burst');
  // the custom fields bench/columns.yml names (the five columns do not read them)
  asana.addCustomField(project.gid, { name: 'Client', resource_subtype: 'enum', options: ['Acme', 'Globex'] });
  asana.addCustomField(project.gid, { name: 'Budget', resource_subtype: 'number', precision: 2 });
  const port = 3900 + Math.floor(Math.random() * 90);
  const env = {
    PATH: readEnv().PATH ?? '',
    HOME: readEnv().HOME ?? '/tmp',
    ...emulatorEnv(asana, airtable, SERVICE_BASE, project.gid),
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: 'bench',
    PORT: String(port),
    DATA_DIR: dir,
    LOG_LEVEL: 'warn',
    WORKER_METRICS_PORT: values.trace ? String(port + 2) : '0',
    WEBHOOK_METRICS_PORT: String(port + 3),
  };
  // compiled, as production runs them, when the bench itself runs compiled (npm run bench)
  let worker = new ServiceProcess('worker', env, path.join(dir, 'worker.log'));
  let webhook = new ServiceProcess('webhook', env, path.join(dir, 'webhook.log'));
  for (const { service, cpuShares, unweighted } of [worker, webhook]) {
    console.log(
      unweighted
        ? `note: the ${service} runs without its compose CPU weight: ${unweighted}`
        : `${service}: cpu_shares ${cpuShares}, as in docker-compose.yml`,
    );
  }
  const webhookUrl = `http://127.0.0.1:${port}`;
  const webhookMetricsUrl = `http://127.0.0.1:${port + 3}/metrics`;
  /** With --trace, what traces a burst of these two processes (bench/trace.ts); else undefined. */
  const traceOf = (tracedWorker: ServiceProcess, tracedWebhook: ServiceProcess) =>
    !values.trace
      ? undefined
      : (label: string) =>
          startTrace(
            {
              asana,
              airtable,
              baseId: SERVICE_BASE,
              webhookMetricsUrl,
              workerMetricsUrl: `http://127.0.0.1:${port + 2}/metrics`,
              pids: { worker: tracedWorker.child.pid!, webhook: tracedWebhook.child.pid!, server: devServerPid(server.address) },
              dir,
            },
            label,
          );
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    if (!(await until(async () => (await fetch(`${webhookUrl}/healthz`).catch(() => undefined))?.status === 200, 60_000, 250)))
      throw new Error('webhook did not become ready');
    /** The values of these metrics of the webhook, as its metrics port gives them now. */
    const webhookMetrics = async (...names: string[]) => {
      const text = await (await fetch(webhookMetricsUrl)).text();
      return names.map((name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN));
    };
    /** Whether the worker process `pid` polls the bench's task queue: it has started. */
    const polledBy = async (pid: number) => {
      return (await workflowPollers(client.connection, 'default', 'bench')).some((identity) => pollerPid(identity) === pid);
    };
    if (!(await until(() => polledBy(worker.child.pid!), 120_000, 250))) throw new Error(`worker did not start; see ${dir}/worker.log`);
    // the bench starts its reconciles itself; the schedules the worker made would only add noise
    for (const mode of ['incremental', 'full'] as const)
      await client.schedule.getHandle(scheduleId(project.gid, mode)).pause('the bench runs its own reconciles');
    await sleep(2000);
    const idleRssMb = worker.sample();
    /** Resolves once no sync is running, so the next scenario measures only itself. */
    const quiet = async () => {
      if (!(await untilNoneRunning(client, 'bench'))) throw new Error('syncs of the previous scenario did not finish');
    };

    const hook = await registerWebhook(
      new AsanaApi({ baseUrl: asana.baseUrl, accessToken: asana.token, requestsPerMinute: 1500 }, new Budgets()),
      new SecretStore(dir),
      project.gid,
      webhookUrl,
      configuredFilters(undefined), // the five columns': the burst with ten more keeps this webhook
    );
    const hookGid = hook.gid;
    // ---- 1. Idle latency, delivery sent → row written, from the first delivery after the worker started ----
    const latencies: number[] = [];
    for (let i = 0; i < size.latency; i += 1) {
      await sleep(300);
      const deliveredBefore = asana.deliveries.length;
      const task = asana.createTask(project.gid, { name: `Latency ${i}` });
      const rows = () => airtable.recordsWhere(SERVICE_BASE, TABLE, TASK_ID, new Set([task.gid]));
      await until(() => rows().length > 0, 10_000, 5);
      const row = rows()[0];
      const delivery = asana.deliveries.slice(deliveredBefore).find((d) => d.webhookGid === hookGid && d.events > 0)!;
      latencies.push(Date.parse(row.createdTime) - delivery.sentAt);
    }

    progress(
      `idle latency: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, first ${latencies[0].toFixed(0)} ms`,
    );

    // ---- 1b. Steady load: 10 and 30 changes a second for a minute each ----
    const steadyGoals = { 10: 400, 30: 1000 };
    const steady = [];
    for (const [perSecond, goalMs] of Object.entries(steadyGoals).map(([rate, goal]) => [Number(rate), goal])) {
      await quiet();
      const outcome = await steadyLoad(asana, airtable, SERVICE_BASE, project.gid, perSecond, size.steadyMs);
      steady.push({ perSecond, goalMs, outcome });
      progress(
        `steady ${perSecond}/s: ${outcome.changes} changes, p50 ${percentile(outcome.latencies, 50)} ms, p99 ${percentile(outcome.latencies, 99)} ms, ${outcome.missed} missed`,
      );
    }
    table(
      `Steady load, change in Asana → row shows it (every fifth change a rename; ${seconds(size.steadyMs)} each)`,
      ['changes a second', 'changes', 'p50', 'p99', 'max', 'missed', 'goal (p99)', 'met'],
      steady.map(({ perSecond, goalMs, outcome: o }) => [
        perSecond,
        o.changes,
        `${percentile(o.latencies, 50)} ms`,
        `${percentile(o.latencies, 99)} ms`,
        `${Math.max(...o.latencies)} ms`,
        o.missed,
        `≤ ${goalMs} ms`,
        o.missed === 0 && percentile(o.latencies, 99) <= goalMs ? 'yes' : '**no**',
      ]),
    );
    if (values.steady) return; // --steady: idle latency and steady load only

    // ---- 2. Burst, service, delivered as Asana does by default (3 events a new task, 100 a delivery) ----
    const service = await burst(asana, airtable, SERVICE_BASE, project.gid, size.burst, 120_000);
    progress(
      `burst: ${converge(service)}, ${service.asanaRequests} Asana and ${service.airtableRequests} Airtable requests${writeSpan(service)}`,
    );

    // ---- 2b. The burst under every delivery pattern ----
    /** Signals the webhook has sent, once its journal has forwarded everything. */
    const signalsSent = async () => {
      await until(async () => (await webhookMetrics('webhook_journal_backlog'))[0] === 0, 60_000, 250);
      return (await webhookMetrics('webhook_workflow_signals_total'))[0];
    };
    const matrix = await deliveryMatrix(
      {
        asana,
        airtable,
        baseId: SERVICE_BASE,
        projectGid: project.gid,
        count: size.burst,
        quiet,
        signalsSent,
        only: values.only,
        trace: traceOf(worker, webhook),
      },
      (row, index, total) =>
        progress(
          `matrix ${index}/${total}, ${row.pattern}: ${converge(row.outcome)}, ${(row.outcome.asanaRequests / size.burst).toFixed(3)} Asana requests a task, ${row.outcome.airtableRequests} Airtable requests, ${row.signals} signals${writeSpan(row.outcome)}`,
        ),
    );
    asana.configure({ newTaskEvents: 3, deliveryBatchSize: 100, listOrder: 'project' });
    const floor = floorMs(size.burst);
    const met = (ok: boolean) => (ok ? 'yes' : '**no**');
    table(
      `Burst of ${size.burst} tasks under every delivery pattern (floor ${seconds(floor)}; goals: ≤ 1.10 × floor, ≤ 0.15 Asana requests a task, ≤ ${burstGoals(size.burst).maxAirtableRequests} Airtable requests, 0 × 429)`,
      ['pattern', 'converged', '× floor', 'Asana req/task', 'Airtable req', 'signals', '429', 'dup / lost / wrong', 'goals met'],
      matrix.map(({ pattern, outcome: o, signals }) => [
        pattern,
        converge(o),
        o.convergeMs === undefined ? '-' : (o.convergeMs / floor).toFixed(2),
        (o.asanaRequests / size.burst).toFixed(3),
        o.airtableRequests,
        signals,
        o.rateLimited,
        `${o.duplicates} / ${o.lost} / ${o.wrong}`,
        met(meetsGoals(o, size.burst)),
      ]),
    );
    // --bursts stops here
    if (!values.bursts) {
      // ---- 3. Webhook acknowledgement at 200 deliveries/s ----
      // prom-client resets its event-loop delay histogram at each scrape: this one starts the window
      const eventLoopLag = async () => {
        const [p99, max] = await webhookMetrics('nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds');
        return { p99: p99 * 1000, max: max * 1000 };
      };
      await eventLoopLag();
      const {
        acks,
        statuses,
        perSecond: ackRate,
        unweighted: senderUnweighted,
      } = await measureAcks({
        url: hook.target,
        secret: asana.webhook(hookGid)!.secret,
        taskGids: asana.taskList(project.gid).map((t) => t.gid),
        count: size.acks,
        perSecond: 200,
      });
      const ackLag = await eventLoopLag();
      // the syncs those deliveries started must finish before the next scenario measures anything
      await quiet();
      progress(`acknowledgements: p50 ${percentile(acks, 50).toFixed(1)} ms, p99 ${percentile(acks, 99).toFixed(1)} ms`);

      // ---- 3b. A flood of 1 MiB deliveries, to a webhook of its own on a task queue no worker polls ----
      const flood = await floodWebhook(env, dir, project.gid, 20);
      progress(`flood: ${JSON.stringify(flood.statuses)}`);

      // ---- 4. Full reconcile of an unchanged project ----
      const big = asana.addProject('Big');
      const bigTasks = Array.from({ length: size.project }, (_, i) =>
        asana.createTask(big.gid, { name: `Big ${i}`, notes: i % 2 ? `n${i}` : '' }),
      );
      airtable.clear(SERVICE_BASE, TABLE);
      airtable.seed(
        SERVICE_BASE,
        TABLE,
        bigTasks.map((t) => rowAsRead(toTaskRow(asana.taskRecord(t.gid) as unknown as AsanaTask))),
      );
      await sleep(31_000); // a clean rate-limit window
      const reconcile = async () => {
        const writesBefore = airtable.writes();
        const limitedBefore = airtable.rateLimited;
        const started = Date.now();
        const result = await (await startBackfill(client, 'bench', { projectGid: big.gid, mode: 'full' }, big.name)).result();
        return {
          ms: Date.now() - started,
          writes: airtable.writes() - writesBefore,
          rateLimited: airtable.rateLimited - limitedBefore,
          result,
        };
      };
      const unchanged = await reconcile();
      progress(`unchanged full reconcile: ${seconds(unchanged.ms)}, ${unchanged.writes} writes`);

      // ---- 5. Backfill into an empty table ----
      airtable.clear(SERVICE_BASE, TABLE);
      worker.maxRssMb = worker.sample();
      const backfill = await reconcile();
      progress(`backfill: ${seconds(backfill.ms)}`);
      const backfillRows = airtable.records(SERVICE_BASE, TABLE);
      const backfillDuplicates = backfillRows.length - new Set(backfillRows.map((r) => r.fields[TASK_ID])).size;

      // ---- 6. Burst, naive baseline ----
      const baseline = await startBaseline({
        asanaBaseUrl: asana.baseUrl,
        asanaToken: asana.token,
        airtableUrl: airtable.url,
        airtableToken: airtable.token,
        baseId: BASELINE_BASE,
        tableName: TABLE,
      });
      await sleep(31_000); // fresh Asana and Airtable windows for the baseline
      const naiveProject = asana.addProject('Naive');
      await registerBaselineWebhook(asana, naiveProject.gid, `${baseline.url}/`);
      const naive = await burst(asana, airtable, BASELINE_BASE, naiveProject.gid, size.burst, 120_000);
      await baseline.close();
      progress(`naive baseline burst: ${converge(naive)}`);

      const ratio = (a: number | undefined, b: number | undefined) =>
        a === undefined || b === undefined || a === 0 ? '-' : `${(b / a).toFixed(1)}×`;
      table(
        `Burst: ${size.burst} new tasks, delivered as Asana does (batched, signed)`,
        ['', 'service', 'naive baseline', 'baseline / service'],
        [
          ['time to converge (all rows exact)', converge(service), converge(naive), ratio(service.convergeMs, naive.convergeMs)],
          ['requests to Asana', service.asanaRequests, naive.asanaRequests, ratio(service.asanaRequests, naive.asanaRequests)],
          [
            'requests to Airtable',
            service.airtableRequests,
            naive.airtableRequests,
            ratio(service.airtableRequests, naive.airtableRequests),
          ],
          ['429 answers', service.rateLimited, naive.rateLimited, '-'],
          ['duplicate rows', service.duplicates, naive.duplicates, '-'],
          ['lost tasks (no row)', service.lost, naive.lost, '-'],
          ['rows with wrong data', service.wrong, naive.wrong, '-'],
        ],
      );
      table(
        'Service, other goals',
        ['measure', 'result', 'goal'],
        [
          [
            `idle latency, delivery sent → row written (${size.latency} tasks), p50`,
            `${percentile(latencies, 50).toFixed(0)} ms`,
            '≤ 300 ms',
          ],
          [
            'idle latency, p99 (the first delivery after the worker started included)',
            `${percentile(latencies, 99).toFixed(0)} ms`,
            '≤ 300 ms',
          ],
          ['idle latency, the first delivery after the worker started', `${latencies[0].toFixed(0)} ms`, ''],
          [
            `webhook acknowledgement at ${ackRate.toFixed(0)} deliveries/s (${size.acks}), p50`,
            `${percentile(acks, 50).toFixed(1)} ms`,
            '',
          ],
          ['webhook acknowledgement, p99', `${percentile(acks, 99).toFixed(1)} ms`, '≤ 50 ms'],
          ['webhook answers', JSON.stringify(statuses), 'all 200'],
          [
            'the sender of those deliveries',
            senderUnweighted
              ? `default CPU weight (${senderUnweighted}): its stalls hide the webhook's`
              : 'high CPU weight: sends on schedule, as Asana does',
            '',
          ],
          ['webhook event-loop delay meanwhile, p99 / max', `${ackLag.p99.toFixed(1)} ms / ${ackLag.max.toFixed(1)} ms`, ''],
          [
            `full reconcile, unchanged ${size.project}-task project`,
            `${seconds(unchanged.ms)}, ${unchanged.writes} writes, ${unchanged.rateLimited} 429s`,
            '≤ 25 s, 0 writes',
          ],
          [
            `backfill of ${size.project} tasks into an empty table`,
            `${seconds(backfill.ms)}, ${backfill.rateLimited} 429s, ${backfill.result.created} created, ${backfillDuplicates} duplicates`,
            '≤ 220 s, 0 429s',
          ],
          [
            'webhook under 20 deliveries of 1 MiB (13,900 new tasks each): answers',
            JSON.stringify(flood.statuses),
            '200 until 20,000 events wait, then 503',
          ],
          ['webhook RSS before that flood → its peak', `${flood.idleRssMb.toFixed(0)} → ${flood.rssMb.toFixed(0)} MB`, '< 300 MB'],
          ['worker RSS, idle after start', `${idleRssMb.toFixed(0)} MB`, ''],
          [`worker peak RSS through the ${size.project}-task backfill`, `${worker.maxRssMb.toFixed(0)} MB`, '< 300 MB'],
        ],
      );
    }

    // ---- Last: the burst with ten more columns (COLUMNS_FILE), on a worker and webhook started with it ----
    await quiet();
    await Promise.all([worker.stop(), webhook.stop()]);
    const columnsEnv = { ...env, COLUMNS_FILE: path.join(REPO_ROOT, 'bench', 'columns.yml'), AIRTABLE_TYPECAST: 'true' };
    const columnsConfig = loadConfig(['asana', 'airtable'], columnsEnv);
    await sleep(2000); // a clean second of the base's rate for setup's requests
    const columnsServices = await openServices(columnsConfig, createLogger('silent', 'bench'));
    await airtableSetup(columnsServices, { out: () => undefined, err: (line) => console.error(line) }, []);
    const columns = await loadColumns(columnsConfig, columnsServices.asana);
    await columnsServices.close();
    worker = new ServiceProcess('worker', columnsEnv, path.join(dir, 'worker-columns.log'));
    webhook = new ServiceProcess('webhook', columnsEnv, path.join(dir, 'webhook-columns.log'));
    const ready = async () =>
      (await polledBy(worker.child.pid!)) && (await fetch(`${webhookUrl}/healthz`).catch(() => undefined))?.status === 200;
    if (!(await until(ready, 120_000, 250))) throw new Error(`the worker with COLUMNS_FILE did not start; see ${dir}/worker-columns.log`);
    airtable.clear(SERVICE_BASE, TABLE);
    await sleep(2000);
    const stopTrace = traceOf(worker, webhook)?.('columns');
    const wide = await burst(asana, airtable, SERVICE_BASE, project.gid, size.burst, 120_000, 0, columns);
    stopTrace?.();
    progress(
      `burst with ${columns.length - 5} more columns: ${converge(wide)}, ${wide.asanaRequests} Asana and ${wide.airtableRequests} Airtable requests${writeSpan(wide)}`,
    );
    table(
      `Burst of ${size.burst} tasks with ${columns.length} columns (bench/columns.yml: task fields and custom fields; 3 events a task, 100 a delivery)`,
      ['converged', '× floor', 'Asana req/task', 'Airtable req', '429', 'dup / lost / wrong', 'goals met'],
      [
        [
          converge(wide),
          wide.convergeMs === undefined ? '-' : (wide.convergeMs / floor).toFixed(2),
          (wide.asanaRequests / size.burst).toFixed(3),
          wide.airtableRequests,
          wide.rateLimited,
          `${wide.duplicates} / ${wide.lost} / ${wide.wrong}`,
          met(meetsGoals(wide, size.burst)),
        ],
      ],
    );
  } finally {
    await client.connection.close();
    await Promise.all([worker.stop(), webhook.stop()]);
    await Promise.all([asana.close(), airtable.close()]);
    await server.stop();
    if (values.trace) progress(`traces kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

runMain(async () => {
  await runBench();
  process.exit(0); // the SDK's native runtime would keep the process alive after its work is done
});
