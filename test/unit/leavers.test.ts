import assert from 'node:assert/strict';
import { settleLeaver } from '../../activities/leavers';
import type { RowWriter, StoredRow } from '../../airtable/row-writer';
import type { AsanaTask } from '../../rows/asana-task';
import { DEFAULT_COLUMNS, type TaskRow } from '../../rows/columns';
import { buildColumns } from '../../rows/columns-file';

const leaver: AsanaTask = {
  gid: '42',
  name: 'Moved out',
  assignee: null,
  due_on: null,
  due_at: null,
  memberships: [{ project: { gid: '999', name: 'Private' } }],
};
const stored = (fields: Record<string, unknown>): StoredRow[] => [
  { recordId: 'rec1', createdTime: '2026-01-01T00:00:00.000Z', fields: { 'Task ID': '42', Name: 'Moved out', ...fields } },
];
const { columns: marked } = buildColumns(
  [
    { name: 'Synced', type: 'checkbox', source: 'in_synced_project' },
    { name: 'Projects', type: 'singleLineText', source: 'projects' },
  ],
  { syncedProjects: new Set(['100']), customFields: [], typecast: false },
);

/** An Airtable that records what it is asked to do. */
function recorder() {
  const calls = { upserts: [] as TaskRow[][], deleted: [] as StoredRow[] };
  const airtable: Pick<RowWriter, 'delete' | 'upsert'> = {
    upsert: async (rows) => void calls.upserts.push(rows),
    delete: async (rows) => void calls.deleted.push(...rows),
  };
  return { airtable, calls };
}

describe("a leaver's row (in no synced project any more, still in Asana)", () => {
  it('is deleted under delete', async () => {
    const { airtable, calls } = recorder();
    const rows = stored({ Synced: true });
    assert.equal(await settleLeaver(airtable, 'delete', marked, rows, leaver), 'deleted');
    assert.deepEqual(calls, { upserts: [], deleted: rows });
  });

  it('is marked under keep: only the columns that show membership are written, and only when they still say otherwise', async () => {
    const { airtable, calls } = recorder();
    assert.equal(await settleLeaver(airtable, 'keep', marked, stored({ Synced: true, Projects: 'Campaigns' }), leaver), 'marked');
    assert.deepEqual(calls.upserts, [[{ 'Task ID': '42', Synced: false, Projects: '' }]]);
    assert.equal(await settleLeaver(airtable, 'keep', marked, stored({}), leaver), 'kept', 'already marked: no write');
    assert.equal(calls.upserts.length, 1);
  });

  it('is kept as it is under keep when no column shows membership', async () => {
    const { airtable, calls } = recorder();
    assert.equal(await settleLeaver(airtable, 'keep', DEFAULT_COLUMNS, stored({}), leaver), 'kept');
    assert.deepEqual(calls, { upserts: [], deleted: [] });
  });
});
