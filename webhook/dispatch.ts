/** Hands task events to Temporal: one workflow per task, started or signalled in one call. */
import type { Client } from '@temporalio/client';
import { syncTaskWorkflow, taskEventSignal } from '../workflows';
import { ASANA_PROJECT_GID, ASANA_TASK_GID, taskWorkflowId } from '../workflows/search-attributes';

export type Dispatch = (projectGid: string, byTask: Map<string, string[]>, receivedAt: number) => Promise<void>;

/** Asana waits 10 s for an answer; give up before that so it sees a 503 and retries. */
export const DISPATCH_DEADLINE_MS = 8_000;

/**
 * Rejects after `ms` whatever `work` does. The gRPC deadline alone is not enough: while the
 * client reconnects, calls have been seen to take longer than it. A call that still lands after
 * we answered 503 is harmless: Asana's retry signals the same workflow again.
 */
async function within<T>(ms: number, work: Promise<T>, inFlight: Set<Promise<unknown>>): Promise<T> {
  // A call we stop waiting for still runs (and retries) until its gRPC deadline: remember it, so
  // the connection is not closed under it.
  inFlight.add(work);
  void work.then(
    () => inFlight.delete(work),
    () => inFlight.delete(work),
  );
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

/** `inFlight` collects the calls under way, for a shutdown to wait for before closing the connection. */
export function temporalDispatch(client: Client, taskQueue: string, inFlight: Set<Promise<unknown>>): Dispatch {
  return async (projectGid, byTask, receivedAt) => {
    const deadline = Date.now() + DISPATCH_DEADLINE_MS;
    await within(DISPATCH_DEADLINE_MS, client.withDeadline(deadline, () =>
      Promise.all(
        [...byTask].map(([taskGid, actions]) => signalTask(client, taskQueue, taskGid, actions[actions.length - 1], projectGid, receivedAt)),
      ),
    ), inFlight);
  };
}
