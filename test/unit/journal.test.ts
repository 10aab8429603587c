import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '../../lib/logger';
import { Journal, JournalRefusal, type JournalEntry } from '../../webhook/journal';
import { eventually } from '../support/stack';

const log = createLogger('silent', 'test');
const entry = (taskGid: string): JournalEntry => ({ projectGid: '100', tasks: [[taskGid, ['added']]], receivedAt: 1 });
const taskOf = (e: JournalEntry) => e.tasks[0][0];

/** A stand-in for Temporal: records what it took, or fails while `down`. */
function fakeTemporal() {
  const taken: string[] = [];
  const state = { down: false, hang: false };
  const forward = async (e: JournalEntry) => {
    if (state.hang) return new Promise<void>(() => undefined);
    if (state.down) throw new Error('unreachable');
    taken.push(taskOf(e));
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
    journal.append(entry('1'));
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
    for (let i = 0; i < 200; i += 1) journal.append(entry(String(i)));
    await eventually(() => assert.equal(temporal.taken.length, 200));
    assert.deepEqual([...temporal.taken].sort(), Array.from({ length: 200 }, (_, i) => String(i)).sort());
    await eventually(async () => assert.deepEqual(await files(), []));
    await journal.close();
  });

  it('closes and deletes every drained segment while appends go on', async () => {
    const temporal = fakeTemporal();
    const journal = await Journal.open(dir, temporal.forward, log);
    const journalDir = await realpath(path.join(dir, 'journal'));
    const openSegments = async () => (await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')))).filter((target) => target.startsWith(journalDir));
    for (let i = 0; i < 300; i += 1) {
      journal.append(entry(String(i)));
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
    journal.append(entry('before')); // journaled: the outage is not known yet
    await eventually(() => assert.equal(journal.accepting, false));
    assert.throws(() => journal.append(entry('during')), JournalRefusal);
    temporal.state.down = false;
    await eventually(() => assert.deepEqual(temporal.taken, ['before']));
    assert.equal(journal.accepting, true);
    await journal.close();
  });

  it('refuses deliveries when the backlog is full', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const journal = await Journal.open(dir, temporal.forward, log, { maxBacklog: 3 });
    for (const gid of ['1', '2', '3']) journal.append(entry(gid));
    assert.throws(() => journal.append(entry('4')), /3 events already wait/);
    await journal.close();
  });

  it('skips a torn last line from a crash mid-write', async () => {
    const temporal = fakeTemporal();
    temporal.state.hang = true;
    const first = await Journal.open(dir, temporal.forward, log);
    first.append(entry('kept'));
    await first.close();
    const [segment] = await files();
    await appendFile(path.join(dir, 'journal', segment), '{"projectGid":"100","tas');
    temporal.state.hang = false;
    const second = await Journal.open(dir, temporal.forward, log);
    await eventually(() => assert.deepEqual(temporal.taken, ['kept']));
    second.append(entry('after'));
    await eventually(() => assert.deepEqual(temporal.taken, ['kept', 'after']));
    await second.close();
  });
});
