/** Asana's REST API over axios: auth, timeouts, the `{data}` envelope, and errors as ApiError (never with the token). */
import axios, { AxiosError, type AxiosInstance, type Method } from 'axios';
import type { AsanaConfig } from '../config';
import { ApiError, retryingServerErrors } from './api-error';
import { escapeMarkdown } from './markdown';
import { asanaBudget, asanaKind, pacerFor } from './budgets';
import type { Pacing } from './pacer';
import { within } from './within';

export const REQUEST_TIMEOUT_MS = 15_000;

export type Params = Record<string, string | number | undefined>;

interface AsanaErrorBody {
  errors?: { message?: string }[];
}

export interface Page<T> {
  data: T[];
  nextOffset?: string;
}

export class AsanaApi {
  private readonly http: AxiosInstance;
  private readonly pacer: Pacing;

  constructor(config: Pick<AsanaConfig, 'baseUrl' | 'accessToken' | 'requestsPerMinute'>) {
    this.pacer = pacerFor(asanaBudget(config));
    this.http = axios.create({
      baseURL: config.baseUrl,
      timeout: REQUEST_TIMEOUT_MS,
      headers: { Authorization: `Bearer ${config.accessToken}`, Accept: 'application/json' },
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

  /** One page of a list endpoint (limit/offset pagination). */
  async page<T>(path: string, params: Params): Promise<Page<T>> {
    const body = await this.raw<{ data: T[]; next_page?: { offset: string } | null }>('GET', path, { params: { limit: 100, ...params } });
    return { data: body.data, nextOffset: body.next_page?.offset };
  }

  /** Every item of a list endpoint, page by page. */
  async all<T>(path: string, params: Params): Promise<T[]> {
    const items: T[] = [];
    let offset: string | undefined;
    do {
      const page = await this.page<T>(path, { ...params, offset });
      items.push(...page.data);
      offset = page.nextOffset;
    } while (offset);
    return items;
  }

  /** The whole response body, for endpoints that put more than `data` in it. Reads are re-sent after a 5xx. */
  raw<T>(method: Method, path: string, options: { params?: Params; data?: unknown } = {}): Promise<T> {
    return method === 'GET' ? retryingServerErrors(() => this.send<T>(method, path, options)) : this.send<T>(method, path, options);
  }

  private send<T>(method: Method, path: string, { params, data }: { params?: Params; data?: unknown }): Promise<T> {
    return this.pacer.run(async () => {
      try {
        return (await this.http.request<T>({ method, url: path, params, data })).data;
      } catch (err) {
        const apiError = asApiError(err);
        if (apiError.status === 429) this.pacer.pause(apiError.retryAfterMs ?? 60_000);
        throw apiError;
      }
    }, asanaKind(method));
  }
}

function asApiError(err: unknown): ApiError {
  if (!(err instanceof AxiosError)) return new ApiError('Asana', undefined, String(err));
  const response = err.response;
  if (!response) return new ApiError('Asana', undefined, err.code ?? err.message);
  const message = (response.data as AsanaErrorBody | undefined)?.errors?.[0]?.message ?? response.statusText;
  const retryAfter = Number(response.headers['retry-after']);
  return new ApiError('Asana', response.status, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
}
