/** One error type for both APIs' failures, free of Temporal so the CLI can use it too. */
export type Service = 'Asana' | 'Airtable';

export class ApiError extends Error {
  constructor(
    readonly service: Service,
    /** HTTP status; undefined when no answer came (network error, timeout). */
    readonly status: number | undefined,
    message: string,
    /** How long the API asked us to wait (429). */
    readonly retryAfterMs?: number,
  ) {
    super(`${service} ${status === undefined ? 'unreachable' : `answered ${status}`}: ${message}`);
    this.name = 'ApiError';
  }

  get retryable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Sends a request, and sends it again after the pause `pauseBefore` names for its failure; when
 * it names none, the failure propagates. `attempt` counts from 0.
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
      await new Promise((resolve) => setTimeout(resolve, pause));
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
