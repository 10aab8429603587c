/** Hands journaled task events to Temporal: one workflow per task, started or signalled in one call. */
import type { Client } from '@temporalio/client';
import { signalTask, startTaskCheck } from '../client';
import { grpcCode } from '../temporal/connection';
import { within } from '../lib/within';
import type { CheckTasksInput } from '../workflows';
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

/** What learns from check runs' results (unseen-tasks.ts). */
export interface CheckVerdicts {
  checked(projectGid: string, asked: readonly string[], notListed: readonly string[]): void;
  /** Whether the project's next check should wait for this one's result. */
  awaitsVerdict(projectGid: string): boolean;
}

/**
 * Forwards a batch of journaled events of one project as one check run (checkTasksWorkflow), and
 * tells `verdicts` what the run found if it ends within CHECK_RESULT_MS (a shutdown waits for the
 * wait; a run that lists its tasks ends well within it). While the project awaits a verdict, the
 * forward ends only then, so the journal's next check of it waits for the verdict.
 */
export function temporalCheck(
  connected: () => Client | undefined,
  taskQueue: string,
  inFlight: Set<Promise<unknown>>,
  verdicts: CheckVerdicts,
): CheckForward {
  const send = temporalCall(connected, inFlight);
  return async (entries) => {
    const input: CheckTasksInput = {
      projectGid: entries[0].projectGid,
      tasks: entries.map(({ taskGid, receivedAt, changedAt }) => ({ taskGid, receivedAt, changedAt })),
    };
    let learned: Promise<void> = Promise.resolve();
    await send(`a check of ${entries.length} task events`, async (client) => {
      const run = await startTaskCheck(client, taskQueue, input);
      const result = client.withDeadline(Date.now() + CHECK_RESULT_MS, () => run.result());
      learned = within(CHECK_RESULT_MS, result, 'Temporal', inFlight).then(
        (found) =>
          verdicts.checked(
            input.projectGid,
            input.tasks.map((t) => t.taskGid),
            found.notListed,
          ),
        () => {}, // no answer in time: nothing learned
      );
    });
    if (verdicts.awaitsVerdict(input.projectGid)) await learned;
  };
}
