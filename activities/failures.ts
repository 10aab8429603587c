/**
 * The one place that decides what Temporal does with an API error: retry soon, retry after the
 * API's own back-off, or fail at once with a message an operator can act on.
 */
import { ApplicationFailure } from '@temporalio/common';
import { AnswerOutOfBounds, ApiError, type Service } from '../lib/api-error';

const CREDENTIAL_HINT: Record<Service, string> = {
  Asana: 'check ASANA_ACCESS_TOKEN and that its user can see the project',
  Airtable: 'check AIRTABLE_TOKEN (scopes data.records:read/write), AIRTABLE_BASE_ID and AIRTABLE_TABLE_NAME',
};

/** Failure types, for nonRetryableErrorTypes and for operators reading the Web UI. */
export const FailureType = {
  rateLimited: 'RateLimited',
  unavailable: 'ApiUnavailable',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  invalid: 'InvalidRequest',
  outOfBounds: 'AnswerOutOfBounds',
} as const;

export function toActivityFailure(err: ApiError): ApplicationFailure {
  if (err.status === 429) {
    // retryAfterMs is the API's Retry-After, which ApiError bounds: a hostile answer cannot put the retry off for years.
    return ApplicationFailure.create({ message: err.message, type: FailureType.rateLimited, nextRetryDelay: err.retryAfterMs });
  }
  if (err instanceof AnswerOutOfBounds) {
    return ApplicationFailure.create({ message: err.message, type: FailureType.outOfBounds, nonRetryable: true });
  }
  if (err.retryable) return ApplicationFailure.create({ message: err.message, type: FailureType.unavailable });
  if (err.status === 401) {
    return ApplicationFailure.create({
      message: `${err.message} (${CREDENTIAL_HINT[err.service]})`,
      type: FailureType.unauthorized,
      nonRetryable: true,
    });
  }
  if (err.status === 403) {
    return ApplicationFailure.create({
      message: `${err.message} (${CREDENTIAL_HINT[err.service]})`,
      type: FailureType.forbidden,
      nonRetryable: true,
    });
  }
  return ApplicationFailure.create({ message: err.message, type: FailureType.invalid, nonRetryable: true });
}

/** Runs an activity body, turning API errors into the right Temporal failure. */
export async function classified<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw err instanceof ApiError ? toActivityFailure(err) : err;
  }
}
