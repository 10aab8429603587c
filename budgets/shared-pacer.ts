/**
 * Budgets kept in Redis, so that any number of worker processes share one: the same window rule
 * as Pacer (a request starts only a full window after the answer to the request `perWindow`
 * grants before it, grants spaced evenly, nothing sent while paused), applied by one Lua script
 * to the grants of every process, on Redis's clock.
 *
 * Per budget, under one hash-tagged key (Redis Cluster keeps it on one node):
 * - `:flight:<kind>`, a sorted set of the grants not yet answered, scored by their lease's end. A
 *   holder renews its leases every LEASE_MS / 4; a holder that stops (a killed worker) lets them
 *   lapse, and its requests then count as answered when their lease ended.
 * - `:window`, the grants answered (or lapsed), scored by when they stop counting: a window after
 *   the answer.
 * - `:state`, a hash: the last grant's time and the end of a pause after a 429.
 * Every key expires on its own once the budget goes unused. What the scripts read there is checked,
 * not obeyed: a time or score further ahead than the budget itself could have set it (a lease, a
 * window, the longest pause) is taken back to that bound, so a bad value holds the budget no
 * longer than a good one could.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { paceOf, pacedSleep, PacingStopped, runPaced, type Pacing, type Release } from './pacer';
import { boundedWait, MAX_WAIT_MS } from '../lib/waits';

export interface SharedBudget {
  /** What the budget is named by in Redis: an API and a base id, or a hash of a token (never the token itself). */
  name: string;
  perSecond: number;
  /** Requests of each kind that may be in flight at once across all processes; none but the window's when unset. */
  inFlight?: Record<string, number>;
}

/** A dead worker's grants hold their places this long, at most, before the window takes them as answered. */
export const LEASE_MS = 5_000;
/** While Redis does not answer, a waiting request asks again this often (and sends nothing meanwhile). */
const UNREACHABLE_RETRY_MS = 1_000;

const NOW = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;
/** Extends a key's life to at least `ms`, which PEXPIRE … GT cannot do for a key that has none yet. */
const KEEP = `local function keep(key, ms) if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, math.ceil(ms)) end end`;
/**
 * A number from a hash field: `default` when it is missing or not a number, and `most` (written
 * back, so the bad value is gone) when it lies beyond it.
 */
const FIELD = `local function field(key, name, default, most)
  local n = tonumber(redis.call('HGET', key, name))
  if n == nil or n ~= n then return default end
  if n > most then redis.call('HSET', key, name, most) return most end
  return n
end`;
/** Takes every score of a sorted set beyond `most` back to `most`. */
const CLAMP = `local function clamp(key, most)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. most, '+inf')) do redis.call('ZADD', key, most, member) end
end`;

/**
 * KEYS: window, state, then one in-flight set per kind. ARGV: grant id, the caller's kind (its
 * index among the in-flight sets), that kind's cap, perWindow, windowMs, spacingMs, leaseMs,
 * maxWaitMs. Returns 0 with the grant made, or how long to wait before asking again (at most maxWaitMs).
 */
const GRANT = `${NOW} ${KEEP} ${FIELD} ${CLAMP}
local window, state = KEYS[1], KEYS[2]
local perWindow, windowMs, spacingMs, leaseMs, maxWaitMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local counted = 0
for i = 3, #KEYS do
  clamp(KEYS[i], now + leaseMs)
  local lapsed = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'WITHSCORES')
  for j = 1, #lapsed, 2 do redis.call('ZADD', window, 'GT', tonumber(lapsed[j + 1]) + windowMs, lapsed[j]) end
  if #lapsed > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    keep(window, windowMs)
  end
  counted = counted + redis.call('ZCARD', KEYS[i])
end
clamp(window, now + windowMs)
redis.call('ZREMRANGEBYSCORE', window, '-inf', now)
local answered = redis.call('ZCARD', window)
counted = counted + answered
local last = field(state, 'last', -1e15, now)
local wait = math.max(0, field(state, 'paused', 0, now + maxWaitMs) - now, last + spacingMs - now)
if counted >= perWindow then
  local first = counted - perWindow
  if first < answered then
    wait = math.max(wait, tonumber(redis.call('ZRANGE', window, first, first, 'WITHSCORES')[2]) - now)
  else
    wait = math.max(wait, windowMs)
  end
end
local mine = KEYS[2 + tonumber(ARGV[2])]
if redis.call('ZCARD', mine) >= tonumber(ARGV[3]) then wait = math.max(wait, spacingMs) end
if wait > 0 then return math.ceil(math.min(wait, maxWaitMs)) end
redis.call('ZADD', mine, now + leaseMs, ARGV[1])
redis.call('HSET', state, 'last', now)
keep(mine, leaseMs)
keep(state, spacingMs)
return 0`;

