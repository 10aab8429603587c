/**
 * The bounds of every request to Asana and Airtable, whichever client sends it: an answer larger
 * than MAX_ANSWER_BYTES is cut off, and the whole exchange, body included, must end within the
 * request's timeout. (axios's own timeout, like airtable.js's, stops counting once the headers are
 * in, so a body that trickled in was waited for without end.)
 */
import axios, { AxiosError, type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import { AnswerOutOfBounds, ApiError, type Service } from './api-error';

/**
 * The largest answer taken, each way. The largest honest answers are pages of 100 tasks or rows:
 * full long-text cells in characters of three bytes come close to it, and nothing else does.
 */
export const MAX_ANSWER_BYTES = 32 * 2 ** 20;

/** An axios client whose every request is bounded: MAX_ANSWER_BYTES each way, `timeout` for the whole exchange. */
export function boundedAxios(config: CreateAxiosDefaults & { timeout: number }): AxiosInstance {
  const http = axios.create({ maxContentLength: MAX_ANSWER_BYTES, maxBodyLength: MAX_ANSWER_BYTES, ...config });
  const late = `no whole answer within ${config.timeout} ms`;
  http.interceptors.request.use((request) => {
    request.signal ??= AbortSignal.timeout(config.timeout);
    return request;
  });
  http.interceptors.response.use(undefined, (err: unknown) => {
    if (err instanceof AxiosError && err.code === AxiosError.ERR_CANCELED) err.message = late; // axios says only "canceled"
    return Promise.reject(err);
  });
  return http;
}

/** The ApiError of a request of a bounded client that broke a bound; undefined for any other failure. */
export function boundBroken(service: Service, err: unknown): ApiError | undefined {
  if (!(err instanceof AxiosError)) return undefined;
  if (err.code === AxiosError.ERR_CANCELED) return new ApiError(service, undefined, err.message);
  // axios says so only in its message, with no code of its own.
  if (err.message.startsWith('maxContentLength')) {
    const request = `${err.config?.method?.toUpperCase()} ${err.config?.url}`;
    return new AnswerOutOfBounds(service, `${request} answered more than the ${err.config?.maxContentLength} bytes left for it`);
  }
  return undefined;
}

/** A bounded client's answer text as JSON; undefined when it is not JSON (or not text). */
export function parsedOrUndefined(text: unknown): unknown {
  try {
    return typeof text === 'string' ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
