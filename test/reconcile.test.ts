/** Reconciliation and backfill make the table right whatever the webhooks missed. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { temporalExecutable } from '../temporal/temporal-cli';
import { ensureSchedules, scheduleId, signalTask } from '../client';
import {
  progressQuery,
  reconcileProjectWorkflow,
  type ReconcileInput,
  type ReconcileProgress,
  type ReconcileResult,
  type SyncTaskResult,
} from '../workflows';
import { run, runEntry } from './support/processes';
import { BASE_ID, eventually, startStack, TABLE, type Stack } from './support/stack';

function temporalBinary(): string {
  const executable = temporalExecutable();
  if (executable.type !== 'existing-path') throw new Error('these tests drive the temporal CLI; none was found or built');
  return executable.path;
}

describe('reconciliation and backfill', function () {
  this.timeout(120_000);

  describe('with the default policy (keep)', () => {
    let stack: Stack;
    before(async () => (stack = await startStack()));
    after(() => stack.stop());

    const reconcile = (input: Partial<ReconcileInput> = {}): Promise<ReconcileResult> =>
      stack.client.workflow.execute(reconcileProjectWorkflow, {
        workflowId: `test-reconcile-${randomUUID()}`,
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ projectGid: stack.project.gid, mode: 'full', ...input }],
      });
    const rowFor = (gid: string) => stack.rows().find((r) => r['Task ID'] === gid);

    it('creates rows for tasks no webhook told us about, exactly', async () => {
      const ana = stack.asana.addUser('Ana');
      const a = stack.asana.createTask(stack.project.gid, {
        name: 'Missed A',
        assignee: ana.gid,
        due_on: '2026-12-02',
        notes: 'no webhook',
      });
      const b = stack.asana.createTask(stack.project.gid, { name: 'Missed B' });
      const result = await reconcile({ mode: 'incremental' });
      assert.equal(result.mode, 'full', 'no watermark yet: an incremental run covers everything');
      assert.deepEqual(rowFor(a.gid), {
        'Task ID': a.gid,
        Name: 'Missed A',
        Assignee: 'Ana',
        'Due Date': '2026-12-02',
        Description: 'no webhook',
      });
      assert.deepEqual(rowFor(b.gid), { 'Task ID': b.gid, Name: 'Missed B' });
      assert.deepEqual(
        { seen: result.seen, created: result.created, updated: result.updated, unchanged: result.unchanged },
        { seen: 2, created: 2, updated: 0, unchanged: 0 },
      );
    });

    it('writes nothing on a full pass over an unchanged table', async () => {
      const writes = stack.airtable.writes();
      const result = await reconcile();
      assert.equal(stack.airtable.writes(), writes);
      assert.equal(result.unchanged, result.seen);
      assert.equal(result.created + result.updated + result.deleted, 0);
    });

    it('updates only what changed since a given time, incrementally', async () => {
      const since = new Date().toISOString();
      const [first] = stack.asana.taskList();
      stack.asana.updateTask(first.gid, { name: 'Renamed offline' });
      const result = await reconcile({ mode: 'incremental', since });
      assert.equal(result.mode, 'incremental');
      assert.equal(result.seen, 1, 'only the modified task is listed');
      assert.equal(result.updated, 1);
      assert.equal(rowFor(first.gid)?.Name, 'Renamed offline');
    });

    it('keeps the row of a deleted task under the keep policy', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Deleted, kept' });
      await reconcile();
      stack.asana.deleteTask(task.gid);
      const result = await reconcile();
      assert.equal(result.deleted, 0);
      assert.ok(rowFor(task.gid));
    });

    it('merges duplicate rows of one task (added by hand) into the oldest', async () => {
      const [task] = stack.asana.taskList();
      const copy = stack.airtable.addRecordByHand(BASE_ID, TABLE, { 'Task ID': task.gid, Name: 'stale copy' }, new Date(Date.now() + 1000));
      const result = await reconcile();
      assert.equal(result.duplicatesRemoved, 1);
      assert.equal(stack.rows().filter((r) => r['Task ID'] === task.gid).length, 1);
      assert.ok(!stack.airtable.records(BASE_ID, TABLE).some((r) => r.id === copy.id));
    });

    it('fails fast, with a message, on input it cannot use', async () => {
      await assert.rejects(
        stack.client.workflow.execute(reconcileProjectWorkflow, {
          workflowId: `test-bad-${randomUUID()}`,
          taskQueue: stack.config.temporal.taskQueue,
          args: [{ projectGid: 'abc', mode: 'sideways' } as unknown as ReconcileInput],
        }),
        (err: unknown) =>
          err instanceof WorkflowFailedError &&
          /projectGid must be a numeric Asana gid string; mode must be "incremental" or "full"/.test(err.cause?.message ?? ''),
      );
    });

    it('creates the schedules at worker start (idempotently), and a trigger runs them', async () => {
      assert.deepEqual(await ensureSchedules(stack.client, stack.config), [
        scheduleId(stack.project.gid, 'incremental'),
        scheduleId(stack.project.gid, 'full'),
      ]);
      await ensureSchedules(stack.client, stack.config); // again: updates, no error
      const handle = stack.client.schedule.getHandle(scheduleId(stack.project.gid, 'incremental'));
      try {
        const description = await handle.describe();
        assert.deepEqual(
          description.spec.intervals?.map((i) => i.every),
          [5 * 60 * 1000],
        );
        assert.equal(description.action.type, 'startWorkflow');
        const runs = async (count: number) =>
          eventually(async () => {
            const info = (await handle.describe()).info.recentActions;
            assert.equal(info.length, count);
            return info.map((a) => a.action.workflow.workflowId);
          }, 20_000);
        await handle.trigger();
        const [first] = await runs(1);
        const firstResult = (await stack.client.workflow.getHandle(first).result()) as ReconcileResult;
        stack.asana.createTask(stack.project.gid, { name: 'Between runs' });
        await handle.trigger();
        const [, second] = await runs(2);
        const secondResult = (await stack.client.workflow.getHandle(second).result()) as ReconcileResult;
        // the second run starts where the first, completed, one ended
        assert.equal(secondResult.mode, 'incremental');
        assert.equal(secondResult.since, firstResult.watermark);
        assert.equal(secondResult.created, 1);
      } finally {
        await handle.delete();
        await stack.client.schedule.getHandle(scheduleId(stack.project.gid, 'full')).delete();
      }
    });

    it('backfills from the temporal CLI: workflow start, schedule trigger and schedule backfill', async () => {
      const temporal = temporalBinary();
      const address = ['--address', stack.config.temporal.address!];
      const task = stack.asana.createTask(stack.project.gid, { name: 'Started by an operator' });
      const start = await run(temporal, [
        'workflow',
        'start',
        ...address,
        '--type',
        'reconcileProjectWorkflow',
        '--task-queue',
        stack.config.temporal.taskQueue,
        '--workflow-id',
        `op-${randomUUID()}`,
        '--input',
        JSON.stringify({ projectGid: stack.project.gid, mode: 'full' }),
      ]);
      assert.equal(start.code, 0, start.stderr);
      await eventually(() => assert.ok(rowFor(task.gid)));

      await ensureSchedules(stack.client, stack.config);
      const id = scheduleId(stack.project.gid, 'full');
      try {
        const trigger = await run(temporal, ['schedule', 'trigger', ...address, '--schedule-id', id]);
        assert.equal(trigger.code, 0, trigger.stderr);
        const now = Date.now();
        const backfill = await run(temporal, [
          'schedule',
          'backfill',
          ...address,
          '--schedule-id',
          id,
          '--start-time',
          new Date(now - 3 * 86_400_000).toISOString(),
          '--end-time',
          new Date(now).toISOString(),
          '--overlap-policy',
          'BufferAll',
        ]);
        assert.equal(backfill.code, 0, backfill.stderr);
        const handle = stack.client.schedule.getHandle(id);
        // one trigger plus one run per missed day (24 h interval over three days)
        const actions = await eventually(async () => {
          const { info } = await handle.describe();
          assert.ok(info.numActionsTaken >= 3 && info.runningActions.length === 0, JSON.stringify(info.numActionsTaken));
          return info.recentActions;
        }, 30_000);
        const results = await Promise.all(
          actions.map((a) => stack.client.workflow.getHandle(a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId).result()),
        );
        assert.ok(results.length >= 3);
      } finally {
        await stack.client.schedule.getHandle(id).delete();
        await stack.client.schedule.getHandle(scheduleId(stack.project.gid, 'incremental')).delete();
      }
    });

    it('backfills from our CLI with progress and a summary', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'For the CLI' });
      const result = await runEntry('cli/main.ts', ['backfill', '--project', stack.project.gid], {
        TEMPORAL_ADDRESS: stack.config.temporal.address!,
        TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Started full backfill of project \d+: workflow asana-backfill-\d+-\d+$/m);
      // other runs may sync the new task first, so the split between created and unchanged may vary; the sum may not
      const summary = /^Done in [\d.]+ s \(full\): seen (\d+) · created (\d+) · updated 0 · unchanged (\d+) · deleted 0$/m.exec(
        result.stdout,
      );
      assert.ok(summary, result.stdout);
      const [seen, created, unchanged] = summary.slice(1).map(Number);
      assert.equal(seen, stack.asana.taskList().length);
      assert.equal(created + unchanged, seen);
      assert.ok(rowFor(task.gid));
      const bad = await runEntry('cli/main.ts', ['backfill', '--project', stack.project.gid, '--since', 'yesterday']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--since takes an ISO date-time/);
    });
  });

  describe('with the delete policy', () => {
    let stack: Stack;
    before(async () => (stack = await startStack({ env: { ASANA_DELETED_TASKS: 'delete' } })));
    after(() => stack.stop());

    const notFoundOnce = (gid: string) =>
      stack.asana.inject({
        status: 404,
        match: new RegExp(`^GET /api/1\\.0/tasks/${gid}$`),
        times: 1,
        body: { errors: [{ message: `task: Unknown object: ${gid}` }] },
      });

    it('keeps the row of a task when Asana answers one transient 404 to its sync', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Still here' });
      const first = await signalTask(stack.client, stack.config.temporal.taskQueue, {
        taskGid: task.gid,
        projectGid: stack.project.gid,
      });
      await first.result();
      notFoundOnce(task.gid);
      const since = Date.now();
      const second = await signalTask(stack.client, stack.config.temporal.taskQueue, {
        taskGid: task.gid,
        projectGid: stack.project.gid,
      });
      const result = (await second.result()) as SyncTaskResult;
      assert.equal(result.status, 'synced');
      assert.equal(
        stack.asana.requests.filter((r) => r.at >= since && r.path === `/api/1.0/tasks/${task.gid}` && r.status === 404).length,
        1,
        'the 404 was served',
      );
      assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid));
    });

    it('deletes the row of a task deleted in Asana: by webhook, and by a full pass', async () => {
      await stack.registerWebhook();
      const byWebhook = stack.asana.createTask(stack.project.gid, { name: 'Deleted later (webhook)' });
      await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === byWebhook.gid)));
      stack.asana.deleteTask(byWebhook.gid);
      await eventually(() => assert.ok(!stack.rows().some((r) => r['Task ID'] === byWebhook.gid)));

      for (const { gid } of stack.asana.webhookList()) stack.asana.dropWebhook(gid); // from here on, Asana tells us nothing
      const quiet = stack.asana.createTask(stack.project.gid, { name: 'Deleted later (missed)' });
      const reconcile = () =>
        stack.client.workflow.execute(reconcileProjectWorkflow, {
          workflowId: `test-reconcile-${randomUUID()}`,
          taskQueue: stack.config.temporal.taskQueue,
          args: [{ projectGid: stack.project.gid, mode: 'full' }],
        });
      await reconcile();
      assert.ok(stack.rows().some((r) => r['Task ID'] === quiet.gid));
      stack.asana.deleteTask(quiet.gid);
      const result = await reconcile();
      assert.equal(result.deleted, 1);
      assert.ok(!stack.rows().some((r) => r['Task ID'] === quiet.gid));
    });

    it('never deletes the row of a task that one 404 said was gone, and a second look found', async () => {
      const other = stack.asana.addProject('Other');
      const elsewhere = stack.asana.createTask(other.gid, { name: 'Found on the second look' });
      const row = stack.airtable.addRecordByHand(BASE_ID, TABLE, { 'Task ID': elsewhere.gid, Name: elsewhere.name });
      notFoundOnce(elsewhere.gid); // one 404 proves nothing: Asana's can be transient
      const result = await stack.client.workflow.execute(reconcileProjectWorkflow, {
        workflowId: `test-reconcile-${randomUUID()}`,
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ projectGid: stack.project.gid, mode: 'full' }],
      });
      assert.equal(result.deleted, 0);
      assert.ok(stack.airtable.records(BASE_ID, TABLE).some((r) => r.id === row.id));
      assert.equal(
        stack.asana.requests.filter((r) => r.path === `/api/1.0/tasks/${elsewhere.gid}` && r.status === 404).length,
        1,
        'the 404 was served',
      );
    });
  });

  describe('at scale, at the real Airtable limit (5 requests/s)', () => {
    let stack: Stack;
    before(async () => (stack = await startStack({ airtable: { lockoutMs: 30_000 }, env: { AIRTABLE_LOCKOUT_MS: '30000' } })));
    after(() => stack.stop());

    it('backfills 1,000 tasks into an empty table: exact rows, no duplicates, no 429, progress on the way', async () => {
      const users = Array.from({ length: 5 }, (_, i) => stack.asana.addUser(`Person ${i}`));
      const tasks = Array.from({ length: 1000 }, (_, i) =>
        stack.asana.createTask(stack.project.gid, {
          name: `Task ${i} — “${i % 7}”`,
          assignee: i % 3 === 0 ? null : users[i % 5].gid,
          due_on: i % 4 === 0 ? null : `2027-01-${String((i % 28) + 1).padStart(2, '0')}`,
          notes: i % 2 ? `Line 1\nLine ${i}` : '',
        }),
      );
      const handle = await stack.client.workflow.start(reconcileProjectWorkflow, {
        workflowId: `test-backfill-${randomUUID()}`,
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ projectGid: stack.project.gid, mode: 'full' }],
      });
      const seenMidway: ReconcileProgress[] = [];
      const poll = setInterval(
        () =>
          void handle.query(progressQuery).then(
            (p) => seenMidway.push(p),
            () => undefined,
          ),
        500,
      );
      const result = await handle.result().finally(() => clearInterval(poll));
      assert.equal(result.created, 1000);
      assert.ok(
        seenMidway.some((p) => p.phase === 'running' && p.seen > 0 && p.seen < 1000),
        `progress seen: ${JSON.stringify(seenMidway.slice(0, 3))}`,
      );
      const rows = stack.rows();
      assert.equal(rows.length, 1000);
      assert.equal(new Set(rows.map((r) => r['Task ID'])).size, 1000);
      const byId = new Map(rows.map((r) => [r['Task ID'], r]));
      for (const task of tasks) {
        const row = byId.get(task.gid)!;
        assert.equal(row.Name, task.name);
        assert.equal(row.Assignee, task.assignee ? stack.asana.user(task.assignee)!.name : undefined);
        assert.equal(row['Due Date'], task.due_on ?? undefined);
        assert.equal(row.Description, task.notes || undefined);
      }
      assert.equal(stack.airtable.rateLimited, 0, 'never tripped the 5 requests/s limit');
      assert.equal(stack.airtable.writes(), 100, 'ten rows a request');
    });
  });
});
