/**
 * Which tasks have rows: a task that leaves every synced project (ASANA_DELETED_TASKS decides its
 * row, on two reads 3 s apart, within one sync or one full reconcile), a move between two synced
 * projects (one row throughout), and subtasks, by choice (SYNC_SUBTASKS).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { airtableSetup } from '../cli/airtable';
import { taskWorkflowId } from '../client';
import type { EmulatedProject } from '../emulators/asana';
import { reconcileProjectWorkflow, type ReconcileResult, type SyncTaskResult } from '../workflows';
import { AsanaSpec } from './support/asana-spec';
import { eventually, startStack, type Stack, type StackOptions } from './support/stack';

/** A stack whose ASANA_PROJECT_GIDS holds a second synced project, "Launches", beside "Campaigns". */
async function startTwoProjectStack(options: StackOptions = {}): Promise<{ stack: Stack; launches: EmulatedProject }> {
  const env: Record<string, string> = { ...(options.env as Record<string, string>) };
  let launches!: EmulatedProject;
  const stack = await startStack({
    ...options,
    env, // read after setUp, which names the second project in it
    setUp: (asana, project) => {
      launches = asana.addProject('Launches');
      env.ASANA_PROJECT_GIDS = `${project.gid},${launches.gid}`;
    },
  });
  await stack.registerWebhook();
  await stack.registerWebhook(launches.gid);
  return { stack, launches };
}

const reconcileFull = (stack: Stack): Promise<ReconcileResult> =>
  stack.client.workflow.execute(reconcileProjectWorkflow, {
    workflowId: `test-reconcile-${randomUUID()}`,
    taskQueue: stack.config.temporal.taskQueue,
    args: [{ projectGid: stack.project.gid, mode: 'full' }],
  });

/** The result of the task's latest run, once it says `status`. */
const runEnds = (stack: Stack, taskGid: string, status: SyncTaskResult['status']): Promise<SyncTaskResult> =>
  eventually(async () => {
    const result = (await stack.client.workflow.getHandle(taskWorkflowId(taskGid)).result()) as SyncTaskResult;
    assert.equal(result.status, status);
    return result;
  }, 30_000);

