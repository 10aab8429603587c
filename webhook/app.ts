/**
 * The Asana webhook receiver, in Koa's style: small middlewares, each with one job.
 *   POST /webhooks/asana/:resourceGid  handshake (X-Hook-Secret) or a signed delivery
 *   GET  /healthz                      200 while deliveries are taken (Temporal answers)
 * A delivery is answered 200 only once its task events are written to the journal on their way
 * to Temporal (journal.ts); anything else gets a non-2xx so Asana retries it.
 */
import { randomUUID } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import type { Logger } from '../lib/logger';
import { DeliveryError, parseDelivery, signatureMatches, taskEvents } from './delivery';
import type { Dispatch } from './dispatch';
import type { WebhookMetrics } from './metrics';
import { SecretStore } from './secrets';

export const MAX_BODY_BYTES = 1024 * 1024;
const DELIVERY_PATH = /^\/webhooks\/asana\/([^/]+)\/?$/;

/** How a request ended; each is counted, logged and exported as a metric. */
export const OUTCOMES = [
  'handshake',
  'handshake_refused',
  'heartbeat',
  'delivered',
  'bad_signature',
  'unknown_resource',
  'bad_request',
  'too_large',
  'unsupported_media_type',
  'temporal_unavailable',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface WebhookDeps {
  secrets: SecretStore;
  dispatch: Dispatch;
  log: Logger;
  metrics: WebhookMetrics;
  /** Whether the service takes deliveries now (Temporal answers, the journal has room). */
  ready: () => boolean;
}

/** Counts of each outcome, for /metrics and tests. */
export type OutcomeCounts = Record<Outcome, number> & { events_skipped: number };

interface State {
  log: Logger;
  /** When the request arrived: stamped on its events, so reads after it are known to see them. */
  receivedAt: number;
  outcome?: Outcome;
  resourceGid: string;
  body: Buffer;
}

function reply(ctx: Context, status: number, outcome: Outcome, message?: string): void {
  (ctx.state as State).outcome = outcome;
  ctx.status = status;
  ctx.body = message === undefined ? { ok: status < 300 } : { error: message };
}

/** One log line and one metric per request, with a request id; never headers or bodies (they carry secrets). */
function requestLog(log: Logger, counts: OutcomeCounts, metrics: WebhookMetrics) {
  return async (ctx: Context, next: Next) => {
    const started = performance.now();
    const requestId = ctx.get('x-request-id') || randomUUID();
    ctx.set('x-request-id', requestId);
    const state = ctx.state as State;
    state.receivedAt = Date.now();
    state.log = log.child({ requestId });
    try {
      await next();
    } catch (err) {
      state.log.error({ err: (err as Error).message }, 'unhandled error');
      ctx.status = 500;
      ctx.body = { error: 'internal error' };
    }
    if (state.outcome) counts[state.outcome] += 1;
    if (ctx.path !== '/metrics' && ctx.path !== '/healthz') metrics.request(state.outcome ?? 'other', (performance.now() - started) / 1000);
    state.log.info({ method: ctx.method, path: ctx.path, status: ctx.status, outcome: state.outcome, ms: Math.round(performance.now() - started) }, 'request');
  };
}

function routes(deps: WebhookDeps) {
  return async (ctx: Context, next: Next) => {
    if (ctx.path === '/metrics') {
      if (ctx.method !== 'GET') return methodNotAllowed(ctx, 'GET');
      ctx.type = deps.metrics.registry.contentType;
      ctx.body = await deps.metrics.registry.metrics();
      return;
    }
    if (ctx.path === '/healthz') {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, 'GET');
      ctx.status = deps.ready() ? 200 : 503;
      ctx.body = { ok: deps.ready() };
      return;
    }
    const match = DELIVERY_PATH.exec(ctx.path);
    if (!match) {
      ctx.status = 404;
      ctx.body = { error: 'not found' };
      return;
    }
    if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'POST');
    (ctx.state as State).resourceGid = decodeURIComponent(match[1]);
    await next();
  };
}

function methodNotAllowed(ctx: Context, allowed: string): void {
  ctx.set('Allow', allowed);
  ctx.status = 405;
  ctx.body = { error: `method not allowed; use ${allowed}` };
}

