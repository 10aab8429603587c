/** The webhook's Prometheus metrics, served at GET /metrics on a port of their own (WEBHOOK_METRICS_PORT). */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ProjectHealth } from '../activities/webhook-health';
import { TASK_ACTIONS } from './delivery';
import type { SetAsideReason } from './journal';

/** How a request ended; each is counted, logged and exported as a metric. */
export const OUTCOMES = [
  'handshake',
  'handshake_refused',
  'heartbeat',
  'delivered',
  'bad_signature',
  'unknown_resource',
  'store_unavailable',
  'bad_request',
  'too_large',
  'unsupported_media_type',
  'temporal_unavailable',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Label values come from these sets, never from the request as sent: anything else is 'other'. */
const RESOURCE_TYPES = new Set([
  'task',
  'subtask',
  'story',
  'section',
  'project',
  'attachment',
  'tag',
  'custom_field',
  'team',
  'user',
  'workspace',
  'portfolio',
  'goal',
]);

/** Metrics labelled by project, one for each entry of `specs` (key: [name, help]). */
function perProject<M, K extends string>(
  Metric: new (config: { name: string; help: string; labelNames: string[]; registers: Registry[] }) => M,
  registry: Registry,
  specs: Record<K, readonly [string, string]>,
): Record<K, M> {
  const entries = Object.entries(specs) as [K, readonly [string, string]][];
  return Object.fromEntries(
    entries.map(([key, [name, help]]) => [key, new Metric({ name, help, labelNames: ['project'], registers: [registry] })]),
  ) as Record<K, M>;
}

function known(values: ReadonlySet<string>, value: string): string {
  return values.has(value) ? value : 'other';
}

export class WebhookMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'webhook_requests_total',
    help: 'Webhook requests by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly events = new Counter({
    name: 'webhook_events_total',
    help: 'Delivered events by resource type, action and whether they caused a sync (false: skipped, such as a section move or a change of a field no column uses)',
    labelNames: ['resource_type', 'action', 'synced'],
    registers: [this.registry],
  });
  private readonly setAsides = new Counter({
    name: 'webhook_journal_set_aside_total',
    help: 'Journal entries set aside in journal-rejected.jsonl instead of forwarded, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly signals = new Counter({
    name: 'webhook_workflow_signals_total',
    help: 'Task workflows started or signalled (signalWithStart)',
    registers: [this.registry],
  });
  private readonly checks = new Counter({
    name: 'webhook_events_checked_total',
    help: 'Task events sent to check runs, of deliveries over 100 tasks or unseen tasks past the budget (Asana must list a task before its sync starts)',
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'webhook_request_duration_seconds',
    help: 'Time to answer a webhook request, by outcome',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  /** The health check's gauges, by synced project (ASANA_PROJECT_GIDS: a bounded label). */
  private readonly health = perProject(Gauge, this.registry, {
    active: [
      'asana_webhook_active',
      'Active webhooks of ours per synced project at the last health check (0 is the alarm: the check registered one)',
    ],
    retries: [
      'asana_webhook_delivery_retry_count',
      "Asana's delivery_retry_count of the project's webhook of ours (the highest): failed attempts since the last success",
    ],
    deletion: [
      'asana_webhook_failure_deletion_timestamp_seconds',
      "When Asana deletes the project's failing webhook of ours unless a delivery succeeds first (Unix time; 0 when none is failing)",
    ],
    lastSuccess: [
      'asana_webhook_last_success_timestamp_seconds',
      "Asana's last_success_at of the project's webhook of ours (Unix time; 0 when none)",
    ],
    checked: [
      'asana_webhook_health_check_timestamp_seconds',
      "When the health check last read the project's webhooks (Unix time): an alert on its age finds a check that stopped",
    ],
  });
  private readonly changes = perProject(Counter, this.registry, {
    repairs: [
      'asana_webhook_repairs_total',
      'Webhooks the health check registered for a synced project that had no active webhook of ours',
    ],
    filterUpdates: ['asana_webhook_filter_updates_total', "Health checks that updated a webhook's filters to those the columns call for"],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Serves GET /metrics, and GET /readyz (200 once `ready` says so, else 503 with what it waits
   * for), on host:port, never on the public port: a scrape costs ten times the CPU of a 404 and
   * answers 11 KB, which a stranger could ask for faster than they read it.
   */
  async serve(host: string, port: number, ready: () => { ready: boolean; waitingFor?: string }): Promise<Server> {
    const server = createServer((req, res) => {
      const path = req.url?.split('?')[0];
      if (req.method === 'GET' && path === '/readyz') {
        const readiness = ready();
        res.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(readiness));
        return;
      }
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return server;
  }

  request(outcome: Outcome | 'other', seconds: number): void {
    this.requests.inc({ outcome });
    this.latency.observe({ outcome }, seconds);
  }

  event(resourceType: string, action: string, synced: boolean): void {
    this.events.inc({ resource_type: known(RESOURCE_TYPES, resourceType), action: known(TASK_ACTIONS, action), synced: String(synced) });
  }

  setAside(reason: SetAsideReason, count: number): void {
    this.setAsides.inc({ reason }, count);
  }

  signalled(count: number): void {
    this.signals.inc(count);
  }

  checked(count: number): void {
    this.checks.inc(count);
  }

  /** A project's webhooks as the health check found them, and what it did. */
  webhookHealth({ projectGid, webhooks, action }: ProjectHealth): void {
    const project = { project: projectGid };
    const seconds = (times: (string | undefined)[], pick: (...values: number[]) => number) => {
      const known = times.filter((t): t is string => t !== undefined).map((t) => Date.parse(t) / 1000);
      return known.length > 0 ? pick(...known) : 0;
    };
    this.health.active.set(project, webhooks.filter((w) => w.active).length);
    this.health.retries.set(project, Math.max(0, ...webhooks.map((w) => w.deliveryRetryCount)));
    this.health.deletion.set(
      project,
      seconds(
        webhooks.map((w) => w.failureDeletionAt),
        Math.min,
      ),
    );
    this.health.lastSuccess.set(
      project,
      seconds(
        webhooks.map((w) => w.lastSuccessAt),
        Math.max,
      ),
    );
    this.health.checked.set(project, Date.now() / 1000);
    if (action === 'created') this.changes.repairs.inc(project);
    if (action === 'filters_updated') this.changes.filterUpdates.inc(project);
  }

  /** Exports how many journaled events wait for Temporal, read at each scrape. */
  watchJournal(backlog: () => number): void {
    new Gauge({
      name: 'webhook_journal_backlog',
      help: 'Delivered events journaled and not yet handed to Temporal',
      registers: [this.registry],
      collect() {
        this.set(backlog());
      },
    });
  }
}
