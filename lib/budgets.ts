/**
 * Which budget each API's requests draw on, and where it is kept. A budget belongs to an Airtable
 * base or an Asana token, not to a process: with REDIS_URL, every worker process draws on the same
 * one in Redis (shared-pacer.ts); without it, each pacer keeps its own in the process, as a single
 * worker needs.
 */
import { createHash } from 'node:crypto';
import type { AirtableConfig, AsanaConfig, RedisConfig } from '../config';
import type { Logger } from './logger';
import { Pacer, type Pacing } from './pacer';
import { SharedBudgets, type SharedBudget } from './shared-pacer';

/** Airtable limits a base, whichever token asks: AIRTABLE_RPS (5) requests a second. */
export const airtableBudget = (config: Pick<AirtableConfig, 'baseId' | 'requestsPerSecond'>): SharedBudget => ({
  name: `airtable:${config.baseId}`,
  perSecond: config.requestsPerSecond,
});

/** Asana limits a token: ASANA_RPM, and 50 reads and 15 writes in flight at once. Redis sees only a hash of the token. */
export const asanaBudget = (config: Pick<AsanaConfig, 'accessToken' | 'requestsPerMinute'>): SharedBudget => ({
  name: `asana:${createHash('sha256').update(config.accessToken).digest('hex').slice(0, 32)}`,
  perSecond: config.requestsPerMinute / 60,
  inFlight: { read: 50, write: 15 },
});

/** The kind of an Asana request, for its in-flight cap. */
export const asanaKind = (method: string): 'read' | 'write' => (method.toUpperCase() === 'GET' ? 'read' : 'write');

let shared: SharedBudgets | undefined;

/**
 * Makes the pacers this process creates from now on draw on budgets in `budgets` (the worker, when
 * REDIS_URL is set, before it builds its clients); undefined goes back to budgets of the process.
 */
export function shareBudgets(budgets: SharedBudgets | undefined): void {
  shared = budgets;
}

/** A pacer for the budget: shared through Redis when the process shares budgets, its own otherwise. */
export function pacerFor(budget: SharedBudget): Pacing {
  return shared ? shared.pacer(budget) : new Pacer(budget.perSecond);
}

/**
 * With REDIS_URL, connects to Redis and makes this process's pacers share their budgets there
 * (call before building any client); the connection, to close at shutdown. Without, nothing.
 */
export async function useSharedBudgets(redis: RedisConfig | undefined, log: Logger): Promise<SharedBudgets | undefined> {
  if (redis === undefined) return undefined;
  const budgets = await SharedBudgets.connect(redis.url, {
    keyPrefix: redis.keyPrefix,
    onUnreachable: (err) =>
      err
        ? log.warn({ err: err.message }, 'Redis does not answer: no request goes to Airtable or Asana until it does')
        : log.info('Redis answers again: requests go out'),
  });
  shareBudgets(budgets);
  log.info({ keyPrefix: redis.keyPrefix }, 'Airtable and Asana budgets shared with every worker through Redis');
  return budgets;
}
