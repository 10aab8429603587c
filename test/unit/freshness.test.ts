import assert from 'node:assert/strict';
import { CLOCK_SKEW_MS, mergeChanges, newerChange, owing, readShows, type Freshness } from '../../rows/freshness';

const T1 = '2026-12-02T10:00:00.000Z';
const T2 = '2026-12-02T10:00:01.000Z';

describe('freshness', () => {
  it('takes the newer of two change times, whatever order they come in', () => {
    assert.equal(newerChange(T1, T2), T2);
    assert.equal(newerChange(T2, T1), T2);
    assert.equal(newerChange(undefined, T1), T1);
    assert.equal(newerChange(T1, undefined), T1);
    assert.equal(newerChange('2026-12-02T11:00:00+01:00', T2), T2, 'by time, not by text');
  });

  it('merges changes to the newest receipt, and to the newest change time only when every change has one', () => {
    assert.deepEqual(
      mergeChanges([
        { changedAt: T2, receivedAt: 5 },
        { changedAt: T1, receivedAt: 9 },
      ]),
      { changedAt: T2, receivedAt: 9 },
    );
    assert.deepEqual(mergeChanges([{ changedAt: T2, receivedAt: 5 }, { receivedAt: 3 }]), { receivedAt: 5 });
    assert.deepEqual(mergeChanges([{ changedAt: T1 }, { changedAt: T2 }]), { changedAt: T2 });
    assert.deepEqual(mergeChanges([{}]), {});
  });

  it('owes the newest change time, the newest receipt of untimed changes, and a new read for a change with neither', () => {
    let owed: Freshness = {};
    owed = owing(owed, { changedAt: T2, receivedAt: 1 });
    owed = owing(owed, { changedAt: T1 });
    owed = owing(owed, { receivedAt: 7 });
    owed = owing(owed, { receivedAt: 4 });
    assert.deepEqual(owed, { changedAt: T2, notBefore: 7 });
    assert.deepEqual(owing(owed, {}), { changedAt: T2, notBefore: 7, readRequired: true });
  });

  it('takes a read as showing a change when modified at or after it, and started after an untimed change allowing for skew', () => {
    assert.equal(readShows({ readAt: 0, modifiedAt: T2 }, { changedAt: T2 }), true);
    assert.equal(readShows({ readAt: 0, modifiedAt: T1 }, { changedAt: T2 }), false);
    assert.equal(readShows({ readAt: 0 }, { changedAt: T1 }), false, 'a read with no modified_at shows no timed change');
    assert.equal(readShows({ readAt: 100 + CLOCK_SKEW_MS, modifiedAt: T1 }, { notBefore: 100 }), true);
    assert.equal(readShows({ readAt: 99 + CLOCK_SKEW_MS, modifiedAt: T2 }, { notBefore: 100, changedAt: T1 }), false);
    assert.equal(readShows({ readAt: 1e15, modifiedAt: T2 }, {}), false, 'nothing owed: read anew');
    assert.equal(readShows({ readAt: 1e15, modifiedAt: T2 }, { changedAt: T1, readRequired: true }), false);
  });
});
