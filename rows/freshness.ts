/**
 * Freshness: which change of a task a sync must show, and whether a read of the task shows it.
 * Every layer goes by these rules (the webhook and its journal merge a task's events, the sync
 * workflow gathers what its next read owes, the task reader serves a read from its cache), so a
 * change is never taken as shown by one and as not shown by another. Pure: the workflow sandbox
 * runs it too.
 *
 * Asana times each change (an event's `created_at`), and a read of the task has the `modified_at`
 * of its latest change: a read whose `modified_at` is at or after a change's time shows it. An
 * event without a time is dated by when the webhook received it instead: a read that started
 * after that (allowing for clock skew) shows it.
 */

/** What is known of one or several changes of a task. */
export interface TaskChange {
  /** The newest change time by Asana's clock (ISO), present only when every event had one. */
  changedAt?: string;
  /** When the webhook received the newest event (ms since the epoch). */
  receivedAt?: number;
}

/**
 * What a read must show to serve a sync: the newest change with a time (`changedAt`), and the
 * newest receipt of an event without one (`notBefore`); `readRequired` when an event had neither,
 * which only a new read serves.
 */
export interface Freshness {
  changedAt?: string;
  notBefore?: number;
  readRequired?: boolean;
}

/** A read of a task: when it started (ms), and the task's modified_at then. */
export interface TaskRead {
  readAt: number;
  modifiedAt?: string;
}

/** Clock difference allowed between the webhook that stamps receipt times and the reader. */
export const CLOCK_SKEW_MS = 1_000;

/** The newer of two change times (ISO, Asana's clock); the one given when the other is not. */
export function newerChange(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * Several changes of one task as one: the newest receipt, and the newest change time when every
 * change has one (else none: a read must then be newer than the receipt).
 */
export function mergeChanges(changes: readonly TaskChange[]): TaskChange {
  const receipts = changes.map((c) => c.receivedAt).filter((t) => t !== undefined);
  const times = changes.map((c) => c.changedAt);
  const changedAt = times.every((t) => t !== undefined) ? times.reduce<string | undefined>(newerChange, undefined) : undefined;
  return {
    ...(changedAt !== undefined ? { changedAt } : {}),
    ...(receipts.length > 0 ? { receivedAt: receipts.reduce((a, b) => Math.max(a, b)) } : {}),
  };
}

/** What the next read owes once `change` has come too. */
export function owing(owed: Freshness, change: TaskChange): Freshness {
  if (change.changedAt !== undefined) return { ...owed, changedAt: newerChange(owed.changedAt, change.changedAt) };
  if (change.receivedAt !== undefined) return { ...owed, notBefore: Math.max(owed.notBefore ?? 0, change.receivedAt) };
  return { ...owed, readRequired: true };
}

/** Whether a read shows everything `owed` asks for; nothing owed is not "shown": a sync with no freshness reads anew. */
export function readShows(read: TaskRead, owed: Freshness): boolean {
  if (owed.readRequired || (owed.changedAt === undefined && owed.notBefore === undefined)) return false;
  if (owed.notBefore !== undefined && read.readAt < owed.notBefore + CLOCK_SKEW_MS) return false;
  if (owed.changedAt === undefined) return true;
  const modified = read.modifiedAt === undefined ? NaN : Date.parse(read.modifiedAt);
  return modified >= Date.parse(owed.changedAt);
}
