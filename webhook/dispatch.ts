/** Hands journaled task events to Temporal: one workflow per task, started or signalled in one call. */
import type { Client } from '@temporalio/client';
import { signalTask, startTaskCheck } from '../client';
import { grpcCode } from '../lib/temporal';
import { within } from '../lib/within';
import type { CheckTasksInput, CheckTasksResult } from '../workflows';
import { Unforwardable, type CheckForward, type Forward } from './journal';

/** A call Temporal has not answered in this long fails; the journal tries the event again. */
export const SIGNAL_DEADLINE_MS = 8_000;
/**
 * gRPC codes that say this one event is wrong (INVALID_ARGUMENT: a run past its signal limit, an
 * id too long; OUT_OF_RANGE): it is set aside. Every other failure, FAILED_PRECONDITION (a
 * namespace not active) among them, counts as Temporal being unavailable and stops intake.
 */
const UNFIXABLE_CODES = new Set([3, 11]);

/**
 * Makes a call through the client `connected` gives (none yet: it fails, and is tried again),
 * within SIGNAL_DEADLINE_MS. `inFlight` collects the calls under way, for a shutdown to wait for
 * before closing the connection. A refusal no retry can fix becomes Unforwardable.
 */
function temporalCall(connected: () => Client | undefined, inFlight: Set<Promise<unknown>>) {
  return async (what: string, call: (client: Client) => Promise<unknown>): Promise<void> => {
    const client = connected();
    if (!client) throw new Error('not connected to Temporal');
    try {
      // The gRPC deadline alone is not enough: while the client reconnects, calls have been seen to
      // take longer. A call that still lands after we gave up is harmless: the retry sends again.
      await within(
        SIGNAL_DEADLINE_MS,
        client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => call(client)),
        'Temporal',
        inFlight,
      );
    } catch (err) {
      const code = grpcCode(err);
      if (code !== undefined && UNFIXABLE_CODES.has(code))
        throw new Unforwardable(`Temporal refused ${what} (gRPC code ${code}): ${(err as Error).message}`);
      throw err;
    }
  };
}

/** Forwards one journaled event: its task's workflow is started or signalled. */
export function temporalForward(connected: () => Client | undefined, taskQueue: string, inFlight: Set<Promise<unknown>>): Forward {
  const send = temporalCall(connected, inFlight);
  return (entry) => send(`task ${entry.taskGid}`, (client) => signalTask(client, taskQueue, entry));
}

/** How long the webhook waits for a check run's result, to learn what Asana listed (unseen-tasks.ts). */
export const CHECK_RESULT_MS = 5_000;

/**
 * Forwards a batch of journaled events of one project as one check run (checkTasksWorkflow);
 * `onResult` hears what the run found if it ends within CHECK_RESULT_MS: a shutdown waits for
 * the wait, and a run that lists its tasks ends well within it.
 */
export function temporalCheck(
  connected: () => Client | undefined,
  taskQueue: string,
  inFlight: Set<Promise<unknown>>,
  onResult: (input: CheckTasksInput, result: CheckTasksResult) => void,
): CheckForward {
  const send = temporalCall(connected, inFlight);
  return (entries) => {
    const input: CheckTasksInput = {
      projectGid: entries[0].projectGid,
      tasks: entries.map(({ taskGid, receivedAt, changedAt }) => ({ taskGid, receivedAt, changedAt })),
    };
    return send(`a check of ${entries.length} task events`, async (client) => {
      const run = await startTaskCheck(client, taskQueue, input);
      const result = client.withDeadline(Date.now() + CHECK_RESULT_MS, () => run.result());
      within(CHECK_RESULT_MS, result, 'Temporal', inFlight).then(
        (found) => onResult(input, found),
        () => {}, // no answer in time: nothing learned
      );
    });
  };
}
