import assert from 'node:assert/strict';
import { Pacer } from '../../budgets/pacer';

/** The most of these times in any one-second window. */
const busiestSecond = (times: number[]): number => Math.max(...times.map((t) => times.filter((u) => u > t - 1000 && u <= t).length));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('pacer', function () {
  this.timeout(10_000);

  it('never grants more than the rate in any second, even after the event loop stalls', async () => {
    const pacer = new Pacer(5);
    const start = Date.now();
    const grants: number[] = [];
    const stall = setTimeout(() => {
      const until = Date.now() + 700; // a busy worker: timers due meanwhile all fire late, together
      while (Date.now() < until);
    }, 300);
    await Promise.all(Array.from({ length: 12 }, () => pacer.run(async () => grants.push(Date.now() - start))));
    clearTimeout(stall);
    assert.ok(busiestSecond(grants) <= 5, `grants at ${grants.join(', ')} ms`);
    assert.ok(grants[11] < 3400, `12 grants at 5/s with a 700 ms stall took ${grants[11]} ms`);
  });

  it('keeps arrivals under the rate when requests reach the API late', async () => {
    // Each request arrives somewhere between its grant and its answer; here the first of every
    // six is slow to leave (a busy event loop) and arrives just before its answer, while the
    // requests after it leave at once: spacing grants alone would put six arrivals in one second.
    const pacer = new Pacer(5);
    const arrivals: number[] = [];
    await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        pacer.run(async () => {
          if (i % 6 === 0) await sleep(150);
          arrivals.push(Date.now());
        }),
      ),
    );
    assert.ok(busiestSecond(arrivals) <= 5, `arrivals ${arrivals.map((t) => t - arrivals[0]).join(', ')} ms`);
  });

  it('sends nothing while paused after a 429', async () => {
    const pacer = new Pacer(50);
    await pacer.run(async () => pacer.pause(400));
    const start = Date.now();
    await pacer.run(async () => undefined);
    assert.ok(Date.now() - start >= 390);
  });
});
