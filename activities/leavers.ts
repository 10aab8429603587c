/**
 * The row of a task that left every synced project but is still in Asana. The proof is a
 * deletion's: two reads, GONE_RECHECK_MS apart, both finding it in none of them (a move between
 * two synced projects read between its steps is no leaving). Then ASANA_DELETED_TASKS decides.
 */
import type { DeletedTaskPolicy } from '../config';
import type { AsanaTask } from '../rows/asana-task';
import { rowsEqual, TASK_ID, toTaskRow, type Column, type TaskRow } from '../rows/columns';
import type { RowWriter, StoredRow } from '../airtable/row-writer';

/** What happened to a leaver's rows: deleted, marked (a column showing membership rewritten), or kept as they were. */
export type LeaverOutcome = 'deleted' | 'marked' | 'kept';

/**
 * `delete` deletes the task's rows; `keep` keeps them and rewrites only the columns that show
 * membership (`in_synced_project` unticked, `projects` emptied), where they still say otherwise,
 * so a report can filter leavers out while the rest of the row stays as it was last synced.
 */
export async function settleLeaver(
  airtable: Pick<RowWriter, 'delete' | 'upsert'>,
  policy: DeletedTaskPolicy,
  columns: readonly Column[],
  rows: StoredRow[],
  task: AsanaTask,
): Promise<LeaverOutcome> {
  if (policy === 'delete') {
    await airtable.delete(rows);
    return 'deleted';
  }
  const marks = columns.filter((c) => c.showsMembership === true);
  const marked: TaskRow = { [TASK_ID]: task.gid, ...toTaskRow(task, marks) };
  if (marks.length === 0 || rows.every((r) => rowsEqual(marked, r.fields, marks))) return 'kept';
  await airtable.upsert([marked]);
  return 'marked';
}
