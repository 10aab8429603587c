/** A webhook delivery becomes exactly one correct row, on a real Temporal server. */
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import axios from 'axios';
import { WorkflowNotFoundError } from '@temporalio/client';
import { signDelivery } from '../emulators/asana';
import { taskWorkflowId } from '../client';
import { taskEvent } from './support/deliveries';
import { eventually, startStack, type Stack } from './support/stack';

describe('pipeline: Asana webhook → Temporal → Airtable row', function () {
  let stack: Stack;
  let webhookGid: string;
  let target: string;

  before(async () => {
    stack = await startStack();
    ({ gid: webhookGid, target } = await stack.registerWebhook());
  });
  after(() => stack.stop());

  const rowFor = (gid: string) => stack.rows().find((r) => r['Task ID'] === gid);
  const rowsFor = (gid: string) => stack.rows().filter((r) => r['Task ID'] === gid);

  it('completes the handshake and keeps the secret durably, readable only by us', async () => {
    const hook = stack.asana.webhook(webhookGid)!;
    const file = path.join(stack.config.dataDir, 'webhook-secrets', target.split('/').pop()!);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(hook.active, true);
    // the heartbeat that follows the handshake is verified and answered 200
    await eventually(() => assert.equal(stack.webhook.counts.heartbeat, 1));
  });

  it('turns a batched delivery of new tasks into exact rows', async () => {
    const ana = stack.asana.addUser('Ana Łukasiewicz-Núñez');
    const tasks = [
      stack.asana.createTask(stack.project.gid, {
        name: 'Launch 🚀 «campaign»',
        assignee: ana.gid,
        due_on: '2026-12-01',
        notes: 'Line one\nLine "two"\n\tIt\'s done',
      }),
      stack.asana.createTask(stack.project.gid, { name: 'O\'Brien\'s "quoted" brief', notes: '' }),
      stack.asana.createTask(stack.project.gid, { name: 'Timed', due_at: '2026-12-24T23:30:00.000Z', due_on: null }),
    ];
    await eventually(() => assert.equal(stack.rows().length, 3));
    assert.deepEqual(rowFor(tasks[0].gid), {
      'Task ID': tasks[0].gid,
      Name: 'Launch 🚀 «campaign»',
      Assignee: 'Ana Łukasiewicz-Núñez',
      'Due Date': '2026-12-01',
      Description: 'Line one\nLine "two"\n\tIt\'s done',
    });
    // no assignee, no due date, no notes: those cells stay empty (omitted on read)
    assert.deepEqual(rowFor(tasks[1].gid), { 'Task ID': tasks[1].gid, Name: 'O\'Brien\'s "quoted" brief' });
    assert.deepEqual(rowFor(tasks[2].gid), { 'Task ID': tasks[2].gid, Name: 'Timed', 'Due Date': '2026-12-24' });
    // one delivery carried the three tasks' nine events (each added to the project and to its section, its assignee set)
    assert.ok(stack.asana.deliveries.some((d) => d.events === 9 && d.status === 200));
  });

  it('serves a later event of a change the row already shows from the first read: no request to Asana, no write to Airtable', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Read once' });
    const handle = stack.client.workflow.getHandle(taskWorkflowId(task.gid));
    await eventually(async () => assert.equal((await handle.describe()).status.name, 'COMPLETED'));
    const reads = () => stack.asana.count((r) => r.path.endsWith(`/tasks/${task.gid}`) || r.path.endsWith('/tasks'));
    const [readsBefore, writesBefore] = [reads(), stack.airtable.writes()];
    const firstRun = (await handle.describe()).runId;
    // the same change again, on its own (as Asana may send a change event a minute after the add)
    const event = taskEvent(task.gid, {
      created_at: task.modified_at,
      action: 'changed',
      parent: undefined,
      change: { field: 'name', action: 'changed' },
    });
    assert.equal(await stack.asana.deliver(webhookGid, [event]), 200);
    await eventually(async () => {
      const run = await handle.describe();
      assert.ok(run.runId !== firstRun && run.status.name === 'COMPLETED');
    });
    assert.deepEqual([reads(), stack.airtable.writes()], [readsBefore, writesBefore]);
  });

  it('creates no duplicate when the same delivery comes again', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Delivered twice' });
    await eventually(() => assert.ok(rowFor(task.gid)));
    const event = taskEvent(task.gid, { parent: { gid: stack.project.gid, resource_type: 'project' } });
    assert.equal(await stack.asana.deliver(webhookGid, [event, event]), 200);
    assert.equal(await stack.asana.deliver(webhookGid, [event]), 200);
    await stack.client.workflow.getHandle(taskWorkflowId(task.gid)).result();
    assert.equal(rowsFor(task.gid).length, 1);
  });

  it('updates the row when the task changes, and clears emptied cells', async () => {
    const bo = stack.asana.addUser('Bo');
    const task = stack.asana.createTask(stack.project.gid, { name: 'Draft', assignee: bo.gid, due_on: '2026-11-30', notes: 'v1' });
    await eventually(() => assert.equal(rowFor(task.gid)?.Name, 'Draft'));
    stack.asana.updateTask(task.gid, { name: 'Final', assignee: null, notes: 'v2' });
    await eventually(() =>
      assert.deepEqual(rowFor(task.gid), { 'Task ID': task.gid, Name: 'Final', 'Due Date': '2026-11-30', Description: 'v2' }),
    );
    assert.equal(rowsFor(task.gid).length, 1);
  });

  it('ends cleanly when the task is deleted before it syncs', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Gone before sync' });
    stack.asana.deleteTask(task.gid); // same batch: the delivery carries added + deleted
    const result = await eventually(() => stack.client.workflow.getHandle(taskWorkflowId(task.gid)).result());
    assert.equal(result.status, 'gone');
    assert.equal(rowFor(task.gid), undefined);
  });

  it('rides out Airtable 503s and a 429 lock-out', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // let any earlier lock-out pass
    const since = Date.now();
    stack.airtable.inject({
      status: 503,
      match: /^PATCH /,
      times: 2,
      body: { error: { type: 'SERVICE_UNAVAILABLE', message: 'try later' } },
    });
    stack.airtable.inject({
      status: 429,
      match: /^PATCH /,
      times: 1,
      body: { error: { type: 'RATE_LIMIT_REACHED', message: 'slow down' } },
    });
    const task = stack.asana.createTask(stack.project.gid, { name: 'Survives faults' });
    await eventually(() => assert.deepEqual(rowFor(task.gid), { 'Task ID': task.gid, Name: 'Survives faults' }), 30_000);
    const handle = stack.client.workflow.getHandle(taskWorkflowId(task.gid));
    await handle.result(); // the row is written before the attempt's marker is
    const history = await handle.fetchHistory();
    // The sync is a local activity (no activity task). The 503s were re-sent inside its attempt;
    // the 429 failed the attempt, and a durable timer waited out the lock-out before the next.
    const events = history.events ?? [];
    assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes).length, 0);
    const attempts = events.flatMap((e) =>
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
        ? [e.markerRecordedEventAttributes.failure?.message ?? 'ok']
        : [],
    );
    assert.equal(attempts.length, 2, `attempts recorded: ${attempts.join(' | ')}`);
    assert.match(attempts[0], /429/);
    assert.equal(attempts[1], 'ok');
    assert.equal(events.filter((e) => e.timerFiredEventAttributes).length, 1);
    const patches = stack.airtable.requests.filter((r) => r.method === 'PATCH' && r.at >= since).map((r) => r.status);
    assert.deepEqual(patches, [503, 503, 429, 200]);
  });

  it('rides out an Asana 429 by waiting for Retry-After', async () => {
    stack.asana.inject({
      status: 429,
      match: /^GET \/api\/1\.0\/tasks\//,
      times: 1,
      headers: { 'retry-after': '1' },
      body: { errors: [{ message: 'rate limited' }] },
    });
    const task = stack.asana.createTask(stack.project.gid, { name: 'After a 429' });
    await eventually(() => assert.ok(rowFor(task.gid)), 30_000);
    const gets = stack.asana.requests.filter((r) => r.path === `/api/1.0/tasks/${task.gid}`);
    assert.deepEqual(
      gets.map((r) => r.status),
      [429, 200],
    );
    assert.ok(gets[1].at - gets[0].at >= 900, `retried after ${gets[1].at - gets[0].at} ms, before Retry-After`);
  });

  it('absorbs a burst of 100 new tasks in batched requests: exact rows, no 429, no duplicate', async function () {
    this.timeout(60_000);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // let earlier tests' lock-outs pass
    const since = Date.now();
    const tasks = Array.from({ length: 100 }, (_, i) => stack.asana.createTask(stack.project.gid, { name: `Burst ${i}`, notes: `n${i}` }));
    await eventually(() => assert.equal(tasks.filter((t) => rowFor(t.gid)).length, 100), 45_000, 200);
    for (const task of tasks) assert.deepEqual(rowsFor(task.gid), [{ 'Task ID': task.gid, Name: task.name, Description: task.notes }]);
    const writes = stack.airtable.requests.filter((r) => r.method === 'PATCH' && r.at >= since);
    assert.ok(
      writes.every((r) => r.status === 200),
      'no 429 or other refusal',
    );
    assert.ok(writes.length <= 30, `${writes.length} write requests for 100 rows: rows must share requests`);
    const taskReads = stack.asana.requests.filter((r) => r.at >= since && r.method === 'GET' && r.path.startsWith('/api/1.0/tasks'));
    // one GET per task would be 100; listings of recently modified tasks serve most of them
    const listings = taskReads.filter((r) => r.path === '/api/1.0/tasks').length;
    assert.ok(
      taskReads.length < 60 && listings > 0,
      `${taskReads.length} Asana reads (${listings} listings) for 100 tasks: a burst must be read in pages`,
    );
  });

  it('refuses a badly signed delivery with 401 and starts nothing', async () => {
    const body = JSON.stringify({ events: [{ action: 'added', resource: { gid: '999000111', resource_type: 'task' } }] });
    const post = (signature: string) =>
      axios.post(target, body, {
        headers: { 'content-type': 'application/json', 'x-hook-signature': signature },
        validateStatus: () => true,
      });
    assert.equal((await post(signDelivery('not-the-secret', body))).status, 401);
    assert.equal((await post('')).status, 401);
    await assert.rejects(stack.client.workflow.getHandle(taskWorkflowId('999000111')).describe(), WorkflowNotFoundError);
  });
});
