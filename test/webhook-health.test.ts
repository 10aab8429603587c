/**
 * Webhooks as Asana really runs them, on the whole stack: the filters keep what no column reads
 * from ever being sent, and a webhook Asana deletes after an outage is registered again by the
 * health schedule, which runs in the webhook process (it holds the secrets and the handshake).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import pino from 'pino';
import { ensureWebhookHealthSchedule } from '../client';
import { configuredFilters, registerWebhook } from '../asana/webhooks';
import { SecretStore } from '../asana/webhook-secrets';
import { startWebhookServer } from '../webhook/server';
import type { WebhookHealthReport } from '../workflows';
import { freePort } from './support/ports';
import { forwardRequest } from './support/proxy';
import { eventually, startStack, type Stack } from './support/stack';

/** What sits between Asana and the webhook in production (a TLS terminator, a tunnel): while down it answers 502. */
async function frontProxy(upstream: () => string) {
  const state = { up: true };
  const server = http.createServer((req, res) => {
    if (!state.up) return void res.writeHead(502).end('Bad Gateway');
    forwardRequest(upstream(), req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const metric = (text: string, name: string, project: string): number =>
  Number(new RegExp(`^${name}\\{project="${project}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);

describe('webhook filters at the source', function () {
  this.timeout(60_000);
  let stack: Stack;
  before(async () => (stack = await startStack()));
  after(() => stack.stop());

  it('sends no event of a field no column reads: Asana counts it as filtered, and the row still follows what columns read', async () => {
    const { gid } = await stack.registerWebhook();
    assert.deepEqual(stack.asana.webhook(gid)?.filters, configuredFilters(undefined));
    const task = stack.asana.createTask(stack.project.gid, { name: 'Brief' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    await stack.asana.drainDeliveries();
    const [filtered, delivered] = [stack.asana.filteredEvents, stack.asana.deliveries.length];
    stack.asana.updateTask(task.gid, { completed: true }); // no column of the five reads it
    stack.asana.updateTask(task.gid, { start_on: '2027-01-01' });
    await stack.asana.drainDeliveries();
    assert.equal(stack.asana.filteredEvents - filtered, 2);
    assert.equal(stack.asana.deliveries.length, delivered, 'nothing was sent');
    stack.asana.updateTask(task.gid, { name: 'Brief v2' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid && r.Name === 'Brief v2')));
  });
});

describe('webhook health: watched, and healed within one check', function () {
  this.timeout(120_000);
  let stack: Stack;
  let proxy: Awaited<ReturnType<typeof frontProxy>>;
  const logLines: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  let scheduleId: string;

  before(async () => {
    stack = await startStack({
      asana: { failureDeletionMs: 5_000, retryBaseMs: 100, retryMaxMs: 300, maxDeliveryAttempts: 1_000 },
      env: { WEBHOOK_METRICS_PORT: String(await freePort()) },
    });
    proxy = await frontProxy(() => stack.webhook.url);
    // the webhook as production runs it: behind the proxy, whose URL is PUBLIC_URL, so it takes the health checks
    const port = Number(new URL(stack.webhook.url).port);
    const config = { ...stack.config, port, publicUrl: proxy.url };
    await stack.webhook.close();
    stack.webhook = await startWebhookServer({ ...stack.services, config, log });
    scheduleId = (await ensureWebhookHealthSchedule(stack.client, config))!;
  });
  after(async () => {
    await stack.client.schedule.getHandle(scheduleId).delete();
    await stack.stop();
    await proxy.close();
  });

  /** Triggers the schedule and returns its new run's report. */
  async function healthCheck(): Promise<{ report: WebhookHealthReport; workflowId: string }> {
    const handle = stack.client.schedule.getHandle(scheduleId);
    const before = (await handle.describe()).info.recentActions.length;
    await handle.trigger();
    const workflowId = await eventually(async () => {
      const actions = (await handle.describe()).info.recentActions;
      assert.equal(actions.length, before + 1);
      return actions[before].action.workflow.workflowId;
    });
    return { report: (await stack.client.workflow.getHandle(workflowId).result()) as WebhookHealthReport, workflowId };
  }
  const scrape = async () => (await axios.get<string>(stack.webhook.metricsUrl!)).data;
  const project = () => stack.project.gid;

  it('reports a failing webhook before Asana deletes it: retries, the deletion time, in the metrics and the log', async () => {
    const api = stack.services.asana;
    const secrets = new SecretStore(stack.config.dataDir);
    const first = await registerWebhook(api, secrets, project(), proxy.url, configuredFilters(undefined));
    proxy.state.up = false; // the outage: Asana's deliveries get 502
    stack.asana.createTask(project(), { name: 'During the outage' });
    await eventually(() => assert.ok((stack.asana.webhook(first.gid)?.delivery_retry_count ?? 0) > 0));

    const { report } = await healthCheck();
    const [seen] = report.projects;
    assert.equal(seen.action, 'unchanged');
    assert.equal(seen.webhooks[0].gid, first.gid);
    assert.equal(seen.webhooks[0].failing, true);
    assert.ok(seen.webhooks[0].deliveryRetryCount > 0);
    assert.ok(Date.parse(seen.webhooks[0].failureDeletionAt!) > Date.now(), 'reported before the deletion');
    assert.ok(metric(await scrape(), 'asana_webhook_failure_deletion_timestamp_seconds', project()) > Date.now() / 1000);
    assert.ok(metric(await scrape(), 'asana_webhook_delivery_retry_count', project()) > 0);
    assert.ok(logLines.some((l) => l.includes('"level":40') && l.includes('webhook health: failing') && l.includes(first.gid)));
  });

  it('registers a new webhook within one check once Asana has deleted it; a task created then reaches its row in under a second', async () => {
    await eventually(() => assert.deepEqual(stack.asana.webhookList(), []), 15_000); // Asana deleted it
    proxy.state.up = true; // the outage is over, but no webhook is left to deliver anything

    const { report, workflowId } = await healthCheck();
    const [repaired] = report.projects;
    assert.equal(repaired.action, 'created');
    const [hook] = stack.asana.webhookList();
    assert.ok(hook?.active, 'a new webhook, registered by the check');
    assert.ok(hook.target.startsWith(`${proxy.url}/webhooks/asana/${project()}/`));
    assert.deepEqual(hook.filters, configuredFilters(undefined));
    assert.equal(metric(await scrape(), 'asana_webhook_repairs_total', project()), 1);
    assert.equal(metric(await scrape(), 'asana_webhook_active', project()), 0, 'none was active when the check looked');
    assert.ok(logLines.some((l) => l.includes('"level":50') && l.includes('registered a new one (repaired)') && l.includes(project())));
    assert.ok(!logLines.some((l) => /[0-9a-f]{64}/.test(l)), "a webhook's URL carries its token: never logged");
    const metadata = await stack.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', /^\*\*Alarm, repaired\*\*: Project \d+: no active webhook of ours; created webhook/);

    const created = Date.now();
    const task = stack.asana.createTask(project(), { name: 'After the repair' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)), 5_000, 10);
    const ms = Date.now() - created;
    assert.ok(ms < 1_000, `row after ${ms} ms`);

    const { report: next } = await healthCheck();
    assert.equal(next.projects[0].action, 'unchanged', 'the next check finds it healthy and changes nothing');
    assert.equal(metric(await scrape(), 'asana_webhook_active', project()), 1);
  });
});
