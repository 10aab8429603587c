/**
 * The Airtable emulator's upsert (performUpsert) as Airtable documents it, driven by airtable.js:
 * a record merges into the one row its key matches, or becomes a new row; a key two rows share,
 * or two records of one request sharing a key, refuse the whole request with 422 and change
 * nothing; `recordsWhere` finds rows by a field's value.
 */
import assert from 'node:assert/strict';
import Airtable from 'airtable';
import { AirtableEmulator } from '../emulators/airtable';
import { TASK_ID } from '../rows/columns';

const TABLE = 'Asana Tasks';
type UpsertTable = {
  update(records: { fields: Record<string, string> }[], options: { performUpsert: { fieldsToMergeOn: string[] } }): Promise<unknown>;
};

describe('the Airtable emulator upserts as Airtable does', () => {
  const airtable = new AirtableEmulator({ requestsPerSecond: 1_000 });
  const base = airtable.createBase();
  let table: UpsertTable;

  before(async () => {
    airtable.createTable(base, TABLE);
    const endpointUrl = await airtable.listen();
    table = new Airtable({ apiKey: airtable.token, endpointUrl, noRetryIfRateLimited: true })
      .base(base)
      .table(TABLE) as unknown as UpsertTable;
  });
  after(() => airtable.close());
  beforeEach(() => airtable.clear(base, TABLE));

  const upsert = (...records: Record<string, string>[]) =>
    table.update(
      records.map((fields) => ({ fields })),
      { performUpsert: { fieldsToMergeOn: [TASK_ID] } },
    );
  const names = () =>
    airtable
      .records(base, TABLE)
      .map((r) => `${String(r.fields[TASK_ID])}:${String(r.fields.Name)}`)
      .sort();

  it('merges a record into the row with its key and adds one whose key no row has', async () => {
    airtable.seed(base, TABLE, [
      { [TASK_ID]: '1', Name: 'one' },
      { [TASK_ID]: '2', Name: 'two' },
    ]);
    await upsert({ [TASK_ID]: '2', Name: 'two, renamed' }, { [TASK_ID]: '3', Name: 'three' });
    assert.deepEqual(names(), ['1:one', '2:two, renamed', '3:three']);
  });

  it('refuses a request whose key two rows share, or that holds one key twice, and changes nothing', async () => {
    airtable.seed(base, TABLE, [
      { [TASK_ID]: '1', Name: 'one' },
      { [TASK_ID]: '1', Name: 'one again' },
    ]);
    const before = names();
    await assert.rejects(upsert({ [TASK_ID]: '4', Name: 'four' }, { [TASK_ID]: '1', Name: 'x' }), { statusCode: 422 });
    await assert.rejects(upsert({ [TASK_ID]: '5', Name: 'five' }, { [TASK_ID]: '5', Name: 'again' }), { statusCode: 422 });
    assert.deepEqual(names(), before);
  });

  it('finds rows by the value of a field', () => {
    airtable.seed(base, TABLE, [
      { [TASK_ID]: '1', Name: 'one' },
      { [TASK_ID]: '2', Name: 'two' },
      { [TASK_ID]: '3', Name: 'three' },
    ]);
    const found = airtable.recordsWhere(base, TABLE, TASK_ID, new Set(['1', '3', '9']));
    assert.deepEqual(found.map((r) => r.fields.Name).sort(), ['one', 'three']);
  });
});
