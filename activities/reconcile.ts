/**
 * One reconciliation pass over a project: Asana's tasks (all, or those modified since a
 * watermark) against the rows of "Asana Tasks". Missing rows are created, differing rows updated,
 * equal rows left alone (an unchanged table costs reads only), and in a full pass rows whose task
 * is gone follow the deleted-task policy and duplicate rows of one task are merged away.
 * Writes go through the same performUpsert as the per-task sync, so racing a webhook sync is safe.
 */
import type { DeletedTaskPolicy } from '../config';
import { ApiError, retrying } from '../lib/api-error';
import type { RowWriter, StoredRow } from '../airtable/row-writer';
import { GONE_RECHECK_MS, type TaskReader } from '../asana/task-reader';
import { inSyncedProject, type AsanaTask } from '../rows/asana-task';
import { rowsEqual, rowTaskId, TASK_ID, toTaskRow, type Column, type TaskRow } from '../rows/columns';
import { settleLeaver } from './leavers';

export interface ReconcileCounts {
  seen: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  duplicatesRemoved: number;
}

/** Full: every task and every row; incremental: the tasks changed since a time. */
export type ReconcileMode = 'incremental' | 'full';

export interface ReconcilePassInput {
  projectGid: string;
  mode: ReconcileMode;
  /** Incremental: tasks modified at or after this ISO time. */
  since?: string;
}

export interface ReconcilePassResult extends ReconcileCounts {
  /** Where the next incremental pass may start: this pass's start, less a margin for clock skew. */
  watermark: string;
}

export interface ReconcileDeps {
  asana: TaskReader;
  airtable: RowWriter;
  deletedTasks: DeletedTaskPolicy;
  /** The columns rows are made of and compared by. */
  columns: readonly Column[];
  /** ASANA_PROJECT_GIDS: a row of a task in none of them (a subtask: its parent in none) is a leaver's. */
  syncedProjects: ReadonlySet<string>;
  /** SYNC_SUBTASKS: the subtasks of each listed task that has some are listed too. */
  syncSubtasks: boolean;
  /** Called after each page (heartbeats and progress reports). */
  report: (counts: ReconcileCounts) => void;
}

/** Asana's modified_at and our clock may disagree by this much; re-reading a few tasks is free. */
export const WATERMARK_MARGIN_MS = 60_000;
const REQUEST_ATTEMPTS = 6;

export const zeroCounts = (): ReconcileCounts => ({ seen: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, duplicatesRemoved: 0 });

/**
 * A long pass should not start over because one request met a 5xx or a 429: retry that request
 * in place (the pacers already wait out 429s), and leave other failures to the activity's retry.
 */
function retryingInPlace<T>(request: () => Promise<T>): Promise<T> {
  return retrying(request, (err, attempt) => {
    if (!(err instanceof ApiError) || !err.retryable || attempt + 1 >= REQUEST_ATTEMPTS) return undefined;
    return err.retryAfterMs ?? Math.min(1000 * 2 ** attempt, 30_000);
  });
}

function byTaskId(rows: StoredRow[]): Map<string, StoredRow[]> {
  const grouped = new Map<string, StoredRow[]>();
  for (const row of rows) {
    const taskGid = row.fields[TASK_ID];
    if (typeof taskGid !== 'string') continue; // a row someone added by hand, not ours
    grouped.set(taskGid, [...(grouped.get(taskGid) ?? []), row]);
  }
  return grouped;
}

/** Keeps the oldest row of each task and deletes the rest, so upserts can match one row again. */
async function removeDuplicates(airtable: RowWriter, stored: Map<string, StoredRow[]>): Promise<number> {
  const extras: StoredRow[] = [];
  for (const [taskGid, rows] of stored) {
    if (rows.length < 2) continue;
    const [keep, ...rest] = [...rows].sort((a, b) => a.createdTime.localeCompare(b.createdTime));
    extras.push(...rest);
    stored.set(taskGid, [keep]);
  }
  if (extras.length > 0) await retryingInPlace(() => airtable.delete(extras));
  return extras.length;
}

const PAGE_TASKS = 100;

