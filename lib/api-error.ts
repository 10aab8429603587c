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
