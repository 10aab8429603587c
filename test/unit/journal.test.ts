import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLogger } from '../../lib/logger';
import { CHECK_BATCH, Journal, JournalRefusal, mergedEntry, Unforwardable, type JournalEntry } from '../../webhook/journal';
import { eventually } from '../support/stack';

const log = createLogger('silent', 'test');
const entry = (taskGid: string): JournalEntry => ({ projectGid: '100', taskGid, receivedAt: 1 });
const delivery = (...gids: string[]) => gids.map(entry);

/** A stand-in for Temporal: records what it took, or fails while `down`. */
function fakeTemporal() {
  const taken: string[] = [];
  const state = { down: false, hang: false, calls: 0, refused: new Set<string>() };
  const forward = async (e: JournalEntry) => {
    state.calls += 1;
    if (state.hang) return new Promise<void>(() => undefined);
    if (state.down) throw new Error('unreachable');
    if (state.refused.has(e.taskGid)) throw new Unforwardable(`refused ${e.taskGid}`);
    taken.push(e.taskGid);
  };
  return { taken, state, forward };
}

describe('webhook journal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'journal-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const files = async () => readdir(path.join(dir, 'journal'));

  it('has an entry in its file when append returns, forwards it, then deletes the segment', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const journal = await Journal.open(dir, temporal.forward, log);
    journal.append(delivery('1'));
    const [segment] = await files();
    const file = path.join(dir, 'journal', segment);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), entry('1'));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(journal.backlog, 1);
    await journal.close();

    temporal.state.hang = false; // the next run forwards what this one left, and cleans up
    const next = await Journal.open(dir, temporal.forward, log);
    await eventually(async () => assert.deepEqual(await files(), []));
    assert.deepEqual(temporal.taken, ['1']);
    await next.close();
  });

  it('takes many deliveries at once, and forwards each exactly once', async () => {
    const temporal = fakeTemporal();
    const journal = await Journal.open(dir, temporal.forward, log);
    for (let i = 0; i < 200; i += 1) journal.append(delivery(String(i)));
    await eventually(() => assert.equal(temporal.taken.length, 200));
    assert.deepEqual([...temporal.taken].sort(), Array.from({ length: 200 }, (_, i) => String(i)).sort());
    await eventually(async () => assert.deepEqual(await files(), []));
    await journal.close();
  });

  it('closes and deletes every drained segment while appends go on', async () => {
    const temporal = fakeTemporal();
    const journal = await Journal.open(dir, temporal.forward, log);
    const journalDir = await realpath(path.join(dir, 'journal'));
    const openSegments = async () =>
      (await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')))).filter((target) =>
        target.startsWith(journalDir),
      );
    for (let i = 0; i < 300; i += 1) {
      journal.append(delivery(String(i)));
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve)); // lets forwards and syncs interleave
    }
    await eventually(async () => assert.deepEqual(await files(), []));
    await eventually(async () => assert.deepEqual(await openSegments(), []));
    assert.equal(temporal.taken.length, 300);
    await journal.close();
  });

  it('refuses deliveries while Temporal does not take events, and forwards the journaled ones once it does', async () => {
    const temporal = fakeTemporal();
    const journal = await Journal.open(dir, temporal.forward, log, { retryMs: 50, maxRetryMs: 100 });
    temporal.state.down = true;
    journal.append(delivery('1')); // journaled: the outage is not known yet
    await eventually(() => assert.equal(journal.accepting, false));
    assert.throws(() => journal.append(delivery('2')), JournalRefusal);
    temporal.state.down = false;
    await eventually(() => assert.deepEqual(temporal.taken, ['1']));
    assert.equal(journal.accepting, true);
    await journal.close();
  });

  it('counts the backlog in events, not deliveries, and refuses deliveries when it is full', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const journal = await Journal.open(dir, temporal.forward, log, { maxBacklog: 3 });
    journal.append(delivery('1', '2', '3', '4', '5'));
    assert.equal(journal.backlog, 5);
    assert.throws(() => journal.append(delivery('6')), /5 events already wait/);
    await journal.close();
  });

  it('forwards at most `concurrency` events at once, however many tasks a delivery holds', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const journal = await Journal.open(dir, temporal.forward, log, { concurrency: 4 });
    journal.append(Array.from({ length: 13_000 }, (_, i) => entry(String(i + 1))));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(temporal.state.calls, 4);
    await journal.close();
  });

  it('sends the waiting events of one task as one signal, with the newest change time, and drains every segment they were in', async () => {
    const forwarded: JournalEntry[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const journal = await Journal.open(
      dir,
      async (e) => {
        forwarded.push(e);
        if (forwarded.length === 1) await held;
      },
      log,
      { concurrency: 1, maxBacklog: 1_000_000 },
    );
    const at = (gid: string, minute: number, receivedAt: number): JournalEntry => ({
      ...entry(gid),
      receivedAt,
      changedAt: `2026-11-29T10:0${minute}:00.000Z`,
    });
    journal.append([at('1', 0, 1)]); // in flight, held
    journal.append([at('2', 1, 2), at('3', 1, 2)]);
    journal.append(Array.from({ length: 2_000 }, (_, i) => at(String(10 + i), 1, 3))); // the segment rolls over
    journal.append([at('2', 5, 4), at('2', 3, 5), at('1', 2, 6)]);
    assert.equal(journal.backlog, 2_006, 'the backlog counts events, merged or not');
    release();
    await eventually(() => assert.equal(forwarded.length, 2_004));
    assert.deepEqual(forwarded.slice(0, 3), [at('1', 0, 1), at('2', 5, 5), at('3', 1, 2)]);
    assert.deepEqual(forwarded.at(-1), at('1', 2, 6), 'an event of a task in flight waits for a signal of its own');
    await eventually(async () => assert.deepEqual(await files(), []));
    await journal.close();
  });

  it('merges events of one task to the newest receipt time alone when one of them has no change time', async () => {
    const timed = { ...entry('7'), receivedAt: 5, changedAt: '2026-11-29T10:00:00.000Z' };
    assert.deepEqual(mergedEntry([timed, { ...entry('7'), receivedAt: 9 }]), { ...entry('7'), receivedAt: 9 });
    assert.deepEqual(mergedEntry([{ ...entry('7'), receivedAt: 9 }, timed]), { ...entry('7'), receivedAt: 9 });
  });

  it('sets aside every event of a merged signal Temporal refuses for good', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const first = await Journal.open(dir, temporal.forward, log);
    first.append(delivery('8', '8', '9'));
    await first.close();
    temporal.state.hang = false;
    temporal.state.refused.add('8');
    const setAside: string[] = [];
    const journal = await Journal.open(dir, temporal.forward, log, { onSetAside: (reason, count) => setAside.push(`${reason}:${count}`) });
    await eventually(() => assert.deepEqual(temporal.taken, ['9']));
    await eventually(() => assert.deepEqual(setAside, ['refused_by_temporal:2']));
    await eventually(async () => assert.deepEqual(await files(), []));
    await journal.close();
  });

  it('rolls to a new segment past 2,000 events, so a restart replays little', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const journal = await Journal.open(dir, temporal.forward, log, { maxBacklog: 1_000_000 });
    for (let d = 0; d < 3; d += 1) journal.append(Array.from({ length: 1_500 }, (_, i) => entry(String(d * 100_000 + i + 1))));
    await journal.close();
    assert.equal((await files()).length, 2, (await files()).join());
  });

  it('stops intake, setting nothing more aside, when Temporal refuses every event (ten in a row)', async () => {
    const temporal = fakeTemporal();
    const gids = Array.from({ length: 30 }, (_, i) => String(i + 1));
    for (const gid of gids) temporal.state.refused.add(gid);
    const setAside: number[] = [];
    const journal = await Journal.open(dir, temporal.forward, log, {
      concurrency: 1,
      retryMs: 20,
      maxRetryMs: 20,
      onSetAside: (_reason, count) => setAside.push(count),
    });
    journal.append(delivery(...gids));
    await eventually(() => assert.equal(journal.accepting, false));
    assert.equal(setAside.length, 9);
    temporal.state.refused.clear(); // the cause is fixed: the rest go through
    await eventually(() => assert.equal(temporal.taken.length, 21));
    assert.equal(journal.accepting, true);
    await journal.close();
  });

  it('sets an unreadable line aside once, not again at each restart', async () => {
    await mkdir(path.join(dir, 'journal'), { recursive: true });
    await writeFile(path.join(dir, 'journal', '000000000001.jsonl'), `${JSON.stringify(entry('1'))}\ngarbage\n`);
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const setAside: number[] = [];
    for (let start = 0; start < 2; start += 1)
      await (await Journal.open(dir, temporal.forward, log, { onSetAside: (_reason, count) => setAside.push(count) })).close();
    assert.deepEqual(setAside, [1]);
    assert.equal(await readFile(path.join(dir, 'journal', '000000000001.jsonl'), 'utf8'), `${JSON.stringify(entry('1'))}\n`);
  });

  it('sets aside an event Temporal refuses for good, and keeps forwarding and taking the others', async () => {
    const temporal = fakeTemporal();
    temporal.state.refused.add('2');
    const setAside: string[] = [];
    const journal = await Journal.open(dir, temporal.forward, log, { onSetAside: (reason, count) => setAside.push(`${reason}:${count}`) });
    journal.append(delivery('1', '2', '3'));
    await eventually(() => assert.deepEqual([...temporal.taken].sort(), ['1', '3']));
    assert.equal(journal.accepting, true);
    journal.append(delivery('4'));
    await eventually(() => assert.ok(temporal.taken.includes('4')));
    assert.deepEqual(setAside, ['refused_by_temporal:1']);
    const [kept] = (await readFile(path.join(dir, 'journal-rejected.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; line: string });
    assert.equal(kept.reason, 'refused_by_temporal');
    assert.deepEqual(JSON.parse(kept.line), entry('2'));
    await eventually(async () => assert.deepEqual(await files(), []));
    await journal.close();
  });

  it('sets aside unreadable lines at replay (logged, counted, kept), forwards the rest, and skips a folder named like a segment', async () => {
    await mkdir(path.join(dir, 'journal', '000000000004.jsonl'), { recursive: true });
    const lines = [
      JSON.stringify(entry('1')),
      'garbage',
      JSON.stringify({ projectGid: '1', tasks: [1], receivedAt: 1 }),
      JSON.stringify({ ...entry('2'), taskGid: '9'.repeat(1100) }),
      JSON.stringify({ projectGid: '100', tasks: [['3', ['added', 'changed']]], receivedAt: 1 }), // a line of the whole-delivery format
      '{"projectGid":"100","tas',
      JSON.stringify({ ...entry('5'), action: 'changed' }), // a line of a version that journaled each event's action
      JSON.stringify({ ...entry('6'), action: 'exploded' }),
    ];
    await writeFile(path.join(dir, 'journal', '000000000003.jsonl'), lines.join('\n'));
    const temporal = fakeTemporal();
    const setAside: string[] = [];
    const journal = await Journal.open(dir, temporal.forward, log, { onSetAside: (reason, count) => setAside.push(`${reason}:${count}`) });
    await eventually(() => assert.deepEqual([...temporal.taken].sort(), ['1', '3', '5']));
    assert.deepEqual(setAside, ['unreadable:5']);
    const kept = (await readFile(path.join(dir, 'journal-rejected.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { line: string }).line);
    assert.deepEqual(kept, [lines[1], lines[2], lines[3], lines[5], lines[7]]);
    journal.append(delivery('4'));
    await eventually(() => assert.ok(temporal.taken.includes('4')));
    await eventually(async () =>
      assert.deepEqual(await files(), ['000000000004.jsonl'], 'the folder is left alone, and new segments are numbered after it'),
    );
    await journal.close();
  });

  it("logs a file it leaves alone under `segment`, keeping the logger's own name", async () => {
    await mkdir(path.join(dir, 'journal'), { recursive: true });
    await writeFile(path.join(dir, 'journal', 'stray.txt'), '');
    const lines: string[] = [];
    const journal = await Journal.open(
      dir,
      fakeTemporal().forward,
      pino({ name: 'webhook' }, { write: (line: string) => lines.push(line) }),
    );
    await journal.close();
    const logged = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((l) => l.msg === 'not a journal segment; left alone');
    assert.deepEqual([logged?.name, logged?.segment], ['webhook', 'stray.txt']);
  });

  it("replays each event's change time, and drops one that is not a time (the sync then goes by the receipt time)", async () => {
    const lines = [
      JSON.stringify({ ...entry('1'), changedAt: '2026-11-29T10:00:00.000Z' }),
      JSON.stringify({ ...entry('2'), changedAt: 'not a time' }),
      JSON.stringify({ ...entry('3'), changedAt: 'x'.repeat(5000) }),
    ];
    await mkdir(path.join(dir, 'journal'), { recursive: true });
    await writeFile(path.join(dir, 'journal', '000000000001.jsonl'), lines.join('\n'));
    const forwarded: JournalEntry[] = [];
    const journal = await Journal.open(dir, async (e) => void forwarded.push(e), log);
    await eventually(() => assert.equal(forwarded.length, 3));
    assert.deepEqual(Object.fromEntries(forwarded.map((e) => [e.taskGid, e.changedAt])), {
      '1': '2026-11-29T10:00:00.000Z',
      '2': undefined,
      '3': undefined,
    });
    await journal.close();
  });

  it('forwards what precedes a torn last line from a crash mid-write', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const first = await Journal.open(dir, temporal.forward, log);
    first.append(delivery('5'));
    await first.close();
    const [segment] = await files();
    await appendFile(path.join(dir, 'journal', segment), '{"projectGid":"100","tas');
    temporal.state.hang = false;
    const second = await Journal.open(dir, temporal.forward, log);
    await eventually(() => assert.deepEqual(temporal.taken, ['5']));
    second.append(delivery('6'));
    await eventually(() => assert.deepEqual(temporal.taken, ['5', '6']));
    await second.close();
  });

  describe('deliveries of more tasks than maxDirectTasks', () => {
    /** A stand-in for the check runs: records each batch, or holds them all while `hang`. */
    function fakeChecks() {
      const batches: JournalEntry[][] = [];
      const state = { hang: false };
      const check = async (entries: JournalEntry[]) => {
        if (state.hang) return new Promise<void>(() => undefined);
        batches.push(entries);
      };
      return { batches, state, check };
    }
    const tasks = (count: number, projectGid = '100', from = 1) =>
      Array.from({ length: count }, (_, i): JournalEntry => ({ projectGid, taskGid: String(from + i), receivedAt: 1 }));

    it('start no run per task: their events go to check runs, one project and at most CHECK_BATCH events each', async () => {
      const temporal = fakeTemporal();
      const checks = fakeChecks();
      const journal = await Journal.open(dir, temporal.forward, log, { check: checks.check, maxDirectTasks: 3 });
      journal.append(tasks(CHECK_BATCH + 1));
      journal.append(tasks(4, '200'));
      journal.append(tasks(3, '100', 90_000)); // not over the limit: a run each
      await eventually(() => assert.equal(checks.batches.flat().length, CHECK_BATCH + 5));
      assert.deepEqual(
        checks.batches.map((b) => [b[0].projectGid, b.length]),
        [
          ['100', CHECK_BATCH],
          ['100', 1],
          ['200', 4],
        ],
      );
      await eventually(() => assert.deepEqual([...temporal.taken].sort(), ['90000', '90001', '90002']));
      await eventually(async () => assert.deepEqual(await files(), []));
      await journal.close();
    });

    it('waiting for a check because the caller marked them, go direct once `release` lets them; a large delivery never does', async () => {
      const temporal = fakeTemporal();
      let answer: () => void = () => undefined;
      const batches: string[][] = [];
      const check = (entries: JournalEntry[]) => {
        batches.push(entries.map((e) => e.taskGid));
        return new Promise<void>((resolve) => (answer = resolve)); // the check lane waits, as for a verdict
      };
      let vouched = false;
      const journal = await Journal.open(dir, temporal.forward, log, { check, maxDirectTasks: 3, release: () => vouched });
      const marked = (from: number, count: number) => tasks(count, '100', from).map((e): JournalEntry => ({ ...e, check: true }));
      journal.append(marked(1, 2));
      await eventually(() => assert.deepEqual(batches, [['1', '2']]));
      journal.append(marked(3, 2));
      journal.append(tasks(4, '100', 10)); // over maxDirectTasks
      vouched = true;
      answer();
      await eventually(() => assert.deepEqual([...temporal.taken].sort(), ['3', '4']));
      await eventually(() =>
        assert.deepEqual(batches, [
          ['1', '2'],
          ['10', '11', '12', '13'],
        ]),
      );
      answer();
      await journal.close();
    });

    it('go to check runs no larger than `checkBatch` says for their project', async () => {
      const temporal = fakeTemporal();
      const checks = fakeChecks();
      const journal = await Journal.open(dir, temporal.forward, log, {
        check: checks.check,
        maxDirectTasks: 3,
        checkBatch: (projectGid) => (projectGid === '100' ? 2 : 10),
      });
      journal.append(tasks(5));
      journal.append(tasks(4, '200'));
      await eventually(() =>
        assert.deepEqual(
          checks.batches.map((b) => b.length),
          [2, 2, 1, 4],
        ),
      );
      await journal.close();
    });

    it('keep their check mark across a restart', async () => {
      const temporal = fakeTemporal();
      const checks = fakeChecks();
      checks.state.hang = true;
      const first = await Journal.open(dir, temporal.forward, log, { check: checks.check, maxDirectTasks: 3 });
      first.append(tasks(5));
      await first.close();
      checks.state.hang = false;
      const second = await Journal.open(dir, temporal.forward, log, { check: checks.check, maxDirectTasks: 3 });
      await eventually(() =>
        assert.deepEqual(
          checks.batches.flat().map((e) => e.taskGid),
          ['1', '2', '3', '4', '5'],
        ),
      );
      assert.deepEqual(temporal.taken, []);
      await second.close();
    });

    it('are refused while their own backlog is full, and never take the room of smaller deliveries', async () => {
      const temporal = fakeTemporal();
      temporal.state.hang = true;
      const checks = fakeChecks();
      checks.state.hang = true;
      const journal = await Journal.open(dir, temporal.forward, log, {
        check: checks.check,
        maxDirectTasks: 3,
        maxBacklog: 10,
        maxCheckBacklog: 8,
      });
      journal.append(tasks(8));
      assert.throws(() => journal.append(tasks(4, '100', 100)), /8 events already wait for a check/);
      journal.append(tasks(3, '100', 200));
      assert.ok(journal.accepting);
      assert.equal(journal.backlog, 11);
      await journal.close();
    });
  });
});
