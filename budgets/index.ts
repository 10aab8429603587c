/**
 * Which budget each API's requests draw on, and where it is kept. A budget belongs to an Airtable
 * base or an Asana token, not to a process: with REDIS_URL, every worker process draws on the same
 * one in Redis (shared-pacer.ts); without it, each pacer keeps its own in the process, as a single
 * worker needs.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AirtableConfig, AsanaConfig, RedisConfig } from '../config';
import type { Logger } from '../lib/logger';
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

/**
 * A process's budgets: exactly one pacer per Airtable base and per Asana token, drawing on Redis
 * when REDIS_URL is set and on the process otherwise, so that every client of the process (reads,
 * writes, schema and webhook calls, health checks) shares it. Its owner opens it before any client
 * and closes it last; `stop()` at shutdown makes every request still waiting for its turn give up
 * (PacingStopped), so no pause or queue holds the process.
 */
export class Budgets {
  private readonly pacers = new Map<string, Pacing>();
  private readonly stopping = new AbortController();

  constructor(private readonly shared?: SharedBudgets) {
    setMaxListeners(0, this.stopping.signal); // every request waiting for a slot listens to it, however many there are
  }

  /** With REDIS_URL, budgets shared with every process through Redis (which must answer); without, the process's own. */
  static async open(redis: RedisConfig | undefined, log: Logger): Promise<Budgets> {
    if (redis === undefined) return new Budgets();
    const shared = await SharedBudgets.connect(redis.url, {
      keyPrefix: redis.keyPrefix,
      onUnreachable: (err) =>
        err
          ? log.warn({ err: err.message }, 'Redis does not answer: no request goes to Airtable or Asana until it does')
          : log.info('Redis answers again: requests go out'),
    });
    log.info({ keyPrefix: redis.keyPrefix }, 'Airtable and Asana budgets shared with every worker through Redis');
    return new Budgets(shared);
  }

  /** Whether the budgets live in Redis, shared with other processes. */
  get sharedThroughRedis(): boolean {
    return this.shared !== undefined;
  }

  /** The budget's one pacer in this process; waits for a turn end at `stop()`. */
  pacer(budget: SharedBudget): Pacing {
    let pacer = this.pacers.get(budget.name);
    if (!pacer) {
      pacer = stoppedBy(this.shared ? this.shared.pacer(budget) : new Pacer(budget.perSecond), this.stopping.signal);
      this.pacers.set(budget.name, pacer);
    }
    return pacer;
  }

  /** At shutdown: every request waiting for its turn ends with PacingStopped, and so does every later one. */
  stop(): void {
    this.stopping.abort();
  }

  async close(): Promise<void> {
    this.stop();
    await this.shared?.close();
  }
}

/** The pacer, whose waits end when `stop` aborts unless a caller passes a stop of its own. */
function stoppedBy(pacer: Pacing, stop: AbortSignal): Pacing {
  return {
    acquire: (kind, own = stop) => pacer.acquire(kind, own),
    run: (request, kind, own = stop) => pacer.run(request, kind, own),
    pause: (ms) => pacer.pause(ms),
  };
}
