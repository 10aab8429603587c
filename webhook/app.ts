/**
 * The Asana webhook receiver, in Koa's style: small middlewares, each with one job.
 *   POST /webhooks/asana/:projectGid/:token  handshake (X-Hook-Secret) or a signed delivery
 *   GET  /healthz                            200 while deliveries are taken (Temporal answers)
 * and nothing else: metrics have a port of their own (metrics.ts), so a stranger cannot make the
 * webhook render them.
 * The token is the one `webhooks create` put in the URL it gave Asana (secrets.ts): a stranger can
 * neither complete a handshake nor find a URL that takes deliveries. Only projects in
 * ASANA_PROJECT_GIDS are served.
 * A delivery is answered 200 only once its task events are written to the journal on their way
 * to Temporal (journal.ts); anything else gets a non-2xx so Asana retries it.
 */
import { randomUUID } from 'node:crypto';
import Koa, { type Context, type Next } from 'koa';
import type { ChangeRule } from '../rows/columns';
import type { Logger } from '../lib/logger';
import { causesSync, DeliveryError, parseDelivery, signatureMatches, taskEvents } from './delivery';
import { OUTCOMES, type Outcome, type WebhookMetrics } from './metrics';
import type { JournalEntry } from './journal';
import { SecretStore, SecretStoreUnavailable, TOKEN_PATTERN, WEBHOOK_PATH, type WebhookSecret } from '../asana/webhook-secrets';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Any token in a logged path: the log shows `<token>` in its place. */
const TOKEN_IN_PATH = new RegExp(TOKEN_PATTERN, 'gi');
/** A caller's x-request-id is kept only if it is short and printable; otherwise we make one. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/**
 * How long a delivery signed with a pending secret waits for the create answer to confirm it:
 * Asana may deliver before the registering process has read that answer. Well within Asana's
 * delivery timeout.
 */
const CONFIRMATION_WAIT_MS = 5_000;

export interface WebhookDeps {
  secrets: SecretStore;
  /** ASANA_PROJECT_GIDS: the only projects whose webhooks are served. */
  projects: ReadonlySet<string>;
  /** Journals a delivery's task events on their way to Temporal; throws when deliveries are not taken. */
  enqueue: (entries: JournalEntry[]) => void;
  log: Logger;
  metrics: WebhookMetrics;
  /** Whether the service takes deliveries now (Temporal answers, the journal has room). */
  accepting: () => boolean;
  /** Which events can change a row (the columns'); the five columns' when absent. */
  changeRule?: ChangeRule;
}

/** Counts of each outcome, for tests. */
export type OutcomeCounts = Record<Outcome, number> & { events_skipped: number };

