/**
 * At-least-once deliveries become exactly one correct row per task, whatever fails.
 * Each scenario ends the same way: every task has exactly one row with its current data, none is
 * lost, and no workflow is left running.
 */
import assert from 'node:assert/strict';
import type { AsanaTask } from '../rows/asana-task';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { rowAsRead, toTaskRow } from '../rows/columns';
import { SERVER_ERROR_RETRY_DELAYS_MS } from '../lib/api-error';
import type { DevServer } from '../temporal/dev-server';
import { startTestServer } from './support/temporal';
import { startWebhookServer } from '../webhook/server';
import type { AsanaEvent, EmulatedTask } from '../emulators/asana';
import type { SyncTaskResult } from '../workflows';
import { taskWorkflowId } from '../client';
import { taskEvent } from './support/deliveries';
import { freePort } from './support/ports';
import { runEntry } from './support/processes';
import { eventually, startStack, type Stack } from './support/stack';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The row each task should have now, as Airtable returns it (empty cells omitted). */
function expectedRow(stack: Stack, task: EmulatedTask): Record<string, unknown> {
  return rowAsRead(toTaskRow(stack.asana.taskRecord(task.gid) as unknown as AsanaTask));
}

/** Problems with the table against Asana's tasks; empty when every task has exactly one exact row. */
function tableProblems(stack: Stack, tasks: EmulatedTask[]): string[] {
  const rows = new Map<string, Record<string, unknown>[]>();
  for (const fields of stack.rows()) rows.set(String(fields['Task ID']), [...(rows.get(String(fields['Task ID'])) ?? []), fields]);
  const problems: string[] = [];
  for (const task of tasks) {
    const found = rows.get(task.gid) ?? [];
    if (found.length !== 1) problems.push(`${task.gid}: ${found.length} rows`);
    else if (JSON.stringify(found[0]) !== JSON.stringify(expectedRow(stack, stack.asana.task(task.gid)!)))
      problems.push(`${task.gid}: stale ${JSON.stringify(found[0])}`);
  }
  return problems;
}

/** What became of a task whose row is wrong: its deliveries and its workflow, for the failure message. */
async function diagnose(stack: Stack, gid: string): Promise<string> {
  const deliveries = stack.asana.deliveries.filter((d) => d.resources.includes(gid)).map((d) => `#${d.attempt} ${d.status}`);
  let workflow: string;
  try {
    const handle = stack.client.workflow.getHandle(taskWorkflowId(gid));
    const { status } = await handle.describe();
    const { events } = await handle.fetchHistory();
    // a sync is a local activity: its failures are in its markers
    const failures = (events ?? []).flatMap((e) => e.markerRecordedEventAttributes?.failure?.message ?? []);
    const lastEvents = (events ?? []).slice(-8).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0].replace('EVENT_TYPE_', ''));
    workflow = `${status.name}; sync failures [${failures.join('; ')}]; last events [${lastEvents.join(' ')}]`;
  } catch (err) {
    workflow = (err as Error).message;
  }
  return `${gid}: deliveries [${deliveries.join(', ')}]; workflow ${workflow}`;
}