/** KEYS: window, the kind's in-flight set. ARGV: grant id, windowMs. The window counts the request from its answer, now. */
const RELEASE = `${NOW} ${KEEP}
redis.call('ZREM', KEYS[2], ARGV[1])
local ends = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', ends, ARGV[1])
keep(KEYS[1], ends - now)
return 1`;

/** KEYS: the kind's in-flight set. ARGV: leaseMs, then the grant ids still held. */
const RENEW = `${NOW} ${KEEP}
local ends = now + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', 'GT', ends, ARGV[i]) end
keep(KEYS[1], tonumber(ARGV[1]))
return 1`;

/**
 * KEYS: state. ARGV: ms, maxWaitMs. Pauses the budget for every process, keeping a longer pause
 * already set; no pause ends more than maxWaitMs from now.
 */
const PAUSE = `${NOW} ${KEEP} ${FIELD}
local maxWaitMs = tonumber(ARGV[2])
local ends = now + math.min(tonumber(ARGV[1]), maxWaitMs)
if field(KEYS[1], 'paused', 0, now + maxWaitMs) < ends then redis.call('HSET', KEYS[1], 'paused', ends) end
keep(KEYS[1], ends - now)
return 1`;

type Script = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number>;
const SCRIPTS = { budgetGrant: GRANT, budgetRelease: RELEASE, budgetRenew: RENEW, budgetPause: PAUSE };

export interface SharedBudgetsOptions {
  /** Prepended to every key (REDIS_KEY_PREFIX), so deployments or tests on one Redis can keep apart. */
  keyPrefix: string;
  /** Told when Redis stops answering (requests wait meanwhile) and when it answers again (undefined). */
  onUnreachable?: (err: Error | undefined) => void;
  /** Shorter only in tests of a dead holder. */
  leaseMs?: number;
}

