/**
 * Reconciliation watermarks, read back from Temporal itself: the results of completed
 * reconcileProjectWorkflow runs, found through the AsanaProjectGid search attribute. Nothing else
 * stores them, so nothing can drift: a deleted schedule, a restarted worker or a failed run at
 * worst means an older watermark (some tasks read twice), never a gap.
 */
import type { Client } from '@temporalio/client';
import type { ReconcileResult } from '../workflows';

/** How many of the newest completed runs to read; the newest continuous one is almost always first. */
const RUNS_TO_READ = 20;

export async function findLastWatermark(client: Client, projectGid: string): Promise<string | undefined> {
  const query = `WorkflowType = 'reconcileProjectWorkflow' AND AsanaProjectGid = '${projectGid}' AND ExecutionStatus = 'Completed'`;
  let newest: string | undefined;
  let read = 0;
  for await (const run of client.workflow.list({ query })) {
    const result = (await client.workflow.getHandle(run.workflowId, run.runId).result()) as Partial<ReconcileResult> | undefined;
    if (result?.continuous && result.watermark && (newest === undefined || result.watermark > newest)) newest = result.watermark;
    if (++read >= RUNS_TO_READ) break;
  }
  return newest;
}
