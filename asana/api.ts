/**
 * Asana's REST API over axios: auth, timeouts, the `{data}` envelope, and errors as ApiError (never
 * with the token). Whatever answers is bounded: its size and time (http-bounds.ts), the pages of a
 * listing, and how long a 429 may hold requests back (waits.ts).
 */
import { AxiosError, type AxiosInstance, type Method } from 'axios';
import type { AsanaConfig } from '../config';
import { AnswerOutOfBounds, ApiError, retryingServerErrors } from '../lib/api-error';
import { boundBroken, boundedAxios, MAX_ANSWER_BYTES, parsedOrUndefined } from '../lib/http-bounds';
import { escapeMarkdown } from '../lib/markdown';
import { asanaBudget, asanaKind, type Budgets } from '../budgets';
import type { Pacing } from '../budgets/pacer';
import { MAX_WAIT_MS } from '../lib/waits';
import { within } from '../lib/within';

export const REQUEST_TIMEOUT_MS = 15_000;
/** The most pages `all` reads: its listings (a project's webhooks or custom fields) have far fewer. */
export const MAX_LISTING_PAGES = 100;

export type Params = Record<string, string | number | undefined>;

interface AsanaErrorBody {
  errors?: { message?: string }[];
}

export interface Page<T> {
  data: T[];
  nextOffset?: string;
}

/** An answer's body, and its size. */
interface Answer<T> {
  body: T;
  bytes: number;
}

type ListAnswer<T> = { data: T[]; next_page?: { offset: string } | null };

export class AsanaApi {
  private readonly http: AxiosInstance;
  private readonly pacer: Pacing;

  /** `budgets`: the process's, whose pacer for the token every client of it shares. */
  constructor(config: Pick<AsanaConfig, 'baseUrl' | 'accessToken' | 'requestsPerMinute'>, budgets: Budgets) {
    this.pacer = budgets.pacer(asanaBudget(config));
    this.http = boundedAxios({
      baseURL: config.baseUrl,
      timeout: REQUEST_TIMEOUT_MS,
      headers: { Authorization: `Bearer ${config.accessToken}`, Accept: 'application/json' },
      responseType: 'text', // parsed here, once its size is known
    });
  }

  /** How a project is named in summaries: its name and gid, or the gid alone when Asana does not say within `withinMs`. */
  async projectLabel(gid: string, withinMs = 3_000): Promise<string> {
    const project = this.call<{ name?: string }>('GET', `/projects/${encodeURIComponent(gid)}`, { params: { opt_fields: 'name' } });
    const name = await within(withinMs, project, 'Asana').then(
      (found) => found.name,
      () => undefined,
    );
    return name ? `"${escapeMarkdown(name)}" (${gid})` : gid;
  }

  /** A request's `data`; throws ApiError. */
  async call<T>(method: Method, path: string, options: { params?: Params; data?: unknown } = {}): Promise<T> {
    return (await this.raw<{ data: T }>(method, path, options)).data;
  }

  /** One page of a list endpoint (limit/offset pagination); a page that names itself as the next one is out of bounds. */
  async page<T>(path: string, params: Params): Promise<Page<T>> {
    return (await this.listed<T>(path, params, MAX_ANSWER_BYTES)).page;
  }

  /**
   * Every item of a list endpoint, page by page: at most MAX_LISTING_PAGES pages of MAX_ANSWER_BYTES
   * in all, and no page twice; a listing beyond these is out of bounds.
   */
  async all<T>(path: string, params: Params): Promise<T[]> {
    let items: T[] = [];
    const offsets = new Set<string>();
    let bytesLeft = MAX_ANSWER_BYTES;
    let offset: string | undefined;
    for (let pages = 1; ; pages += 1) {
      const { page, bytes } = await this.listed<T>(path, { ...params, offset }, bytesLeft);
      items = items.concat(page.data);
      bytesLeft -= bytes;
      offset = page.nextOffset;
      if (!offset) return items;
      if (offsets.has(offset)) throw new AnswerOutOfBounds('Asana', `the listing of ${path} names a page it named before`);
      if (pages >= MAX_LISTING_PAGES) throw new AnswerOutOfBounds('Asana', `the listing of ${path} goes on past ${pages} pages`);
      offsets.add(offset);
    }
  }

  /** The whole response body, for endpoints that put more than `data` in it. Reads are re-sent after a 5xx. */
  async raw<T>(method: Method, path: string, options: { params?: Params; data?: unknown } = {}): Promise<T> {
    return (await this.answer<T>(method, path, options, MAX_ANSWER_BYTES)).body;
  }

  /** A page of a listing, and its size: `maxBytes` at most. */
  private async listed<T>(path: string, params: Params, maxBytes: number): Promise<{ page: Page<T>; bytes: number }> {
    const { body, bytes } = await this.answer<ListAnswer<T>>('GET', path, { params: { limit: 100, ...params } }, maxBytes);
    const nextOffset = body.next_page?.offset;
    if (nextOffset !== undefined && nextOffset === params.offset)
      throw new AnswerOutOfBounds('Asana', `the listing of ${path} names a page as the one after itself`);
    return { page: { data: body.data, nextOffset }, bytes };
  }

  private answer<T>(method: Method, path: string, options: { params?: Params; data?: unknown }, maxBytes: number): Promise<Answer<T>> {
    const send = () => this.send<T>(method, path, options, maxBytes);
    return method === 'GET' ? retryingServerErrors(send) : send();
  }

  /** One request in a paced slot; given up while it waits for one when the process shuts down. */
  private send<T>(
    method: Method,
    path: string,
    { params, data }: { params?: Params; data?: unknown },
    maxBytes: number,
  ): Promise<Answer<T>> {
    return this.pacer.run(async () => {
      try {
        const text = (await this.http.request<string>({ method, url: path, params, data, maxContentLength: maxBytes })).data;
        return { body: (text === '' ? undefined : JSON.parse(text)) as T, bytes: Buffer.byteLength(text) };
      } catch (err) {
        const apiError = asApiError(err);
        if (apiError.status === 429) this.pacer.pause(apiError.retryAfterMs ?? MAX_WAIT_MS);
        throw apiError;
      }
    }, asanaKind(method));
  }
}

function asApiError(err: unknown): ApiError {
  const broken = boundBroken('Asana', err);
  if (broken) return broken;
  if (!(err instanceof AxiosError)) return new ApiError('Asana', undefined, String(err));
  const response = err.response;
  if (!response) return new ApiError('Asana', undefined, err.code ?? err.message);
  const message = (parsedOrUndefined(response.data) as AsanaErrorBody | undefined)?.errors?.[0]?.message ?? response.statusText;
  const retryAfter = Number(response.headers['retry-after']);
  return new ApiError('Asana', response.status, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
}
