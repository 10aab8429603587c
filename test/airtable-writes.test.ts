/** What the Airtable client sends for rows it has written before, against the Airtable emulator over loopback. */
import assert from 'node:assert/strict';
import { AirtableClient } from '../activities/airtable-client';
import type { TaskRow } from '../activities/mapping';
import { AirtableSandbox } from '../sandbox/airtable';

describe('writing rows to Airtable', () => {
  const BASE = 'appWRITESTEST0001';
  let airtable: AirtableSandbox;
  let client: AirtableClient;
  beforeEach(async () => {
    airtable = new AirtableSandbox();
    await airtable.listen();
    airtable.createTable(BASE, 'Asana Tasks');
    client = new AirtableClient({ token: airtable.token, baseId: BASE, tableName: 'Asana Tasks', endpointUrl: airtable.url, lockoutMs: 1000, requestsPerSecond: 5 });
  });
  afterEach(() => airtable.close());

  const row = (name: string): TaskRow => ({ 'Task ID': '101', Name: name, Assignee: '', 'Due Date': null, Description: '' });

  it('skips a sync of a row it has just written as it is, but writes a changed one, a reconcile, and one whose row it deleted', async () => {
    await client.upsert([row('A')], { unlessWritten: true });
    const writes = () => airtable.writes();
    const first = writes();
    await client.upsert([row('A')], { unlessWritten: true });
    assert.equal(writes(), first, 'the same row again: nothing sent');
    await client.upsert([row('B')], { unlessWritten: true });
    assert.equal(writes(), first + 1, 'a changed row is written');
    airtable.clear(BASE, 'Asana Tasks');
    airtable.seed(BASE, 'Asana Tasks', [{ 'Task ID': '101', Name: 'edited by hand' }]);
    await client.upsert([row('B')]);
    assert.equal(writes(), first + 2, 'a reconcile writes whatever this process wrote before');
    assert.deepEqual(airtable.records(BASE, 'Asana Tasks').map((r) => r.fields.Name), ['B']);
    await client.delete(await client.findByTaskIds(['101']));
    await client.upsert([row('B')], { unlessWritten: true });
    assert.deepEqual(airtable.records(BASE, 'Asana Tasks').map((r) => r.fields.Name), ['B'], 'a deleted row is written again');
  });
});
