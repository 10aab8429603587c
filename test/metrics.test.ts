/** Prometheus metrics, scraped as Prometheus would. */
import assert from 'node:assert/strict';
import axios from 'axios';
import { emulatorEnv } from '../emulators/env';
import { freePort } from './support/ports';
import { spawnEntry } from './support/processes';
import { eventually, startStack, type Stack } from './support/stack';

const metric = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);

/** Whether a metrics URL on 127.0.0.1 refuses connections on another loopback address: an endpoint bound to every interface would take them. */
const loopbackOnly = async (url: string): Promise<boolean> =>
  axios.get(url.replace('//127.0.0.1:', '//127.0.0.2:')).then(
    () => false,
    (err: { code?: string }) => err.code === 'ECONNREFUSED',
  );

describe('metrics', function () {
  this.timeout(90_000);
  let stack: Stack;
  let target: string;
  before(async () => {
    stack = await startStack({ env: { WEBHOOK_METRICS_PORT: String(await freePort()) } });
    ({ target } = await stack.registerWebhook());
  });
  after(() => stack.stop());

  it('the webhook serves deliveries by outcome, events by action, signature failures, workflow starts and latency on WEBHOOK_METRICS_PORT', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Counted' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)));
    await axios.post(target, '{"events":[]}', {
      headers: { 'content-type': 'application/json', 'x-hook-signature': '0'.repeat(64) },
      validateStatus: () => true,
    });
    const scrape = await axios.get<string>(stack.webhook.metricsUrl!);
    assert.equal(scrape.status, 200);
    assert.match(String(scrape.headers['content-type']), /^text\/plain/);
    const text = scrape.data;
    assert.equal(metric(text, /^webhook_requests_total\{outcome="delivered"\} (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_requests_total\{outcome="bad_signature"\} (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_requests_total\{outcome="handshake"\} (\d+)/m), 1);
    // a new task's three events: added to the project (synced), to its section (skipped), its assignee set (synced)
    assert.equal(metric(text, /^webhook_events_total\{resource_type="task",action="added",synced="true"\} (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_events_total\{resource_type="task",action="added",synced="false"\} (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_events_total\{resource_type="task",action="changed",synced="true"\} (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_workflow_signals_total (\d+)/m), 1);
    assert.equal(metric(text, /^webhook_journal_backlog (\d+)/m), 0);
    assert.ok(metric(text, /^webhook_request_duration_seconds_count\{outcome="delivered"\} (\d+)/m) >= 1);
  });

  it('the webhook serves no metrics on its public port, and its metrics only on loopback', async () => {
    assert.equal((await axios.get(`${stack.webhook.url}/metrics`, { validateStatus: () => true })).status, 404);
    assert.match(stack.webhook.metricsUrl!, /^http:\/\/127\.0\.0\.1:/);
    assert.equal(await loopbackOnly(stack.webhook.metricsUrl!), true);
  });

  it('the worker serves the Temporal SDK metrics on WORKER_METRICS_PORT, on loopback only', async () => {
    const port = await freePort();
    const env = {
      ...emulatorEnv(stack.asana, stack.airtable, stack.config.airtable.baseId, stack.project.gid),
      TEMPORAL_ADDRESS: stack.config.temporal.address!,
      TEMPORAL_TASK_QUEUE: `${stack.config.temporal.taskQueue}-metrics`,
      WORKER_METRICS_PORT: String(port),
      LOG_LEVEL: 'silent',
    };
    const worker = spawnEntry('worker/main.ts', env);
    try {
      const text = await eventually(
        async () => {
          const scrape = await axios.get<string>(`http://127.0.0.1:${port}/metrics`);
          assert.match(scrape.data, /^temporal_num_pollers\{[^}]*poller_type="activity_task"[^}]*\} \d+/m);
          return scrape.data;
        },
        60_000,
        500,
      );
      assert.match(text, /task_queue="[^"]+-metrics"/);
      assert.equal(await loopbackOnly(`http://127.0.0.1:${port}/metrics`), true, 'bound to loopback only');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
  });
});