/** One Redis connection and the scripts on it: what makes the pacers of a process draw on shared budgets. */
export class SharedBudgets {
  private readonly scripts: Record<keyof typeof SCRIPTS, Script>;
  private unreachable = false;
  readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: SharedBudgetsOptions,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { lua });
    // defineCommand adds the scripts as methods ioredis's types cannot know of (EVALSHA, EVAL when Redis lacks the script).
    this.scripts = redis as unknown as Record<keyof typeof SCRIPTS, Script>;
    this.leaseMs = options.leaseMs ?? LEASE_MS;
  }

  /** Connects and checks that Redis answers, so a wrong REDIS_URL stops the worker at start. */
  static async connect(url: string, options: SharedBudgetsOptions): Promise<SharedBudgets> {
    // Commands fail fast while Redis is away: the pacer retries them itself, sending nothing meanwhile.
    // A command unanswered in time fails too: a Redis that takes connections but never answers is away.
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, commandTimeout: 5_000 });
    redis.on('error', () => undefined); // each failed command reports its own error; the pacer logs them once
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      throw new Error(`Redis at REDIS_URL did not answer: ${(err as Error).message}`);
    }
    return new SharedBudgets(redis, options);
  }

  pacer(budget: SharedBudget): SharedPacer {
    return new SharedPacer(this, budget);
  }

  /** The keys of a budget, hash-tagged by its name. */
  keys(budget: SharedBudget): { window: string; state: string; flight: (kind: string) => string } {
    const base = `${this.options.keyPrefix}{${budget.name}}`;
    return { window: `${base}:window`, state: `${base}:state`, flight: (kind) => `${base}:flight:${kind}` };
  }

  /** Runs a script; undefined when Redis did not answer (said once until it answers again). */
  async call(script: keyof typeof SCRIPTS, keys: string[], args: (string | number)[]): Promise<number | undefined> {
    try {
      const result = await this.scripts[script](keys.length, ...keys, ...args);
      if (this.unreachable) this.options.onUnreachable?.(undefined);
      this.unreachable = false;
      return result;
    } catch (err) {
      if (!this.unreachable) this.options.onUnreachable?.(err as Error);
      this.unreachable = true;
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A pacer drawing on a budget in Redis: one per budget and process, as Pacer is. */
export class SharedPacer implements Pacing {
  private pausedUntil = 0;
  /** Each kind's requests are granted in the order they asked, one asking Redis at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Grants not yet released, by kind: their leases are renewed while the request is on its way. */
  private readonly held = new Map<string, Set<string>>();
  private renewal?: NodeJS.Timeout;
  private readonly kinds: string[];
  private readonly caps: number[];
  private readonly pace: { perWindow: number; windowMs: number; spacingMs: number };
  private readonly keys: ReturnType<SharedBudgets['keys']>;

  constructor(
    private readonly store: SharedBudgets,
    budget: SharedBudget,
  ) {
    this.pace = paceOf(budget.perSecond);
    // With no caps, one kind, whose cap the window already enforces.
    const inFlight = budget.inFlight ?? { any: this.pace.perWindow };
    this.kinds = Object.keys(inFlight);
    this.caps = Object.values(inFlight);
    this.keys = store.keys(budget);
  }

  acquire(kind = this.kinds[0], stop?: AbortSignal): Promise<Release> {
    const index = this.kinds.indexOf(kind);
    if (index < 0) throw new Error(`no in-flight cap for requests of kind "${kind}"`);
    if (stop?.aborted) return Promise.reject(new PacingStopped());
    const grant = (this.queues.get(kind) ?? Promise.resolve()).then(() => this.grant(kind, index, stop));
    this.queues.set(
      kind,
      grant.catch(() => undefined),
    ); // a request given up leaves its place to the next
    return grant;
  }

  run<T>(request: () => Promise<T>, kind?: string, stop?: AbortSignal): Promise<T> {
    return runPaced(this, request, kind, stop);
  }

  pause(ms: number): void {
    const pause = Math.ceil(boundedWait(ms));
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + pause); // this process at once, even if Redis is away
    void this.store.call('budgetPause', [this.keys.state], [pause, MAX_WAIT_MS]);
  }

  private async grant(kind: string, index: number, stop?: AbortSignal): Promise<Release> {
    const id = randomUUID();
    const { perWindow, windowMs, spacingMs } = this.pace;
    const keys = [this.keys.window, this.keys.state, ...this.kinds.map(this.keys.flight)];
    const args = [id, index + 1, this.caps[index], perWindow, Math.ceil(windowMs), Math.ceil(spacingMs), this.store.leaseMs, MAX_WAIT_MS];
    for (;;) {
      if (this.pausedUntil > Date.now()) {
        await pacedSleep(this.pausedUntil - Date.now(), stop);
        continue;
      }
      const wait = await this.store.call('budgetGrant', keys, args);
      if (wait === 0) break;
      await pacedSleep(wait ?? UNREACHABLE_RETRY_MS, stop);
    }
    this.hold(kind, id);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.get(kind)!.delete(id);
      void this.store.call('budgetRelease', [this.keys.window, this.keys.flight(kind)], [id, Math.ceil(windowMs)]);
    };
  }

  private hold(kind: string, id: string): void {
    const held = this.held.get(kind) ?? this.held.set(kind, new Set()).get(kind)!;
    held.add(id);
    this.renewal ??= setInterval(() => this.renew(), this.store.leaseMs / 4).unref();
  }

  /** Renews the leases of the grants still held; stops once none is. */
  private renew(): void {
    let holding = false;
    for (const [kind, ids] of this.held) {
      if (ids.size === 0) continue;
      holding = true;
      void this.store.call('budgetRenew', [this.keys.flight(kind)], [this.store.leaseMs, ...ids]);
    }
    if (!holding) {
      clearInterval(this.renewal);
      this.renewal = undefined;
    }
  }
}