interface State {
  log: Logger;
  /** When the request arrived: stamped on its events, so reads after it are known to see them. */
  receivedAt: number;
  outcome?: Outcome;
  projectGid: string;
  token: string;
  /** The secret of the webhook whose URL this is, once it has one (pending until its create answer confirms it). */
  stored?: WebhookSecret;
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
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('x-request-id', requestId);
    const state = ctx.state as State;
    state.receivedAt = Date.now();
    state.log = log.child({ requestId });
    try {
      await next();
    } catch (err) {
      if (err instanceof SecretStoreUnavailable) {
        state.log.error({ err: err.message }, 'cannot read or write the webhook secrets under DATA_DIR');
        reply(ctx, 503, 'store_unavailable', 'temporarily unavailable; retry later');
      } else {
        state.log.error({ err: (err as Error).message }, 'unhandled error');
        ctx.status = 500;
        ctx.body = { error: 'internal error' };
      }
    }
    if (state.outcome) counts[state.outcome] += 1;
    if (ctx.path !== '/healthz') metrics.request(state.outcome ?? 'other', (performance.now() - started) / 1000);
    state.log.info(
      {
        method: ctx.method,
        path: loggedPath(ctx.path),
        status: ctx.status,
        outcome: state.outcome,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  };
}

/** A path as logged: no webhook token (it would let a reader race a registration's handshake), at most 200 characters. */
function loggedPath(requestPath: string): string {
  return requestPath.replace(TOKEN_IN_PATH, '<token>').slice(0, 200);
}

function routes(deps: WebhookDeps) {
  return async (ctx: Context, next: Next) => {
    if (ctx.path === '/healthz') {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, 'GET');
      ctx.status = deps.accepting() ? 200 : 503;
      ctx.body = { ok: deps.accepting() };
      return;
    }
    const match = WEBHOOK_PATH.exec(ctx.path);
    if (!match) {
      ctx.status = 404;
      ctx.body = { error: 'not found' };
      return;
    }
    if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'POST');
    const state = ctx.state as State;
    [, state.projectGid, state.token] = match;
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

/**
 * Only URLs of ours, before the body is read: a project in ASANA_PROJECT_GIDS and a token with a
 * stored secret or an open registration. Anything else is 404, alike whichever part is wrong, so a
 * stranger learns neither which projects are synced nor which tokens exist. The token's files are
 * read whether or not the project is synced, so the answer's timing does not tell either.
 */
function knownWebhook(deps: Pick<WebhookDeps, 'projects' | 'secrets'>) {
  return async (ctx: Context, next: Next) => {
    const state = ctx.state as State;
    const found = await deps.secrets.get(state.token);
    const stored = found?.projectGid === state.projectGid ? found : undefined;
    const registering = stored === undefined && (await deps.secrets.isRegistering(state.token, state.projectGid));
    if (deps.projects.has(state.projectGid) && (stored !== undefined || registering)) {
      state.stored = stored;
      return next();
    }
    ctx.req.resume(); // drain, so the answer reaches the client
    reply(ctx, 404, 'unknown_resource', 'no webhook is registered at this URL');
  };
}

/** The activation handshake: accepted once, on the URL of a registration the CLI opened; the secret is echoed and kept. */
function handshake(secrets: SecretStore) {
  return async (ctx: Context, next: Next) => {
    const secret = ctx.get('x-hook-secret');
    if (!secret) return next();
    const { projectGid, token, log } = ctx.state as State;
    if (!SecretStore.isSecret(secret)) return reply(ctx, 400, 'bad_request', 'invalid X-Hook-Secret');
    const claim = await secrets.claim(token, projectGid, secret);
    if (claim === 'already_claimed') {
      log.warn({ projectGid }, 'handshake refused: this webhook URL already has its secret');
      return reply(ctx, 409, 'handshake_refused', 'this webhook URL already completed its handshake');
    }
    if (claim === 'no_registration') {
      log.warn({ projectGid }, 'handshake refused: no registration is open for this URL');
      return reply(ctx, 403, 'handshake_refused', 'no registration is open for this URL; register webhooks with `webhooks create`');
    }
    log.info({ projectGid }, 'webhook handshake accepted');
    ctx.set('X-Hook-Secret', secret);
    reply(ctx, 200, 'handshake');
  };
}

/**
 * A delivery must be JSON, come on a registered webhook's URL, and carry that webhook's signature,
 * made with a secret Asana's create answer confirmed (one still pending is waited for).
 */
function verifiedDelivery(secrets: SecretStore) {
  return async (ctx: Context, next: Next) => {
    const state = ctx.state as State;
    const { stored } = state;
    if (stored === undefined) return reply(ctx, 404, 'unknown_resource', 'no webhook is registered at this URL');
    const type = ctx.get('content-type');
    if (type && !/^application\/(.+\+)?json\b/i.test(type))
      return reply(ctx, 415, 'unsupported_media_type', 'deliveries must be application/json');
    if (!signatureMatches(stored.secret, state.body, ctx.get('x-hook-signature') || undefined)) {
      state.log.warn({ projectGid: state.projectGid }, 'delivery with a missing or wrong signature');
      return reply(ctx, 401, 'bad_signature', 'missing or invalid X-Hook-Signature');
    }
    if (stored.pending && !(await confirmedInTime(secrets, stored))) {
      state.log.error(
        { projectGid: state.projectGid },
        "delivery refused: it is signed with the secret a handshake stored on a registration URL, and Asana's create answer has not confirmed that secret; unless the registering process is still waiting for that answer, someone other than Asana answered the handshake (the URL leaked)",
      );
      return reply(ctx, 404, 'unknown_resource', 'no webhook is registered at this URL');
    }
    await next();
  };
}

/** Whether a pending secret is confirmed within CONFIRMATION_WAIT_MS, unchanged: only then was its handshake Asana's. */
async function confirmedInTime(secrets: SecretStore, pending: WebhookSecret): Promise<boolean> {
  const settled = await secrets.awaitConfirmation(pending.token, CONFIRMATION_WAIT_MS);
  return settled !== undefined && settled.pending === undefined && settled.secret === pending.secret;
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
    const { byTask, skipped } = taskEvents(events, deps.changeRule);
    counts.events_skipped += skipped;
    for (const event of events) deps.metrics.event(event.resource.resource_type, event.action, causesSync(event, deps.changeRule));
    try {
      if (byTask.size > 0)
        deps.enqueue(
          [...byTask].map(([taskGid, change]) => ({ projectGid: state.projectGid, taskGid, receivedAt: state.receivedAt, ...change })),
        );
    } catch (err) {
      state.log.warn({ err: (err as Error).message, tasks: byTask.size }, 'Temporal did not take the delivery; Asana will retry');
      return reply(ctx, 503, 'temporal_unavailable', 'temporarily unavailable; retry later');
    }
    state.log.info({ projectGid: state.projectGid, events: events.length, tasks: byTask.size, skipped }, 'delivery accepted');
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
  app.use(knownWebhook(deps));
  app.use(rawBody());
  app.use(handshake(deps.secrets));
  app.use(verifiedDelivery(deps.secrets));
  app.use(dispatchEvents(deps, counts));
  return app;
}
