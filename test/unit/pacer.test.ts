import assert from 'node:assert/strict';
import { Pacer } from '../../lib/pacer';

/** The most grants in any one-second window. */
const busiestSecond = (times: number[]): number => Math.max(...times.map((t) => times.filter((u) => u > t - 1000 && u <= t).length));

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
    await Promise.all(Array.from({ length: 12 }, () => pacer.acquire().then(() => grants.push(Date.now() - start))));
    clearTimeout(stall);
    assert.ok(busiestSecond(grants) <= 5, `grants at ${grants.join(', ')} ms`);
    assert.ok(grants[11] < 3400, `12 grants at 5/s with a 700 ms stall took ${grants[11]} ms`); // 11 × 210 ms + the stall
  });

  it('sends nothing while paused after a 429', async () => {
    const pacer = new Pacer(50);
    await pacer.acquire();
    pacer.pause(400);
    const start = Date.now();
    await pacer.acquire();
    assert.ok(Date.now() - start >= 390);
  });
});
