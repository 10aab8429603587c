/** Hands journaled task events to Temporal: one workflow per task, started or signalled in one call. */
import type { Client } from '@temporalio/client';
import { signalTask } from '../workflows/client';
import { within } from '../lib/within';
import { Unforwardable, type Forward } from './journal';

/** A call Temporal has not answered in this long fails; the journal tries the event again. */
export const SIGNAL_DEADLINE_MS = 8_000;
/**
 * gRPC codes that say this one event is wrong (INVALID_ARGUMENT: a run past its signal limit, an
 * id too long; OUT_OF_RANGE): it is set aside. Every other failure, FAILED_PRECONDITION (a
 * namespace not active) among them, counts as Temporal being unavailable and stops intake.
 */
const UNFIXABLE_CODES = new Set([3, 11]);

/** The gRPC status code of a failed call, wherever the SDK's wrapping put it. */
function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/**
 * Forwards one journaled event through the client `connected` gives (none yet: it fails, and is
 * tried again). `inFlight` collects the calls under way, for a shutdown to wait for before closing
 * the connection. A refusal no retry can fix becomes Unforwardable.
 */
export function temporalForward(connected: () => Client | undefined, taskQueue: string, inFlight: Set<Promise<unknown>>): Forward {
  return async (entry) => {
    const { taskGid } = entry;
    const client = connected();
    if (!client) throw new Error('not connected to Temporal');
    const call = client.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () => signalTask(client, taskQueue, entry));
    try {
      // The gRPC deadline alone is not enough: while the client reconnects, calls have been seen to
      // take longer. A call that still lands after we gave up is harmless: the retry signals again.
      await within(SIGNAL_DEADLINE_MS, call, 'Temporal', inFlight);
    } catch (err) {
      const code = grpcCode(err);
      if (code !== undefined && UNFIXABLE_CODES.has(code))
        throw new Unforwardable(`Temporal refused task ${taskGid} (gRPC code ${code}): ${(err as Error).message}`);
      throw err;
    }
  };
}