/** Reads the raw body (signatures are over raw bytes), refusing more than MAX_BODY_BYTES. */
function rawBody() {
  return async (ctx: Context, next: Next) => {
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > MAX_BODY_BYTES) return tooLarge(ctx);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return tooLarge(ctx);
      chunks.push(chunk as Buffer);
    }
    (ctx.state as State).body = Buffer.concat(chunks);
    await next();
  };
}

function tooLarge(ctx: Context): void {
  ctx.req.resume(); // drain, so the answer reaches the client
  reply(ctx, 413, 'too_large', `body over ${MAX_BODY_BYTES} bytes`);
}

/** The activation handshake: echo X-Hook-Secret and keep it for verifying deliveries. */
function handshake(secrets: SecretStore) {
  return async (ctx: Context, next: Next) => {
    const secret = ctx.get('x-hook-secret');
    if (!secret) return next();
    const { resourceGid, log } = ctx.state as State;
    if (!SecretStore.isGid(resourceGid) || !/^[\x21-\x7e]{16,256}$/.test(secret)) {
      return reply(ctx, 400, 'bad_request', 'invalid resource gid or X-Hook-Secret');
    }
    if (!(await secrets.mayAcceptHandshake(resourceGid))) {
      log.warn({ resourceGid }, 'handshake refused: resource already has a secret and no registration is open');
      return reply(ctx, 409, 'handshake_refused', 'a webhook secret is already registered for this resource; re-register with the CLI');
    }
    await secrets.set(resourceGid, secret);
    await secrets.closeRegistration(resourceGid);
    log.info({ resourceGid }, 'webhook handshake accepted');
    ctx.set('X-Hook-Secret', secret);
    reply(ctx, 200, 'handshake');
  };
}

/** A delivery must be JSON, come for a known resource, and carry its valid signature. */
function verifiedDelivery(secrets: SecretStore) {
  return async (ctx: Context, next: Next) => {
    const state = ctx.state as State;
    const secret = SecretStore.isGid(state.resourceGid) ? await secrets.get(state.resourceGid) : undefined;
    if (secret === undefined) return reply(ctx, 404, 'unknown_resource', 'no webhook is registered for this resource');
    const type = ctx.get('content-type');
    if (type && !/^application\/(.+\+)?json\b/i.test(type)) return reply(ctx, 415, 'unsupported_media_type', 'deliveries must be application/json');
    if (!signatureMatches(secret, state.body, ctx.get('x-hook-signature') || undefined)) {
      state.log.warn({ resourceGid: state.resourceGid }, 'delivery with a missing or wrong signature');
      return reply(ctx, 401, 'bad_signature', 'missing or invalid X-Hook-Signature');
    }
    await next();
  };
}

function dispatchEvents(deps: WebhookDeps, counts: OutcomeCounts) {
  return async (ctx: Context) => {
    const state = ctx.state as State;
    let events;
    try {
      events = parseDelivery(state.body);
    } catch (err) {
      if (err instanceof DeliveryError) return reply(ctx, 400, 'bad_request', err.message);
      throw err;
    }
    if (events.length === 0) return reply(ctx, 200, 'heartbeat');
    const { byTask, skipped } = taskEvents(events);
    counts.events_skipped += skipped;
    for (const event of events) deps.metrics.event(event.resource.resource_type, event.action, byTask.has(event.resource.gid));
    try {
      if (byTask.size > 0) await deps.dispatch(state.resourceGid, byTask, state.receivedAt);
    } catch (err) {
      state.log.warn({ err: (err as Error).message, tasks: byTask.size }, 'Temporal did not take the delivery; Asana will retry');
      return reply(ctx, 503, 'temporal_unavailable', 'temporarily unavailable; retry later');
    }
    state.log.info({ resourceGid: state.resourceGid, events: events.length, tasks: byTask.size, skipped }, 'delivery accepted');
    reply(ctx, 200, 'delivered');
  };
}

export function emptyCounts(): OutcomeCounts {
  return { ...(Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>), events_skipped: 0 };
}

export function createWebhookApp(deps: WebhookDeps, counts: OutcomeCounts = emptyCounts()): Koa {
  const app = new Koa();
  app.silent = true; // errors are logged by requestLog, without request details
  app.use(requestLog(deps.log, counts, deps.metrics));
  app.use(routes(deps));
  app.use(rawBody());
  app.use(handshake(deps.secrets));
  app.use(verifiedDelivery(deps.secrets));
  app.use(dispatchEvents(deps, counts));
  return app;
}
