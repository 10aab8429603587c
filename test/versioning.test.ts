import { readFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './support/temporal';

describe('workflow versioning', () => {
  it('replays a sync recorded when syncs were activity tasks (before the sync-as-local-activity patch)', async () => {
    // Recorded from commit f01b6ad: a run that scheduled syncTaskRow as an activity task. A
    // workflow change that such a run cannot replay fails here with a determinism error.
    const json: unknown = JSON.parse(readFileSync(path.join(__dirname, 'fixtures/sync-task-as-activity-task.history.json'), 'utf8'));
    const history = temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });
});
