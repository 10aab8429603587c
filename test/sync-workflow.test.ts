/** The sync workflow on the real dev server, with stub activities: how many syncs its events cost. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Freshness } from '../activities/asana-client';
import { syncTaskWorkflow, taskEventSignal, type TaskEvent } from '../workflows';
import { eventually } from './support/stack';
import { devServer, workflowBundle } from './support/temporal';

const CHANGED_AT = '2026-11-29T10:00:00.000Z';

describe('the sync workflow, with stub activities', function () {
  this.timeout(60_000);

  /** Starts a run with `first`, sends `second` while its first sync is under way; what each sync was asked, and the result. */
  async function run(first: TaskEvent, second: TaskEvent) {
    const taskQueue = `sync-workflow-${randomUUID()}`;
    const asked: (Freshness | number | undefined)[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
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
    const connection = await NativeConnection.connect({ address: devServer().address });
    const client = new Client({ connection: await Connection.connect({ address: devServer().address }) });
    try {
      const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities });
      const result = await worker.runUntil(async () => {
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
    } finally {
      await client.connection.close();
      await connection.close();
    }
  }

  it('does not sync again for another event of a change its last read showed', async () => {
    const { asked, result } = await run({ action: 'added', changedAt: CHANGED_AT }, { action: 'changed', changedAt: CHANGED_AT });
    assert.deepEqual(result, { status: 'synced', syncs: 1 });
    assert.deepEqual(asked, [{ changedAt: CHANGED_AT }]);
  });

  it('syncs again for a later change, and for an event without a time', async () => {
    const later = await run({ action: 'added', changedAt: CHANGED_AT }, { action: 'changed', changedAt: '2026-11-29T10:00:05.000Z' });
    assert.deepEqual(later.result, { status: 'synced', syncs: 2 });
    assert.deepEqual(later.asked.at(-1), { changedAt: '2026-11-29T10:00:05.000Z' });
    const untimed = await run({ action: 'added', changedAt: CHANGED_AT }, { action: 'changed', receivedAt: 5 });
    assert.deepEqual(untimed.result, { status: 'synced', syncs: 2 });
    const manual = await run({ action: 'added', changedAt: CHANGED_AT }, { action: 'manual' });
    assert.deepEqual([manual.result.syncs, manual.asked.at(-1)], [2, undefined], 'a manual sync always reads anew');
  });
});