/** The project's tasks (those modified since `since`, when given) a page at a time, as Asana lists them. */
async function* listedPages(asana: TaskReader, projectGid: string, since?: string): AsyncGenerator<AsanaTask[]> {
  let offset: string | undefined;
  do {
    const page = await retryingInPlace(() => asana.listProjectTasks(projectGid, { modifiedSince: since, offset }));
    yield page.data;
    offset = page.nextOffset;
  } while (offset);
}

async function* pagesOf(tasks: AsanaTask[]): AsyncGenerator<AsanaTask[]> {
  for (let i = 0; i < tasks.length; i += PAGE_TASKS) yield tasks.slice(i, i + PAGE_TASKS);
}

/** A parent's subtasks, every page, each with the parent's memberships (what makes it synced). */
async function subtasksOf(asana: TaskReader, parent: AsanaTask): Promise<AsanaTask[]> {
  const subtasks: AsanaTask[] = [];
  let offset: string | undefined;
  do {
    const page = await retryingInPlace(() => asana.listSubtasks(parent.gid, offset));
    subtasks.push(...page.data.map((sub) => ({ ...sub, parent: { ...sub.parent, gid: parent.gid, memberships: parent.memberships } })));
    offset = page.nextOffset;
  } while (offset);
  return subtasks;
}

/** Each page with the subtasks of its tasks that have any (one level: Asana's listing counts them, `num_subtasks`). */
async function* withSubtasks(asana: TaskReader, pages: AsyncIterable<AsanaTask[]>): AsyncGenerator<AsanaTask[]> {
  for await (const tasks of pages) {
    const parents = tasks.filter((t) => (t.num_subtasks ?? 0) > 0);
    yield [...tasks, ...(await Promise.all(parents.map((t) => subtasksOf(asana, t)))).flat()];
  }
}

async function allProjectTasks(asana: TaskReader, projectGid: string, onPage: () => void): Promise<AsanaTask[]> {
  const tasks: AsanaTask[] = [];
  for await (const page of listedPages(asana, projectGid)) {
    tasks.push(...page);
    onPage();
  }
  return tasks;
}

/**
 * Writes the row of each listed task whose stored row differs or is missing, counting as it goes;
 * `storedFor` gives the stored rows of a page's tasks. Returns the tasks seen.
 */
async function writeChangedRows(
  deps: ReconcileDeps,
  counts: ReconcileCounts,
  pages: AsyncIterable<AsanaTask[]>,
  storedFor: (rows: TaskRow[]) => Promise<Map<string, StoredRow[]>>,
): Promise<Set<string>> {
  const { asana, airtable } = deps;
  const seen = new Set<string>();
  // Keep the write queue fed across page boundaries: the next page's rows are read while this
  // page's writes wait for their slots.
  const writing: Promise<void>[] = [];
  for await (const tasks of pages) {
    const rows = await Promise.all(
      tasks.map((task) => retryingInPlace(async () => toTaskRow(await asana.withAssigneeName(task), deps.columns))),
    );
    const existing = await storedFor(rows);
    // What each row shows: the writer then never lets this read overwrite a sync's newer one.
    const asOf = new Map(tasks.flatMap((task) => (task.modified_at ? [[task.gid, task.modified_at] as const] : [])));
    const writes: TaskRow[] = [];
    for (const row of rows) {
      const taskGid = rowTaskId(row);
      if (seen.has(taskGid)) continue;
      seen.add(taskGid);
      const current = existing.get(taskGid)?.[0];
      if (current === undefined) counts.created += 1;
      else if (!rowsEqual(row, current.fields, deps.columns)) counts.updated += 1;
      else {
        counts.unchanged += 1;
        continue;
      }
      writes.push(row);
    }
    const written = retryingInPlace(() => airtable.upsert(writes, { asOf, rewrite: true }));
    written.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    writing.push(written);
    if (writing.length > 2) await writing.shift();
    counts.seen = seen.size;
    deps.report({ ...counts });
  }
  await Promise.all(writing);
  return seen;
}

