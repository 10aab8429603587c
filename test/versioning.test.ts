import { readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './support/temporal';

/** Replays a recorded history on today's workflow code: a change it cannot replay fails with a determinism error. */
async function replay(fixture: string): Promise<void> {
  const json: unknown = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', fixture), 'utf8'));
  const history = temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
}

describe('workflow versioning', () => {
  it('replays a sync recorded when syncs were activity tasks (before the sync-as-local-activity patch)', () =>
    replay('sync-task-as-activity-task.history.json')); // commit f01b6ad

  it('replays a sync and a full reconcile recorded before runs carried summaries and current details', async () => {
    await replay('sync-task-local-activity.history.json'); // commit f072cb3
    await replay('reconcile-full.history.json');
  });
});
