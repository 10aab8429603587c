/**
 * Every wait has a ceiling. Whatever an API asks for (Retry-After), a value in Redis says or a
 * setting is, nothing in this service waits longer than MAX_WAIT_MS at a time: Asana's rate limits
 * are per minute and Airtable's lock-out is shorter, so no honest answer asks for more. (Node also
 * fires a timer beyond its longest delay after a millisecond, which made a huge wait a busy loop.)
 */
export const MAX_WAIT_MS = 60_000;

/** `ms` taken into 0…MAX_WAIT_MS; NaN, a wait that cannot be read, counts as the ceiling. */
export function boundedWait(ms: number): number {
  return Number.isNaN(ms) ? MAX_WAIT_MS : Math.min(Math.max(ms, 0), MAX_WAIT_MS);
}
