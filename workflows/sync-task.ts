import {
  continueAsNew,
  defineSignal,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  workflowInfo,
  type LocalActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { owing, readShows, type Freshness, type TaskChange } from '../rows/freshness';
import { escapeMarkdown } from '../lib/markdown';

export interface SyncTaskInput {
  taskGid: string;
  projectGid?: string;
}

export interface SyncTaskResult {
  /**
   * 'gone' when Asana no longer has the task (its row then follows ASANA_DELETED_TASKS); 'left'
   * when it is in none of the synced projects but had a row (which follows the same policy);
   * 'skipped' when it is in none and had no row (none is written; `reason` says so).
   */
  status: 'synced' | 'gone' | 'left' | 'skipped';
  syncs: number;
  /** For a gone or left task: what happened to its row. */
  row?: 'kept' | 'deleted';
  reason?: string;
}

/** Every webhook event for the task (its change, rows/freshness.ts); the webhook sends it with signalWithStart. */
export const taskEventSignal = defineSignal<[TaskChange]>('taskEvent');

const startToCloseTimeout = '2 minutes';
// Unlimited attempts: an outage only delays a row. 401/403/422 fail fast (non-retryable), and
// 429s wait for Retry-After or Airtable's 30 s lock-out through nextRetryDelay.
const retry: RetryPolicy = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' };

/**
 * Local activities: the worker runs them inside the workflow task that schedules them, so a sync
 * costs the server one workflow task instead of two plus an activity task, the server's CPU being
 * what bounds a burst on a small host. If the
 * worker dies mid-sync, the workflow task times out (10 s) and another worker runs the sync again;
 * the upsert is idempotent, so a re-run cannot add a row. While a sync runs longer than the
 * workflow task's timeout (a queue of rows, Airtable's 30 s lock-out), the SDK keeps it alive.
 */
const localOptions: LocalActivityOptions = {
  startToCloseTimeout,
  retry,
  // Every wait between attempts is a durable timer on the server, not a wait inside the worker:
  // an outage then costs nothing while it lasts (a waiting local activity keeps its workflow task
  // open and renews it every 8 s), each failed attempt shows in the history as a marker, and the
  // SDK's in-worker retries, which leave a start-to-close timer behind for every attempt (SDK
  // 1.24), are never used.
  localRetryThreshold: 0,
};
const local = {
  syncTaskRow: proxyLocalActivities<Activities>({
    ...localOptions,
    summary: 'Read the task from Asana and upsert its row in "Asana Tasks"',
  }).syncTaskRow,
  handleDeletedTask: proxyLocalActivities<Activities>({
    ...localOptions,
    summary: 'Apply ASANA_DELETED_TASKS to the row of a task Asana no longer has',
  }).handleDeletedTask,
};

/**
 * Runs started before syncs became local activities scheduled activity tasks; they must replay
 * as they ran, so a deploy in the middle of their sync (or of an outage's retries) does not break
 * them. Remove with deprecatePatch once no such run is left.
 */
const remote = proxyActivities<Activities>({ startToCloseTimeout, retry });

const syncCount = (syncs: number): string => (syncs === 1 ? '1 sync' : `${syncs} syncs`);

/**
 * One run per task at a time (id asana-task-<gid>). Each sync reads the task's current state, so
 * any number of events that arrive during a sync cost exactly one more sync, and the row always
 * ends as the task is now, whatever order the events came in.
 */
export async function syncTaskWorkflow(input: SyncTaskInput): Promise<SyncTaskResult> {
  let pending = true; // the event that started this run
  let owed: Freshness = {}; // what a read must show to serve the events not yet synced
  setHandler(taskEventSignal, (event) => {
    pending = true;
    owed = owing(owed, event);
  });
  const { syncTaskRow, handleDeletedTask } = patched('sync-as-local-activity') ? local : remote;
  let syncs = 0;
  let result: SyncTaskResult = { status: 'synced', syncs: 0 };
  let shown: string | undefined; // the modified_at of the task as the last sync read and wrote it
  // Events, all timed by Asana, of changes the last sync's read already showed (Asana sends
  // several for one change, a delivery apart): no sync needed. When that read started does not
  // matter to timed events, and an untimed one always needs a new read.
  const alreadyShown = () => shown !== undefined && readShows({ readAt: -Infinity, modifiedAt: shown }, owed);
  while (pending) {
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof syncTaskWorkflow>(input);
    pending = false;
    if (alreadyShown()) {
      owed = {};
      continue;
    }
    const fresh = owed.readRequired ? undefined : { notBefore: owed.notBefore, changedAt: owed.changedAt };
    owed = {};
    const synced = await syncTaskRow(input.taskGid, input.projectGid, fresh);
    syncs += 1;
    shown = synced !== null && 'modifiedAt' in synced ? synced.modifiedAt : undefined;
    if (synced === null) {
      result = { status: 'gone', syncs, row: await handleDeletedTask(input.taskGid) };
      setCurrentDetails(`Gone from Asana; its row was ${result.row} (${syncCount(syncs)})`);
      continue;
    }
    if ('skipped' in synced) {
      result = { status: 'skipped', syncs, reason: synced.skipped };
      setCurrentDetails(`Not synced: ${escapeMarkdown(synced.skipped)}`);
      continue;
    }
    // Replays safely unpatched: no earlier run's sync returned `left`, and this branch adds no command.
    if ('left' in synced) {
      result = { status: 'left', syncs, row: synced.left };
      setCurrentDetails(`In none of the synced projects any more; its row was ${synced.left} (${syncCount(syncs)})`);
      continue;
    }
    upsertMemo({ taskName: synced.name });
    setCurrentDetails(`**${escapeMarkdown(synced.name)}**: row up to date (${syncCount(syncs)})`);
    result = { status: 'synced', syncs };
  }
  return result;
}
