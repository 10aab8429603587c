/** One error type for both APIs' failures, free of Temporal so the CLI can use it too. */
import { boundedWait } from './waits';

export type Service = 'Asana' | 'Airtable';

/** An API's error text is shown (logs, the Web UI, the CLI) up to this many characters: an answer may carry megabytes of it. */
const MAX_MESSAGE_CHARS = 1_000;
const shortened = (text: string): string => (text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text);

export class ApiError extends Error {
  /** How long the API asked us to wait (429), MAX_WAIT_MS at most whatever it asked. */
  readonly retryAfterMs?: number;

  constructor(
    readonly service: Service,
    /** HTTP status; undefined when no answer came (network error, timeout). */
    readonly status: number | undefined,
    message: string,
    retryAfterMs?: number,
  ) {
    super(`${service} ${status === undefined ? 'unreachable' : `answered ${status}`}: ${shortened(message)}`);
    this.name = 'ApiError';
    this.retryAfterMs = retryAfterMs === undefined ? undefined : boundedWait(retryAfterMs);
  }

  get retryable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * An answer beyond what the service takes from an API: larger than MAX_ANSWER_BYTES (http-bounds.ts),
 * or a listing whose pages do not end. Not retried: asking again gets the same answer, at the same
 * cost, while a failure says at once what is wrong.
 */
export class AnswerOutOfBounds extends ApiError {
  constructor(service: Service, message: string) {
    super(service, undefined, message);
    this.message = `${service}'s answer is out of bounds: ${message}`;
    this.name = 'AnswerOutOfBounds';
  }

  override get retryable(): boolean {
    return false;
  }
}

/**
 * Sends a request, and sends it again after the pause `pauseBefore` names for its failure (at most
 * MAX_WAIT_MS); when it names none, the failure propagates. `attempt` counts from 0.
 */
export async function retrying<T>(
  send: (attempt: number) => Promise<T>,
  pauseBefore: (err: unknown, attempt: number) => number | undefined,
): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send(attempt);
    } catch (err) {
      const pause = pauseBefore(err, attempt);
      if (pause === undefined) throw err;
      await new Promise((resolve) => setTimeout(resolve, boundedWait(pause)));
    }
  }
}

/** Pauses before re-sending a request the server failed with a 5xx: short, as such hiccups are. */
export const SERVER_ERROR_RETRY_DELAYS_MS = [250, 1000];

/**
 * Sends an idempotent request, and sends it again after a short pause when the server answers
 * 5xx. Cheaper than failing the whole activity to Temporal's back-off (which grows to a minute
 * and, for a batched write, would fail every row in it); anything else propagates at once:
 * a 429 pauses the caller's pacer and Temporal retries after the API's own wait.
 */
export function retryingServerErrors<T>(send: (attempt: number) => Promise<T>): Promise<T> {
  return retrying(send, (err, attempt) => {
    const serverError = err instanceof ApiError && err.status !== undefined && err.status >= 500;
    return serverError ? SERVER_ERROR_RETRY_DELAYS_MS[attempt] : undefined;
  });
}