describe('which tasks have rows', function () {
  this.timeout(120_000);

  describe('ASANA_DELETED_TASKS=delete, two synced projects, no SYNC_SUBTASKS', () => {
    let stack: Stack;
    let launches: EmulatedProject;
    let privateProject: EmulatedProject;
    before(async () => {
      ({ stack, launches } = await startTwoProjectStack({ env: { ASANA_DELETED_TASKS: 'delete' } }));
      privateProject = stack.asana.addProject('Private');
    });
    after(() => stack.stop());
    const rowsOf = (gid: string) => stack.rows().filter((r) => r['Task ID'] === gid);

    it('deletes the row of a task removed from its only synced project, within one sync', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Goes private', projects: [privateProject.gid] });
      await eventually(() => assert.equal(rowsOf(task.gid).length, 1));
      stack.asana.removeFromProject(task.gid, stack.project.gid);
      assert.equal((await runEnds(stack, task.gid, 'left')).row, 'deleted');
      assert.deepEqual(rowsOf(task.gid), []);
      assert.ok(stack.asana.task(task.gid), 'the task is still in Asana');
    });

    it('keeps one row for a task moved between two synced projects, even when the sync reads it between the two steps', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Moves' });
      await eventually(() => assert.equal(rowsOf(task.gid).length, 1));
      stack.asana.removeFromProject(task.gid, stack.project.gid); // the sync reads it in no synced project...
      await new Promise((resolve) => setTimeout(resolve, 1000));
      stack.asana.addToProject(task.gid, launches.gid); // ...and its second look, 3 s later, in the other
      await eventually(async () => {
        const handle = stack.client.workflow.getHandle(taskWorkflowId(task.gid));
        assert.equal((await handle.describe()).status.name, 'COMPLETED');
        assert.equal(((await handle.result()) as SyncTaskResult).status, 'synced');
      }, 30_000);
      assert.deepEqual(
        rowsOf(task.gid).map((r) => r.Name),
        ['Moves'],
      );
    });

    it('writes nothing, and reads no row, for a subtask: without SYNC_SUBTASKS no subtask has one', async () => {
      const parent = stack.asana.createTask(stack.project.gid, { name: 'Parent' });
      await runEnds(stack, parent.gid, 'synced');
      const airtableRequests = stack.airtable.count();
      const subtask = stack.asana.createSubtask(parent.gid, { name: 'Not a row' });
      const result = await runEnds(stack, subtask.gid, 'skipped');
      assert.match(result.reason ?? '', /none of the synced projects/);
      assert.deepEqual(rowsOf(subtask.gid), []);
      assert.equal(stack.airtable.count(), airtableRequests);
    });

    it('deletes, in a full reconcile, the row of a task that left while no webhook listened', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Left silently' });
      const stays = stack.asana.createTask(launches.gid, { name: 'In the other synced project' });
      await eventually(() => assert.equal(rowsOf(task.gid).length + rowsOf(stays.gid).length, 2));
      stack.asana.editTaskSilently(task.gid, { projects: [privateProject.gid] });
      const result = await reconcileFull(stack);
      assert.equal(result.deleted, 1);
      assert.deepEqual(rowsOf(task.gid), []);
      assert.equal(rowsOf(stays.gid).length, 1, "a row of the other synced project's task stays");
    });
  });

  describe('ASANA_DELETED_TASKS=keep, SYNC_SUBTASKS=true, columns that show the parent and membership', () => {
    let stack: Stack;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'membership-'));
      const columns = path.join(dir, 'columns.yml');
      await writeFile(
        columns,
        [
          'columns:',
          '  - { name: Parent, type: singleLineText, source: parent }',
          '  - { name: Projects, type: singleLineText, source: projects }',
          '  - { name: Synced, type: checkbox, source: in_synced_project }',
        ].join('\n'),
      );
      stack = await startStack({
        env: { COLUMNS_FILE: columns, SYNC_SUBTASKS: 'true' },
        setUp: (asana) => Object.assign(asana, { exchanges: [], deliveredEvents: [] }),
      });
      assert.equal(await airtableSetup(stack.services, { out: () => undefined, err: () => undefined }, []), 0);
      await stack.registerWebhook();
    });
    after(async () => {
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    });
    const rowOf = (gid: string) => stack.rows().find((r) => r['Task ID'] === gid);

    it("gives a subtask created under a synced task its own row, with its parent's name and project", async () => {
      const parent = stack.asana.createTask(stack.project.gid, { name: 'Launch plan' });
      const subtask = stack.asana.createSubtask(parent.gid, { name: 'Book the venue' });
      const row = await eventually(() => {
        const found = rowOf(subtask.gid);
        assert.ok(found);
        return found;
      });
      assert.deepEqual(row, { 'Task ID': subtask.gid, Name: 'Book the venue', Parent: 'Launch plan', Projects: 'Campaigns', Synced: true });
      // the parent's own sync is another run, which may write its row a moment later
      await eventually(() => assert.equal(rowOf(parent.gid)?.Synced, true));
    });

    it('lists, in a full reconcile, the subtasks whose events never came', async () => {
      const parent = stack.asana.createTask(stack.project.gid, { name: 'Quiet parent' });
      await eventually(() => assert.ok(rowOf(parent.gid)));
      stack.asana.configure({ newTaskEvents: 0 });
      const subtasks = [1, 2].map((i) => stack.asana.createSubtask(parent.gid, { name: `Quiet ${i}` }));
      stack.asana.configure({ newTaskEvents: 3 });
      const result = await reconcileFull(stack);
      assert.equal(result.created, 2);
      assert.deepEqual(
        subtasks.map((s) => rowOf(s.gid)?.Parent),
        ['Quiet parent', 'Quiet parent'],
      );
    });

    it('keeps the row of a task removed from its only synced project, marked: unticked, in no project', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Leaves, kept' });
      await eventually(() => assert.equal(rowOf(task.gid)?.Synced, true));
      stack.asana.removeFromProject(task.gid, stack.project.gid);
      assert.equal((await runEnds(stack, task.gid, 'left')).row, 'kept');
      assert.deepEqual(rowOf(task.gid), { 'Task ID': task.gid, Name: 'Leaves, kept' });
    });

    it('marks, in a full reconcile, the row of a task that left while no webhook listened, and of its subtask', async () => {
      const task = stack.asana.createTask(stack.project.gid, { name: 'Left silently, kept' });
      const subtask = stack.asana.createSubtask(task.gid, { name: 'Its subtask' });
      await eventually(() => assert.equal(rowOf(subtask.gid)?.Synced, true));
      stack.asana.editTaskSilently(task.gid, { projects: [] });
      const result = await reconcileFull(stack);
      assert.equal(result.updated, 2);
      assert.equal(result.deleted, 0);
      assert.deepEqual(rowOf(task.gid), { 'Task ID': task.gid, Name: 'Left silently, kept' });
      assert.deepEqual(rowOf(subtask.gid), { 'Task ID': subtask.gid, Name: 'Its subtask', Parent: 'Left silently, kept' });
      assert.deepEqual((await reconcileFull(stack)).updated, 0, 'marked once');
    });

    it("sent and took only what Asana's spec allows: subtask listings, subtask and removal events", async () => {
      const spec = await AsanaSpec.load();
      const { exchanges = [], deliveredEvents = [] } = stack.asana;
      assert.ok(exchanges.some((e) => spec.operationOf(e)?.operationId === 'getSubtasksForTask'));
      const events = deliveredEvents.flat();
      assert.ok(events.some((e) => e.action === 'added' && e.parent?.resource_type === 'task'));
      assert.ok(events.some((e) => e.action === 'removed' && e.parent?.resource_type === 'project'));
      const problems = [...exchanges.flatMap((e) => spec.problems(e)), ...deliveredEvents.flatMap((batch) => spec.events(batch))];
      assert.deepEqual([...new Set(problems)].slice(0, 10), []);
    });
  });
});
