/** The sync workflow on the test server (TestWorkflowEnvironment), with stub activities. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Freshness, TaskChange } from '../rows/freshness';
import type { DevServer } from '../temporal/dev-server';
import { syncTaskWorkflow, taskEventSignal } from '../workflows';
import { eventually } from './support/stack';
import { devServer, startTestServer, workflowBundle } from './support/temporal';

const CHANGED_AT = '2026-11-29T10:00:00.000Z';
const { EventType } = temporal.api.enums.v1;

/** Stub activities that record what each sync was asked, each sync waiting for `gate` to open. */
function stubActivities(gate: Promise<void> = Promise.resolve()) {
  const asked: (Freshness | number | undefined)[] = [];
  const activities = {
    async syncTaskRow(_taskGid: string, _projectGid?: string, fresh?: Freshness | number) {
      asked.push(fresh);
      await gate;
      return { name: 'Stub task', modifiedAt: CHANGED_AT };
    },
    async handleDeletedTask() {
      return 'kept' as const;
    },
  };
  return { asked, activities };
}

async function withWorker<T>(
  env: { client: Client; nativeConnection: NativeConnection },
  activities: object,
  work: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `sync-workflow-${randomUUID()}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(work(taskQueue));
}

describe('the sync workflow, with stub activities', function () {
  this.timeout(60_000);

  /** Starts a run with `first`, sends `second` while its first sync is under way; what each sync was asked, and the result. */
  async function run(first: TaskChange, second: TaskChange) {
    let release!: () => void;
    const { asked, activities } = stubActivities(new Promise<void>((resolve) => (release = resolve)));
    const { client } = devServer().env;
    const result = await withWorker(devServer().env, activities, async (taskQueue) => {
      // A sync longer than 80 % of the workflow task's timeout spans several workflow tasks (the
      // SDK renews it), and a signal then reaches the workflow while its sync runs, as it does
      // while a burst's rows wait for Airtable. (A signal sent during a shorter sync makes the
      // server refuse the task's completion, and the retried task sees both events at once.)
      const handle = await client.workflow.signalWithStart(syncTaskWorkflow, {
        workflowId: `stub-${randomUUID()}`,
        taskQueue,
        workflowTaskTimeout: '2 seconds',
        args: [{ taskGid: '1', projectGid: '2' }],
        signal: taskEventSignal,
        signalArgs: [first],
      });
      await eventually(() => assert.equal(asked.length, 1));
      await handle.signal(taskEventSignal, second);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      release();
      return handle.result();
    });
    return { asked, result };
  }

  it('does not sync again for another event of a change its last read showed', async () => {
    const { asked, result } = await run({ changedAt: CHANGED_AT }, { changedAt: CHANGED_AT });
    assert.deepEqual(result, { status: 'synced', syncs: 1 });
    assert.deepEqual(asked, [{ changedAt: CHANGED_AT }]);
  });

  it('syncs again for a later change, and for an event without a time', async () => {
    const later = await run({ changedAt: CHANGED_AT }, { changedAt: '2026-11-29T10:00:05.000Z' });
    assert.deepEqual(later.result, { status: 'synced', syncs: 2 });
    assert.deepEqual(later.asked.at(-1), { changedAt: '2026-11-29T10:00:05.000Z' });
    const untimed = await run({ changedAt: CHANGED_AT }, { receivedAt: 5 });
    assert.deepEqual(untimed.result, { status: 'synced', syncs: 2 });
    const manual = await run({ changedAt: CHANGED_AT }, {});
    assert.deepEqual([manual.result.syncs, manual.asked.at(-1)], [2, undefined], 'a manual sync always reads anew');
  });

  it('runs a new sync as a local activity under the sync-as-local-activity patch: markers, no activity task', async () => {
    const { activities } = stubActivities();
    const { client } = devServer().env;
    const workflowId = `stub-${randomUUID()}`;
    await withWorker(devServer().env, activities, (taskQueue) =>
      client.workflow.execute(syncTaskWorkflow, { workflowId, taskQueue, args: [{ taskGid: '1' }] }),
    );
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const types = events.map((e) => e.eventType);
    assert.ok(!types.includes(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), 'no activity task');
    const markers = events.flatMap((e) =>
      e.markerRecordedEventAttributes?.markerName ? [e.markerRecordedEventAttributes.markerName] : [],
    );
    assert.ok(markers.includes('core_patch'), `the patch is recorded: ${markers.join(', ')}`);
    assert.ok(markers.includes('core_local_activity'), `the sync is a local activity: ${markers.join(', ')}`);
  });

  describe('on a server that suggests continue-as-new early', () => {
    let server: DevServer;
    before(async () => {
      server = await startTestServer({ dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 30 } });
    });
    after(() => server?.stop());

    it('continues as new once its history grows, and the new run syncs the events still pending', async () => {
      // The first sync waits until every event is sent, so they all reach the first run.
      let release!: () => void;
      const { asked, activities } = stubActivities(new Promise<void>((resolve) => (release = resolve)));
      const { client } = server.env;
      const workflowId = `stub-${randomUUID()}`;
      const result = await withWorker(server.env, activities, async (taskQueue) => {
        const start = () =>
          client.workflow.signalWithStart(syncTaskWorkflow, {
            workflowId,
            taskQueue,
            args: [{ taskGid: '1' }],
            signal: taskEventSignal,
            signalArgs: [{}],
          });
        const first = await start();
        for (let i = 0; i < 40; i += 1) await start(); // each event without a time needs a new read
        release();
        return { firstRunId: first.signaledRunId, outcome: await client.workflow.getHandle(workflowId).result() };
      });
      const firstRun = await client.workflow.getHandle(workflowId, result.firstRunId).describe();
      assert.equal(firstRun.status.name, 'CONTINUED_AS_NEW');
      assert.equal(result.outcome.status, 'synced');
      assert.ok(asked.length >= 2, `synced ${asked.length} times`);
    });
  });
});
