/**
 * The small HTTP toolkit both emulators share: a route table, JSON answers, body reading,
 * injected faults (status codes, latency), and a per-route request log for assertions.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Query = URLSearchParams;

export interface Request {
  method: string;
  path: string;
  query: Query;
  headers: http.IncomingHttpHeaders;
  params: Record<string, string>;
  body: Buffer;
}

export interface Response {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: Request) => Response | Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

export interface Fault {
  /** Answer with this status instead of handling the request. */
  status?: number;
  /** Delay before answering (or handling), in milliseconds. */
  latencyMs?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Only requests whose "METHOD /path" matches. */
  match?: RegExp;
  /** How many requests this fault applies to; Infinity until cleared. */
  times: number;
  /** The share of matching requests it applies to (1: every one). */
  probability: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  at: number;
}

/** A request with the answer it got, for contract tests. */
export interface Exchange {
  method: string;
  path: string;
  /** The raw query string, without '?'. */
  query: string;
  body: Buffer;
  status: number;
  answer: unknown;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.replace(/:(\w+)/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  find(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'wrong-method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1])));
      return { handler: route.handler, params };
    }
    return pathMatched ? 'wrong-method' : undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What an outgoing POST got: its status and headers, or why it got none. */
export type PostOutcome = { status: number; headers: http.IncomingHttpHeaders } | 'timeout' | 'error';

/**
 * POSTs as a remote service's sender would, over `agent`'s kept-alive connections: node:http, not
 * fetch, whose CPU per request (about a millisecond) would be taken from the cores the service
 * under test runs on, when Asana's sender is not on our machine at all.
 */
export function post(
  agent: http.Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostOutcome> {
  return new Promise((resolve) => {
    const request = http.request(url, {
      method: 'POST',
      agent,
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    // the whole exchange, not an idle socket, must end in time (Asana: an answer within 10 s)
    const timer = setTimeout(() => {
      resolve('timeout');
      request.destroy();
    }, timeoutMs);
    const settle = (outcome: PostOutcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    request.on('error', () => settle('error'));
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => settle({ status: response.statusCode ?? 0, headers: response.headers }));
      response.on('error', () => settle('error'));
    });
    request.end(body);
  });
}

/** An emulator's HTTP server: routing, faults, request log. Subclasses supply the routes. */
export abstract class EmulatorServer {
  private server?: http.Server;
  private readonly faults: Fault[] = [];
  readonly requests: RequestRecord[] = [];
  /** Set to an array to record every request with its answer. */
  exchanges?: Exchange[];
  url = '';

  protected abstract readonly router: Router;
  /** The API's own answer for "no such route". */
  protected abstract notFound(req: Request): Response;
  /** Runs before routing: auth and rate limits. A Response ends the request there. */
  protected abstract admit(req: Request): Response | undefined;

  /** Injects a fault into the next `times` matching requests (default: every one until cleared). */
  inject(fault: Partial<Fault>): void {
    this.faults.push({ times: Infinity, probability: 1, ...fault });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  count(predicate: (r: RequestRecord) => boolean = () => true): number {
    return this.requests.filter(predicate).length;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject); // e.g. the port is taken: say so, rather than crash
      this.server!.listen(port, host, resolve);
    });
    const { port: bound } = this.server.address() as AddressInfo;
    this.url = `http://${host}:${bound}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex((f) => (!f.match || f.match.test(`${method} ${path}`)) && Math.random() < f.probability);
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private async serve(raw: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of raw) chunks.push(chunk as Buffer);
    const url = new URL(raw.url ?? '/', 'http://emulator');
    const req: Request = {
      method: raw.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: raw.headers,
      params: {},
      body: Buffer.concat(chunks),
    };
    let answer: Response;
    try {
      answer = await this.handle(req);
    } catch (err) {
      answer = { status: 500, body: { error: String(err) } };
    }
    this.requests.push({ method: req.method, path: req.path, status: answer.status, at: Date.now() });
    this.exchanges?.push({
      method: req.method,
      path: req.path,
      query: url.search.slice(1),
      body: req.body,
      status: answer.status,
      answer: answer.body,
    });
    const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      ...answer.headers,
    });
    res.end(payload);
  }

  private async handle(req: Request): Promise<Response> {
    const fault = this.takeFault(req.method, req.path);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.status) return { status: fault.status, body: fault.body, headers: fault.headers };
    const refused = this.admit(req);
    if (refused) return refused;
    const found = this.router.find(req.method, req.path);
    if (found === undefined) return this.notFound(req);
    if (found === 'wrong-method') return { status: 405, body: this.notFound(req).body };
    return found.handler({ ...req, params: found.params });
  }
}

/** Parses a JSON body; undefined when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Opaque pagination tokens, like both APIs hand out. */
export const pageToken = {
  encode: (index: number): string => Buffer.from(JSON.stringify({ i: index })).toString('base64url'),
  decode: (token: string): number | undefined => {
    try {
      const { i } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { i: unknown };
      return typeof i === 'number' && Number.isInteger(i) && i >= 0 ? i : undefined;
    } catch {
      return undefined;
    }
  },
};

/** A sliding-window counter: how many events fell in the last `windowMs`. */
export class SlidingWindow {
  private readonly stamps: number[] = [];
  constructor(private readonly windowMs: number) {}

  /** Records an event now; returns how many events the window holds, this one included. */
  hit(now = Date.now()): number {
    this.prune(now);
    this.stamps.push(now);
    return this.stamps.length;
  }

  size(now = Date.now()): number {
    this.prune(now);
    return this.stamps.length;
  }

  /** Milliseconds until the oldest event leaves the window. */
  msUntilSlot(now = Date.now()): number {
    this.prune(now);
    return this.stamps.length === 0 ? 0 : this.stamps[0] + this.windowMs - now;
  }

  private prune(now: number): void {
    while (this.stamps.length > 0 && this.stamps[0] <= now - this.windowMs) this.stamps.shift();
  }
}
