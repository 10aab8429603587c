/** Budgets in Redis (the real one): pacers of different processes, each with its own connection, share one. */
import assert from 'node:assert/strict';
import Redis from 'ioredis';
import { asanaBudget } from '../budgets';
import { SharedBudgets, type SharedBudget } from '../budgets/shared-pacer';
import { TEST_REDIS_URL, uniqueKeyPrefix } from './support/redis';

/** The most of these times in any one-second window. */
const busiestSecond = (times: number[]): number => Math.max(...times.map((t) => times.filter((u) => u > t - 1000 && u <= t).length));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('shared pacer (Redis)', function () {
  this.timeout(20_000);
  const opened: SharedBudgets[] = [];
  /** Two "processes": connections of their own, one key prefix. */
  const processes = async (count: number, leaseMs?: number): Promise<SharedBudgets[]> => {
    const keyPrefix = uniqueKeyPrefix('pacer');
    const stores = await Promise.all(Array.from({ length: count }, () => SharedBudgets.connect(TEST_REDIS_URL, { keyPrefix, leaseMs })));
    opened.push(...stores);
    return stores;
  };
  after(() => Promise.all(opened.map((store) => store.close())));

  it('never lets two processes together exceed the rate, even when requests reach the API late', async () => {
    const budget: SharedBudget = { name: 'airtable:appTESTBASE000001', perSecond: 5 };
    const [a, b] = (await processes(2)).map((store) => store.pacer(budget));
    const start = Date.now();
    const arrivals: { by: string; at: number }[] = [];
    // As in the Pacer's test, the first of every six requests of each process arrives just before its answer.
    const send = (by: string, pacer: typeof a, i: number) =>
      pacer.run(async () => {
        if (i % 6 === 0) await sleep(150);
        arrivals.push({ by, at: Date.now() - start });
      });
    await Promise.all(Array.from({ length: 10 }, (_, i) => [send('a', a, i), send('b', b, i)]).flat());
    const times = arrivals.map((r) => r.at);
    assert.ok(busiestSecond(times) <= 5, `arrivals at ${times.join(', ')} ms`);
    assert.ok(Math.max(...times) < 6_000, `20 requests at 5/s took ${Math.max(...times)} ms`);
    const firstTen = arrivals.slice(0, 10).map((r) => r.by);
    assert.ok(firstTen.includes('a') && firstTen.includes('b'), `both processes served early: ${firstTen.join('')}`);
  });

  it('holds every process while one of them is paused after a 429', async () => {
    const budget: SharedBudget = { name: 'airtable:appTESTBASE000002', perSecond: 50 };
    const [a, b] = (await processes(2)).map((store) => store.pacer(budget));
    await a.run(async () => a.pause(600));
    await sleep(20); // the pause reaches Redis
    const start = Date.now();
    await b.run(async () => undefined);
    assert.ok(Date.now() - start >= 550, `the other process sent after ${Date.now() - start} ms`);
  });

  it("takes a killed process's grants as answered once their lease runs out", async () => {
    const budget: SharedBudget = { name: 'airtable:appTESTBASE000003', perSecond: 5 };
    const [dying, survivor] = await processes(2, 500);
    const pacer = dying.pacer(budget);
    for (let i = 0; i < 5; i += 1) await pacer.acquire(); // the whole window in flight, never released
    await dying.close(); // as a SIGKILL would: no release, no renewal
    const start = Date.now();
    await survivor.pacer(budget).run(async () => undefined);
    const waited = Date.now() - start;
    // The last lease lapses 500 ms after its renewal, and the window counts it a second more.
    assert.ok(waited >= 900 && waited < 2_500, `the survivor waited ${waited} ms`);
  });

  it("caps each kind's requests in flight across processes", async () => {
    const budget: SharedBudget = { name: 'asana:capped', perSecond: 100, inFlight: { read: 50, write: 2 } };
    const [a, b] = (await processes(2)).map((store) => store.pacer(budget));
    const writes = [await a.acquire('write'), await a.acquire('write')];
    let thirdWrite = false;
    const third = b.acquire('write').then((release) => ((thirdWrite = true), release));
    await b.run(async () => undefined, 'read'); // reads are not held up by writes
    await sleep(200);
    assert.equal(thirdWrite, false, 'a third write went out while two were in flight');
    writes[0]();
    (await third)();
    writes[1]();
  });

  it('leaves nothing in Redis once the budget is idle, and never the token', async () => {
    const token = 'pat-secret-token-value';
    const [store] = await processes(1);
    const budget = asanaBudget({ accessToken: token, requestsPerMinute: 6000 });
    assert.ok(!budget.name.includes(token));
    const pacer = store.pacer(budget);
    await Promise.all(Array.from({ length: 5 }, () => pacer.run(async () => undefined)));
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const pattern = `${store.keys(budget).window.split('{')[0]}*`;
      const keys = await redis.keys(pattern);
      assert.ok(keys.length > 0 && keys.every((key) => !key.includes(token)), keys.join(', '));
      await sleep(1_200); // a window past the last answer
      assert.deepEqual(await redis.keys(pattern), []);
    } finally {
      redis.disconnect();
    }
  });
});