async function converge(stack: Stack, tasks: EmulatedTask[], timeoutMs: number): Promise<void> {
  try {
    await eventually(
      () => {
        const problems = tableProblems(stack, tasks);
        assert.deepEqual(problems.slice(0, 5), [], `${problems.length} tasks not right yet`);
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    const stuck = tableProblems(stack, tasks)
      .slice(0, 3)
      .map((problem) => problem.split(':')[0]);
    (err as Error).message += `\n${(await Promise.all(stuck.map((gid) => diagnose(stack, gid)))).join('\n')}`;
    throw err;
  }
}

/** No sync workflow of this stack is still running (each completed, or failed visibly). */
async function assertNoneRunning(stack: Stack): Promise<void> {
  await eventually(
    async () => {
      const running: string[] = [];
      for await (const run of stack.client.workflow.list({
        query: `TaskQueue = '${stack.config.temporal.taskQueue}' AND WorkflowType = 'syncTaskWorkflow' AND ExecutionStatus = 'Running'`,
      }))
        running.push(run.workflowId);
      assert.deepEqual(running, []);
    },
    60_000,
    1000,
  );
}

const users = (stack: Stack) => [stack.asana.addUser('Ana Lima'), stack.asana.addUser('Bo Chen'), stack.asana.addUser('Çağla Öz')];

function createBurst(stack: Stack, count: number, label: string): EmulatedTask[] {
  const people = users(stack);
  return Array.from({ length: count }, (_, i) =>
    stack.asana.createTask(stack.project.gid, {
      name: `${label} ${i} “quoted”`,
      assignee: i % 4 ? people[i % 3].gid : null,
      due_on: i % 5 ? `2027-03-${String((i % 28) + 1).padStart(2, '0')}` : null,
      notes: i % 2 ? `line 1\nline ${i}` : '',
    }),
  );
}

describe('faults: exactly one correct row per task, whatever fails', function () {
  this.timeout(300_000);

  describe('API faults, duplicates, reordering and a webhook restart', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
      await stack.registerWebhook();
    });
    after(() => stack.stop());

    it('survives a burst of 300 new and 100 changed tasks through flaky APIs', async () => {
      stack.airtable.inject({
        status: 429,
        match: /^PATCH /,
        times: 2,
        body: { error: { type: 'RATE_LIMIT_REACHED', message: 'slow down' } },
      });
      const unavailable = { status: 503, body: { error: { type: 'SERVICE_UNAVAILABLE', message: 'try again' } } };
      const serverError = { status: 500, body: { errors: [{ message: 'Server Error', phrase: 'six sad squid' }] } };
      // a few certain faults first (so the test always meets them), then random ones throughout
      stack.airtable.inject({ ...unavailable, match: /^PATCH /, times: 3 });
      stack.airtable.inject({ ...unavailable, match: /^(PATCH|GET) /, probability: 0.3 });
      stack.asana.inject({
        status: 429,
        match: /^GET /,
        times: 1,
        headers: { 'retry-after': '1' },
        body: { errors: [{ message: 'rate limited' }] },
      });
      stack.asana.inject({ ...serverError, match: /^GET /, times: 3 });
      stack.asana.inject({ ...serverError, match: /^GET /, probability: 0.2 });

      const tasks = createBurst(stack, 300, 'Flaky');
      await sleep(500);
      // the webhook goes away mid-burst: Asana's retries of what it refused must land once it is back
      const port = Number(new URL(stack.webhook.url).port);
      await stack.webhook.close();
      for (const task of tasks.slice(0, 100))
        stack.asana.updateTask(task.gid, { name: `${task.name} (v2)`, notes: 'changed while the webhook was down' });
      await sleep(1000);
      stack.webhook = await startWebhookServer({ ...stack.services, config: { ...stack.config, port } });

      // duplicates, and a `changed` that arrives before its `added`
      const [hook] = stack.asana.webhookList().map((w) => w.gid);
      const event = (task: EmulatedTask, action: AsanaEvent['action']) => taskEvent(task.gid, { action });
      const late = stack.asana.createTask(stack.project.gid, { name: 'Out of order' });
      await stack.asana.deliver(hook, [event(late, 'changed')]);
      await stack.asana.deliver(hook, [event(late, 'added'), event(late, 'added'), event(tasks[5], 'added')]);

      await converge(stack, [...tasks, late], 180_000);
      stack.airtable.clearFaults();
      stack.asana.clearFaults();
      await assertNoneRunning(stack);
      assert.ok(stack.airtable.count((r) => r.status === 503) >= 3, 'the faults did happen');
      assert.ok(stack.asana.count((r) => r.status === 500) >= 3, 'the faults did happen');
    });

    it('catches up after a full Airtable outage without hammering it', async () => {
      const outage = 20_000; // scaled down from two minutes: what matters is the request rate during it
      await sleep(1100);
      stack.airtable.inject({ status: 503, body: { error: { type: 'SERVICE_UNAVAILABLE', message: 'down' } } });
      const started = Date.now();
      const tasks = createBurst(stack, 100, 'Outage');
      await sleep(outage);
      stack.airtable.clearFaults();
      const during = stack.airtable.count((r) => r.at >= started && r.at < started + outage);
      // paced: never above AIRTABLE_RPS (5/s), outage or not, however many syncs are retrying
      assert.ok(during <= (outage / 1000) * 5 + 5, `${during} requests in ${outage / 1000} s of outage`);
      await converge(stack, tasks, 90_000);
      await assertNoneRunning(stack);
    });

    it('isolates a task Airtable refuses (422), shows why, and one command retries it once fixed', async () => {
      const good = stack.asana.createTask(stack.project.gid, { name: 'Fine neighbour' });
      const poison = stack.asana.createTask(stack.project.gid, { name: 'Impossible date', due_on: '2027-02-30' });
      const other = stack.asana.createTask(stack.project.gid, { name: 'Another neighbour' });
      await converge(stack, [good, other], 30_000);
      const handle = stack.client.workflow.getHandle(taskWorkflowId(poison.gid));
      await assert.rejects(handle.result(), (err: unknown) => {
        const chain: string[] = [];
        for (let e: Error | undefined = err as Error; e; e = (e as { cause?: Error }).cause) chain.push(e.message);
        assert.ok(err instanceof WorkflowFailedError);
        assert.match(
          chain.join(' ← '),
          /Airtable answered 422: INVALID_VALUE_FOR_COLUMN: Field "Due Date" cannot accept the provided value/,
        );
        return true;
      });
      assert.equal((await handle.describe()).status.name, 'FAILED');
      assert.equal(stack.rows().filter((r) => r['Task ID'] === poison.gid).length, 0);

      stack.asana.editTaskSilently(poison.gid, { due_on: '2027-02-28' }); // fixed in Asana (no event reaches us)
      const retry = await runEntry('cli/main.ts', ['sync', '--task', poison.gid, '--project', stack.project.gid], {
        TEMPORAL_ADDRESS: stack.config.temporal.address!,
        TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      });
      assert.equal(retry.code, 0, retry.stderr);
      assert.match(retry.stdout, new RegExp(`Task ${poison.gid} synced`));
      await converge(stack, [good, poison, other], 10_000);
    });

    it('ends cleanly when a task is deleted while its sync retries', async () => {
      await sleep(1100);
      stack.airtable.inject({ status: 503, match: /^PATCH /, body: { error: { type: 'SERVICE_UNAVAILABLE', message: 'down' } } });
      const since = Date.now();
      const task = stack.asana.createTask(stack.project.gid, { name: 'Deleted mid-retry' });
      // one attempt re-sends its write after each 5xx, then fails to Temporal, which retries a second later
      const attemptFailed = SERVER_ERROR_RETRY_DELAYS_MS.length + 1;
      await eventually(() =>
        assert.ok(stack.airtable.count((r) => r.method === 'PATCH' && r.status === 503 && r.at >= since) >= attemptFailed),
      );
      stack.asana.deleteTask(task.gid);
      stack.airtable.clearFaults();
      const result = (await stack.client.workflow.getHandle(taskWorkflowId(task.gid)).result()) as SyncTaskResult;
      assert.equal(result.status, 'gone');
      assert.equal(stack.rows().filter((r) => r['Task ID'] === task.gid).length, 0);
    });
  });

  describe('process faults: the worker killed twice, the Temporal server restarted', () => {
    let stack: Stack;
    let server: DevServer;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'faults-'));
      server = await startTestServer({ port: await freePort(), dbFilename: path.join(dir, 'temporal.db') });
      stack = await startStack({ temporal: server, inProcessWorker: false });
      await stack.registerWebhook();
    });
    after(async () => {
      await stack.stop();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps every task through SIGKILLs of the worker and a restart of the server', async () => {
      const port = Number(new URL(`http://${server.address}`).port);
      let worker = stack.spawnWorker();
      const tasks = createBurst(stack, 300, 'Crash');
      const rowsAtLeast = (n: number) => eventually(() => assert.ok(stack.rows().length >= n, `${stack.rows().length} rows`), 120_000, 200);

      await rowsAtLeast(60);
      worker.kill('SIGKILL');
      worker = stack.spawnWorker();
      for (const task of tasks.slice(200, 300)) stack.asana.updateTask(task.gid, { name: `${task.name} (edited)` });
      await rowsAtLeast(150);
      worker.kill('SIGKILL');
      await sleep(500);
      worker = stack.spawnWorker();

      await rowsAtLeast(200);
      await server.stop(); // the same database file comes back on the same port
      await sleep(2000);
      server = await startTestServer({ port, dbFilename: path.join(dir, 'temporal.db') });

      await converge(stack, tasks, 240_000);
      await assertNoneRunning(stack);
    });
  });
});
