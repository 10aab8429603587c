/**
 * Every wait has a ceiling: what an API asks (Retry-After) and what Redis holds are taken to
 * MAX_WAIT_MS at most, never obeyed further; and a request waiting for its slot can be given up.
 */
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { ApiError } from '../lib/api-error';
import { FailureType, toActivityFailure } from '../activities/failures';
import { Pacer, PacingStopped } from '../budgets/pacer';
import { SharedBudgets, type SharedBudget } from '../budgets/shared-pacer';
import { MAX_WAIT_MS } from '../lib/waits';
import { TEST_REDIS_URL, uniqueKeyPrefix } from './support/redis';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work`, collecting the process warnings it causes (a timer beyond Node's longest delay warns, then fires at once). */
async function warningsDuring(work: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const listener = (warning: Error) => warnings.push(warning.name);
  process.on('warning', listener);
  try {
    await work();
    await sleep(10); // warnings are emitted on the next tick
  } finally {
    process.off('warning', listener);
  }
  return warnings;
}

describe('wait ceilings', function () {
  this.timeout(20_000);

  it("bounds a 429's Retry-After, and so the activity's next retry, to 0…MAX_WAIT_MS, an unreadable one to the ceiling", () => {
    const asked = [-5, 1_500, 99_999_999 * 1000, Infinity, NaN];
    assert.deepEqual(
      asked.map((ms) => new ApiError('Asana', 429, 'slow down', ms).retryAfterMs),
      [0, 1_500, MAX_WAIT_MS, MAX_WAIT_MS, MAX_WAIT_MS],
    );
    const failure = toActivityFailure(new ApiError('Asana', 429, 'slow down', 99_999_999 * 1000));
    assert.equal(failure.type, FailureType.rateLimited);
    assert.equal(failure.nextRetryDelay, MAX_WAIT_MS);
  });

  it('waits out a pause of years without a busy loop: no timer beyond the longest delay Node has', async () => {
    const pacer = new Pacer(50);
    const stop = new AbortController();
    const warnings = await warningsDuring(async () => {
      await pacer.run(async () => pacer.pause(99_999_999 * 1000));
      const waiting = pacer.acquire(undefined, stop.signal);
      await sleep(200);
      stop.abort();
      await assert.rejects(waiting, PacingStopped);
    });
    assert.deepEqual(warnings, []);
  });

  it('ends a wait given up at once, leaves its place to the next request, and refuses one whose stop has come', async () => {
    const pacer = new Pacer(50);
    pacer.pause(400);
    const stop = new AbortController();
    const start = Date.now();
    const givenUp = pacer.acquire(undefined, stop.signal);
    const next = pacer.acquire().then(() => Date.now() - start);
    setTimeout(() => stop.abort(), 100);
    await assert.rejects(givenUp, PacingStopped);
    assert.ok(Date.now() - start < 300, `given up after ${Date.now() - start} ms`);
    const grantedAt = await next;
    assert.ok(grantedAt >= 390 && grantedAt < 700, `the next request was granted after ${grantedAt} ms`);
    await assert.rejects(pacer.acquire(undefined, stop.signal), PacingStopped);
  });
});

describe('shared pacer: what Redis holds is checked, not obeyed', function () {
  this.timeout(20_000);
  const budget: SharedBudget = { name: 'airtable:appHOSTILEBASE001', perSecond: 5 };
  let store: SharedBudgets;
  let redis: Redis;
  let unreachable: (Error | undefined)[];

  beforeEach(async () => {
    unreachable = [];
    store = await SharedBudgets.connect(TEST_REDIS_URL, {
      keyPrefix: uniqueKeyPrefix('hostile'),
      onUnreachable: (err) => unreachable.push(err),
    });
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await store.close();
    redis.disconnect();
  });

  const now = async () => {
    const [seconds, micros] = await redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
  /** Asks for a grant as the pacer does; the wait Redis answers (0: granted). */
  const grant = (id = 'probe') => {
    const keys = store.keys(budget);
    return store.call('budgetGrant', [keys.window, keys.state, keys.flight('any')], [id, 1, 5, 5, 1005, 200, store.leaseMs, MAX_WAIT_MS]);
  };

  it('takes a pause or a last grant set years ahead back to the ceiling, and writes the bound back', async () => {
    const { state } = store.keys(budget);
    await redis.hset(state, 'paused', '1e18', 'last', '1e18');
    const wait = await grant();
    assert.ok(wait !== undefined && wait > 0 && wait <= MAX_WAIT_MS, `wait ${wait}`);
    const held = Number(await redis.hget(state, 'paused'));
    assert.ok(held <= (await now()) + MAX_WAIT_MS, `paused until ${held}`);
    assert.ok(Number(await redis.hget(state, 'last')) <= (await now()), 'the last grant is not in the future');
  });

  it('takes window and lease scores set years ahead back to a window and a lease: the budget is whole again within a window', async () => {
    const { window, flight } = store.keys(budget);
    for (let i = 0; i < 5; i += 1) await redis.zadd(window, '1e18', `w${i}`);
    await redis.zadd(flight('any'), '+inf', 'held-forever');
    const wait = await grant();
    assert.ok(wait !== undefined && wait > 0 && wait <= 1005, `wait ${wait}`);
    const latest = Number((await redis.zrange(window, -1, -1, 'WITHSCORES'))[1]);
    assert.ok(latest <= (await now()) + 1005, `window score ${latest}`);
    const lease = Number((await redis.zrange(flight('any'), -1, -1, 'WITHSCORES'))[1]);
    assert.ok(lease <= (await now()) + store.leaseMs, `lease ${lease}`);
    await sleep(1_100);
    await redis.del(flight('any')); // the lease alone would hold one of five places until it lapses
    assert.equal(await grant(), 0, 'granted once the clamped window has passed');
  });

  it('reads what is not a number as nothing, and says nothing of Redis not answering', async () => {
    const { state } = store.keys(budget);
    await redis.hset(state, 'paused', 'soon', 'last', 'nan');
    assert.equal(await grant(), 0);
    await redis.hset(state, 'paused', 'inf');
    const wait = await grant('second');
    assert.ok(wait !== undefined && wait > 0 && wait <= MAX_WAIT_MS, `wait ${wait}`);
    assert.deepEqual(unreachable, []);
  });

  it("keeps a 429's pause within the ceiling, in Redis too", async () => {
    const pacer = store.pacer(budget);
    pacer.pause(99_999_999 * 1000);
    await sleep(50); // the pause reaches Redis
    const held = Number(await redis.hget(store.keys(budget).state, 'paused'));
    assert.ok(held > (await now()) && held <= (await now()) + MAX_WAIT_MS, `paused until ${held}`);
  });
});