/**
 * Rows of tasks not in the project's listing. A task Asana no longer has (a second 404: one can
 * be transient) has its rows deleted under `delete`; a task in none of the synced projects on two
 * looks (a leaver) has its rows settled by the policy (leavers.ts: deleted, or marked). Rows of
 * tasks still in another synced project are left alone. Every look reports, so a table of many
 * such rows keeps heartbeating.
 */
async function settleRowsOfUnlistedTasks(
  deps: ReconcileDeps,
  counts: ReconcileCounts,
  stored: Map<string, StoredRow[]>,
  seen: Set<string>,
): Promise<void> {
  const { asana, airtable } = deps;
  const look = async (taskGid: string) => {
    const task = await retryingInPlace(() => asana.getTask(taskGid));
    return task && (await retryingInPlace(() => asana.withParentProjects(task, deps.syncedProjects, { rereadParent: true })));
  };
  const missing: string[] = [];
  const leaving: string[] = [];
  for (const taskGid of stored.keys()) {
    deps.report({ ...counts });
    if (seen.has(taskGid)) continue;
    const task = await look(taskGid);
    if (task === null) {
      if (deps.deletedTasks === 'delete') missing.push(taskGid);
    } else if (!inSyncedProject(task, deps.syncedProjects)) leaving.push(taskGid);
  }
  if (missing.length + leaving.length > 0) await new Promise((resolve) => setTimeout(resolve, GONE_RECHECK_MS));
  for (const taskGid of missing) {
    deps.report({ ...counts });
    if ((await retryingInPlace(() => asana.getTask(taskGid))) !== null) continue;
    const rows = stored.get(taskGid)!;
    await retryingInPlace(() => airtable.delete(rows));
    counts.deleted += rows.length;
  }
  for (const taskGid of leaving) {
    deps.report({ ...counts });
    const task = await look(taskGid);
    if (task === null || inSyncedProject(task, deps.syncedProjects)) continue; // gone, or back: the next pass or its sync settles it
    const rows = stored.get(taskGid)!;
    const outcome = await retryingInPlace(() => settleLeaver(airtable, deps.deletedTasks, deps.columns, rows, task));
    if (outcome === 'deleted') counts.deleted += rows.length;
    if (outcome === 'marked') counts.updated += 1;
  }
  deps.report({ ...counts });
}

/**
 * A full pass reads the whole table once, while it lists the project (the two APIs' limits are
 * separate, so they run side by side), then also removes duplicates and, by policy, rows of
 * deleted tasks; an incremental one lists the tasks changed since `since` and reads just the rows
 * of each page's tasks. Each page read reports (and so heartbeats): a table of 100,000 rows takes
 * minutes to read.
 */
export async function reconcilePass(deps: ReconcileDeps, input: ReconcilePassInput, now = Date.now()): Promise<ReconcilePassResult> {
  const { asana, airtable } = deps;
  const watermark = new Date(now - WATERMARK_MARGIN_MS).toISOString();
  const counts = zeroCounts();
  const listed = (pages: AsyncIterable<AsanaTask[]>) => (deps.syncSubtasks ? withSubtasks(asana, pages) : pages);
  if (input.mode === 'full') {
    const reportReading = () => deps.report({ ...counts });
    const [storedRows, allTasks] = await Promise.all([
      retryingInPlace(() => airtable.allRows(reportReading)),
      allProjectTasks(asana, input.projectGid, reportReading),
    ]);
    const stored = byTaskId(storedRows);
    counts.duplicatesRemoved = await removeDuplicates(airtable, stored);
    const seen = await writeChangedRows(deps, counts, listed(pagesOf(allTasks)), () => Promise.resolve(stored));
    // Under keep, only a column that shows membership gives a leaver's row something to change.
    if (deps.deletedTasks === 'delete' || deps.columns.some((c) => c.showsMembership === true))
      await settleRowsOfUnlistedTasks(deps, counts, stored, seen);
  } else {
    const storedFor = async (rows: TaskRow[]) => byTaskId(await retryingInPlace(() => airtable.findByTaskIds(rows.map(rowTaskId))));
    await writeChangedRows(deps, counts, listed(listedPages(asana, input.projectGid, input.since)), storedFor);
  }
  return { ...counts, watermark };
}
