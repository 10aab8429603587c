import assert from 'node:assert/strict';
import { CHECK_BATCH, type JournalEntry } from '../../webhook/journal';
import { UnseenTaskBudget } from '../../webhook/unseen-tasks';

const entries = (projectGid: string, first: number, count: number): JournalEntry[] =>
  Array.from({ length: count }, (_, i) => ({ projectGid, taskGid: String(first + i), receivedAt: 0 }));
const fast = (routed: JournalEntry[]) => routed.filter((e) => !e.check).map((e) => e.taskGid);

describe('the unseen-task budget', () => {
  it('lets the same few unseen gids through at once however a flood is split into deliveries', () => {
    const whole = new UnseenTaskBudget({ burst: 10, perSecond: 1 });
    const split = new UnseenTaskBudget({ burst: 10, perSecond: 1 });
    const t0 = 1_000_000;
    assert.equal(fast(whole.route(entries('1', 5000, 1000), t0)).length, 10);
    const parts = Array.from({ length: 10 }, (_, i) => fast(split.route(entries('1', 5000 + i * 100, 100), t0 + i * 10)));
    assert.equal(parts.flat().length, 10);
  });

  it('keeps a seen gid on the fast path, and gives places back at its rate, per project', () => {
    const budget = new UnseenTaskBudget({ burst: 2, perSecond: 1 });
    const t0 = 1_000_000;
    assert.deepEqual(fast(budget.route(entries('1', 1, 3), t0)), ['1', '2']);
    assert.deepEqual(fast(budget.route(entries('1', 1, 3), t0 + 10)), ['1', '2'], 'seen gids stay fast; the third waits for a place');
    assert.deepEqual(fast(budget.route(entries('2', 1, 2), t0 + 10)), ['1', '2'], 'another project has places of its own');
    assert.deepEqual(fast(budget.route(entries('1', 3, 1), t0 + 1_010)), ['3'], 'a second later, one more place');
  });

  it('forgets a gid once it has not been seen for a while, and passes entries already marked for a check', () => {
    const budget = new UnseenTaskBudget({ burst: 1, perSecond: 0.001, seenMs: 1_000 });
    assert.deepEqual(fast(budget.route(entries('1', 1, 1), 0)), ['1']);
    assert.deepEqual(fast(budget.route(entries('1', 1, 1), 2_000)), [], 'no longer seen, and no place left');
    const marked = { ...entries('1', 9, 1)[0], check: true as const };
    assert.deepEqual(budget.route([marked], 3_000), [marked]);
  });

  it('opens the fast path of a project while checks found nearly all their gids, and not for a check of invented ones', () => {
    const budget = new UnseenTaskBudget({ burst: 1, perSecond: 0.001, verdictMs: 1_000 });
    const gids = (first: number, count: number) => entries('1', first, count).map((e) => e.taskGid);
    assert.equal(fast(budget.route(entries('1', 100, 20), 0)).length, 1);
    assert.equal(budget.awaitsVerdict('1', 5), true);
    assert.equal(budget.checkBatch('1', 5), 50, 'a small probe while the verdict is owed');
    budget.checked('1', gids(100, 20), gids(100, 20), 10);
    assert.deepEqual(fast(budget.route(entries('1', 200, 5), 20)), [], 'invented gids opened nothing');
    assert.deepEqual([budget.awaitsVerdict('1', 20), budget.vouchedFor('1', 20)], [false, false], 'a verdict: closed');
    assert.equal(budget.checkBatch('1', 20), CHECK_BATCH);
    budget.checked('1', gids(300, 20), gids(300, 1), 30);
    assert.equal(fast(budget.route(entries('1', 400, 50), 40)).length, 50, 'a check that found 19 of 20 opens the fast path');
    assert.equal(budget.vouchedFor('1', 40), true, 'events waiting for a check may go direct');
    assert.equal(fast(budget.route(entries('2', 400, 5), 40)).length, 1, 'only for its own project');
    assert.deepEqual(fast(budget.route(entries('1', 500, 1), 1_040)), [], 'until the window ends');
    assert.deepEqual(fast(budget.route(entries('1', 301, 1), 1_040)), ['301'], 'gids a check listed count as seen');
    budget.checked('1', gids(600, 5), [], 1_050);
    assert.deepEqual(fast(budget.route(entries('1', 700, 1), 1_060)), [], 'checks of fewer than 10 gids vouch for nothing yet');
    budget.checked('1', gids(800, 5), [], 1_070);
    assert.equal(fast(budget.route(entries('1', 900, 20), 1_080)).length, 20, 'small checks add up to a verdict');
  });
});
