import { DEFAULT_COLUMNS } from '../../rows/columns';
import assert from 'node:assert/strict';
import type { RowWriter, StoredRow } from '../../airtable/row-writer';
import type { TaskReader } from '../../asana/task-reader';
import { reconcilePass } from '../../activities/reconcile';

describe('reconcile pass', () => {
  it('reports (and so heartbeats) for every page it reads and every row of other projects it checks', async () => {
    const foreign: StoredRow[] = Array.from({ length: 3000 }, (_, i) => ({
      recordId: `rec${i}`,
      createdTime: '2026-01-01T00:00:00.000Z',
      fields: { 'Task ID': String(10_000 + i), Name: `Other ${i}` },
    }));
    const airtable = {
      async allRows(onPage?: (rowsSoFar: number) => void) {
        for (let page = 1; page <= 30; page += 1) onPage?.(page * 100);
        return foreign;
      },
      upsert: async () => undefined,
      delete: async () => assert.fail('nothing is deleted: every task is still in a synced project'),
    } as unknown as RowWriter;
    const asana = {
      listProjectTasks: async () => ({ data: [], nextOffset: undefined }),
      getTask: async (gid: string) => ({
        gid,
        name: 'still there',
        assignee: null,
        due_on: null,
        due_at: null,
        memberships: [{ project: { gid: '2' } }],
      }),
      withParentProjects: async (task: unknown) => task,
    } as unknown as TaskReader;
    let reports = 0;
    const result = await reconcilePass(
      {
        asana,
        airtable,
        deletedTasks: 'delete',
        columns: DEFAULT_COLUMNS,
        syncedProjects: new Set(['1', '2']),
        syncSubtasks: false,
        report: () => (reports += 1),
      },
      { projectGid: '1', mode: 'full' },
    );
    assert.equal(result.deleted, 0);
    assert.ok(reports >= 30 + 1 + 3000, `${reports} reports`);
  });
});
