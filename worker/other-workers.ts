/**
 * Without REDIS_URL a worker paces Airtable and Asana on its own, which only a single worker may
 * do: two such workers together exceed Airtable's 5 requests a second and lock the base out for
 * 30 s at a time. Nothing stops a second worker from starting, so this one says so in its log.
 */
import type { ConnectionLike } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import type { Logger } from '../lib/logger';
import { workflowPollers } from '../temporal/connection';

const CHECK_EVERY_MS = 60_000;

/** The other workers polling the task queue, if any, logged as a warning; false when the check failed. */
export async function warnIfNotAlone(
  connection: Pick<ConnectionLike, 'workflowService' | 'withDeadline'>,
  temporal: Pick<TemporalConfig, 'namespace' | 'taskQueue'>,
  identity: string,
  log: Logger,
): Promise<string[] | false> {
  let others: string[];
  try {
    others = (await workflowPollers(connection, temporal.namespace, temporal.taskQueue)).filter((id) => id !== identity);
  } catch {
    return false; // Temporal unreachable: the worker's own errors say so
  }
  if (others.length > 0)
    log.warn(
      { others },
      'other workers poll this task queue (or did in the last minute) while this one paces Airtable and Asana on its own: set REDIS_URL on every worker so they share one budget (docs/deploying.md)',
    );
  return others;
}

/** Checks at once and every minute until the returned function is called. */
export function watchForOtherWorkers(...args: Parameters<typeof warnIfNotAlone>): () => void {
  void warnIfNotAlone(...args);
  const timer = setInterval(() => void warnIfNotAlone(...args), CHECK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
