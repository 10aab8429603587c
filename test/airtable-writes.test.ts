/** What the row writer sends for rows it has written before, against the Airtable emulator over loopback. */
import assert from 'node:assert/strict';
import { RowWriter } from '../airtable/row-writer';
import { PacingStopped } from '../budgets/pacer';
import type { TaskRow } from '../rows/columns';
import { AirtableEmulator } from '../emulators/airtable';
import { Budgets } from '../budgets';

describe('writing rows to Airtable', () => {
  const BASE = 'appWRITESTEST0001';
  let airtable: AirtableEmulator;
  let client: RowWriter;
  beforeEach(async () => {
    airtable = new AirtableEmulator();
    await airtable.listen();
    airtable.createTable(BASE, 'Asana Tasks');
    client = new RowWriter(
      {
        token: airtable.token,
        baseId: BASE,
        tableName: 'Asana Tasks',
        endpointUrl: airtable.url,
        lockoutMs: 1000,
        requestsPerSecond: 5,
      },
      new Budgets(),
    );
  });
  afterEach(() => airtable.close());

  const row = (name: string): TaskRow => ({ 'Task ID': '101', Name: name, Assignee: '', 'Due Date': null, Description: '' });

  it('skips a sync of a row it has just written for the same modification; writes a changed row, an undo, a reconcile, and one whose row it deleted', async () => {
    const writes = () => airtable.writes();
    const names = () => airtable.records(BASE, 'Asana Tasks').map((r) => r.fields.Name);
    await client.upsert([row('A')], { asOf: 't1' });
    const first = writes();
    await client.upsert([row('A')], { asOf: 't1' });
    assert.equal(writes(), first, 'a second event of the same modification: nothing sent');
    await client.upsert([row('B')], { asOf: 't2' });
    await client.upsert([row('A')], { asOf: 't3' });
    assert.deepEqual([writes(), names()], [first + 2, ['A']], 'a change, then its undo, are both written');
    airtable.clear(BASE, 'Asana Tasks');
    airtable.seed(BASE, 'Asana Tasks', [{ 'Task ID': '101', Name: 'edited by hand' }]);
    await client.upsert([row('A')]);
    assert.deepEqual([writes(), names()], [first + 3, ['A']], 'a reconcile writes whatever this process wrote before');
    await client.delete(await client.findByTaskIds(['101']));
    await client.upsert([row('A')], { asOf: 't3' });
    assert.deepEqual(names(), ['A'], 'a deleted row is written again');
  });

  it('after two writes of one task overlap, writes the next sync again: which one Airtable applied last is not known', async () => {
    await Promise.all([client.upsert([row('old')], { asOf: 't1' }), client.upsert([row('new')], { asOf: 't2' })]);
    const before = airtable.writes();
    await client.upsert([row('new')], { asOf: 't2' });
    assert.equal(airtable.writes(), before + 1);
    await client.upsert([row('new')], { asOf: 't2' });
    assert.equal(airtable.writes(), before + 1, 'written alone, it is remembered');
  });

  it('never writes an older modification of a task after a newer one, whoever asks (a retried sync, a reconcile)', async () => {
    const names = () => airtable.records(BASE, 'Asana Tasks').map((r) => r.fields.Name);
    await client.upsert([row('newer')], { asOf: '2026-12-08T10:00:02.000Z' });
    const written = airtable.writes();
    await client.upsert([row('older, retried')], { asOf: '2026-12-08T10:00:01.000Z' });
    await client.upsert([row('older, reconciled')], { asOf: new Map([['101', '2026-12-08T10:00:01.000Z']]), rewrite: true });
    assert.deepEqual([airtable.writes(), names()], [written, ['newer']]);
    await client.upsert([row('same, reconciled')], { asOf: new Map([['101', '2026-12-08T10:00:02.000Z']]), rewrite: true });
    assert.deepEqual(names(), ['same, reconciled'], 'a reconcile of the same modification still repairs the row');
  });

  it("sends a task's next row only once its previous request is answered, so a slow answer cannot land last", async () => {
    airtable.inject({ match: /^PATCH /, latencyMs: 800, times: 1 });
    const older = client.upsert([row('older')], { asOf: '2026-12-08T10:00:01.000Z' });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the older row's request is on its way
    await Promise.all([older, client.upsert([row('newer')], { asOf: '2026-12-08T10:00:02.000Z' })]);
    assert.deepEqual(
      airtable.records(BASE, 'Asana Tasks').map((r) => r.fields.Name),
      ['newer'],
    );
  });

  it("gives up the rows waiting out Airtable's lock-out as soon as it is told to stop, sending nothing", async () => {
    const budgets = new Budgets();
    const writer = new RowWriter(
      { token: airtable.token, baseId: BASE, tableName: 'Asana Tasks', endpointUrl: airtable.url, lockoutMs: 30_000, requestsPerSecond: 5 },
      budgets,
    );
    airtable.inject({ match: /^PATCH /, status: 429, times: 1 });
    await assert.rejects(writer.upsert([row('locked out')]), /answered 429/);
    const sent = airtable.writes();
    const waiting = writer.upsert([row('waits for the lock-out')]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stoppedAt = Date.now();
    budgets.stop();
    await assert.rejects(waiting, PacingStopped);
    assert.ok(Date.now() - stoppedAt < 1_000, `gave up after ${Date.now() - stoppedAt} ms`);
    assert.equal(airtable.writes(), sent);
  });

  const taskRow = (gid: number): TaskRow => ({ ...row(`Task ${gid}`), 'Task ID': String(gid) });
  const requestSizes = () =>
    (airtable.exchanges ?? []).map((e) => (JSON.parse(e.body.toString()) as { records: unknown[] }).records.length);

  it('while enough rows to fill a request are on their way, a request short of 10 rows waits for them rather than go out short', async () => {
    airtable.exchanges = [];
    const arrivals = Array.from({ length: 20 }, () => client.rowComing()); // twenty syncs read their tasks
    const syncs = [client.upsert(Array.from({ length: 10 }, (_, i) => taskRow(i)))]; // a burst's first full request
    arrivals.slice(0, 10).forEach((arrived) => arrived());
    for (let gid = 10; gid < 20; gid += 1) {
      await new Promise((resolve) => setTimeout(resolve, 40)); // slower than Airtable takes rows, as at a burst's start
      syncs.push(client.upsert([taskRow(gid)]));
      arrivals[gid]();
    }
    await Promise.all(syncs);
    assert.deepEqual(requestSizes(), [10, 10]);
  });

  it('at a steady pace, with no rows on their way, a row goes out in the first free slot, not after a fill wait', async () => {
    airtable.exchanges = [];
    const syncs: Promise<void>[] = [];
    for (let gid = 0; gid < 20; gid += 1) {
      syncs.push(client.upsert([taskRow(gid)]));
      await new Promise((resolve) => setTimeout(resolve, 100)); // 10 rows a second: half of Airtable's rate in requests of 1
    }
    await Promise.all(syncs);
    // A fill wait (up to a second at 10 rows a second) would gather 5 to 10 rows a request.
    const sizes = requestSizes().sort((a, b) => a - b);
    assert.ok(sizes[Math.floor(sizes.length / 2)] <= 2, `requests of ${sizes.join(', ')} rows`);
  });
});
