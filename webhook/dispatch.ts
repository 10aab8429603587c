/** Hands task events to Temporal: one workflow per task, started or signalled in one call. */
import type { Client } from '@temporalio/client';
import { syncTaskWorkflow, taskEventSignal } from '../workflows';
import { ASANA_PROJECT_GID, ASANA_TASK_GID, taskWorkflowId } from '../workflows/search-attributes';

export type Dispatch = (projectGid: string, byTask: Map<string, string[]>, receivedAt: number) => Promise<void>;

/** A call Temporal has not answered in this long fails; the journal tries the delivery again. */
export const SIGNAL_DEADLINE_MS = 8_000;
/**
 * Calls under way at once. Enough to start a couple of hundred workflows a second even at 20 ms a
 * call (Airtable takes 50 rows a second), few enough that a burst of starts does not crowd out
 * the work of the workflows already started: a sync writes its row only once the worker has its
 * first workflow task, and with 32 calls at once the one dev server of the benchmark handed the
 * worker 12 of those a second while it started 200 workflows a second. With syncs as local
 * activities, 2, 4 and 8 calls gave the same burst times in runs of the burst alone; full runs
 * of the benchmark gave 21.9 and 23.1 s with 4, 24.1 s with 8 (BENCHMARKS.md).
 */
const CALLS_IN_FLIGHT = 4;

/**
 * Rejects after `ms` whatever `work` does. The gRPC deadline alone is not enough: while the
 * client reconnects, calls have been seen to take longer than it. A call that still lands after
 * we gave up is harmless: the retry signals the same workflow again.
 */
export async function within<T>(ms: number, work: Promise<T>, inFlight?: Set<Promise<unknown>>): Promise<T> {
  // A call we stop waiting for still runs (and retries) until its gRPC deadline: a caller that
  // must not close the connection under it passes `inFlight` to remember it in.
  if (inFlight) {
    inFlight.add(work);
    void work.then(
      () => inFlight.delete(work),
      () => inFlight.delete(work),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Temporal did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the task's workflow, or signals the running one: what a webhook event does, for one task. */
export function signalTask(client: Client, taskQueue: string, taskGid: string, action: string, projectGid?: string, receivedAt?: number) {
  return client.workflow.signalWithStart(syncTaskWorkflow, {
    workflowId: taskWorkflowId(taskGid),
    taskQueue,
    args: [{ taskGid, projectGid }],
    signal: taskEventSignal,
    signalArgs: [{ action, receivedAt }],
    typedSearchAttributes: [{ key: ASANA_TASK_GID, value: taskGid }, ...(projectGid ? [{ key: ASANA_PROJECT_GID, value: projectGid }] : [])],
  });
}

/** Runs at most `max` of the works given to it at once; the others wait their turn. */
function limiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    while (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await work();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

/**
 * Signals each task of a delivery, CALLS_IN_FLIGHT calls at most across all deliveries, through
 * the client `connected` gives (none yet: the delivery fails, and is tried again). `inFlight`
 * collects the calls under way, for a shutdown to wait for before closing the connection.
 */
export function temporalDispatch(connected: () => Client | undefined, taskQueue: string, inFlight: Set<Promise<unknown>>): Dispatch {
  const limit = limiter(CALLS_IN_FLIGHT);
  return async (projectGid, byTask, receivedAt) => {
    await Promise.all(
      [...byTask].map(([taskGid, actions]) =>
        limit(() => {
          const client = connected();
          if (!client) throw new Error('not connected to Temporal');
          const call = client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => signalTask(client, taskQueue, taskGid, actions[actions.length - 1], projectGid, receivedAt));
          return within(SIGNAL_DEADLINE_MS, call, inFlight);
        }),
      ),
    );
  };
}
