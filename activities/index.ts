/**
 * Activities: all I/O of a sync and of a reconciliation. Built from clients so tests and the
 * worker share one construction, and workflows import only the type.
 */
import { Context } from '@temporalio/activity';
import type { DeletedTaskPolicy } from '../config';
import type { RowWriter } from '../airtable/row-writer';
import type { TaskReader } from '../asana/task-reader';
import type { Freshness } from '../rows/freshness';
import { classified } from './failures';
import { inSyncedProject, type AsanaTask } from '../rows/asana-task';
import { toTaskRow, type Column } from '../rows/columns';
import { settleLeaver } from './leavers';
import { reconcilePass, type ReconcileCounts, type ReconcilePassInput, type ReconcilePassResult } from './reconcile';
import { startListedTasks, type CheckTasksInput, type CheckTasksResult, type TaskToCheck } from './check-tasks';

export interface ActivityDeps {
  asana: TaskReader;
  airtable: RowWriter;
  deletedTasks: DeletedTaskPolicy;
  /** The columns of the table (rows/columns.ts, with COLUMNS_FILE's). */
  columns: readonly Column[];
  /** ASANA_PROJECT_GIDS: a sync writes a row only for a task in one of them (a subtask, with SYNC_SUBTASKS, through its parent). */
  syncedProjects: ReadonlySet<string>;
  /** SYNC_SUBTASKS: subtasks have rows too (the reader counts them in their parent's projects). */
  syncSubtasks: boolean;
  /** Sends a reconciliation's progress to its workflow (for its progress query), within a deadline of its own. */
  reportProgress: (workflowId: string, counts: ReconcileCounts) => Promise<void>;
  /** The watermark of the project's newest continuous reconcile that completed, if any. */
  findLastWatermark: (projectGid: string) => Promise<string | undefined>;
  /** Starts or signals a task's sync workflow with one of its events (what the webhook does for a small delivery). */
  startSync: (projectGid: string, task: TaskToCheck) => Promise<void>;
}

/** Progress reaches the workflow at most this often; every page heartbeats. */
const PROGRESS_INTERVAL_MS = 1000;

export function createActivities({
  asana,
  airtable,
  deletedTasks,
  columns,
  syncedProjects,
  syncSubtasks,
  reportProgress,
  findLastWatermark,
  startSync,
}: ActivityDeps) {
  const inScope = async (task: AsanaTask | null, rereadParent = false) =>
    task && (await asana.withParentProjects(task, syncedProjects, { rereadParent }));
  return {
    /**
     * Reads the task as it is now and upserts its row (its name and the modified_at the row shows);
     * null when Asana no longer has the task. A task in none of the synced projects, whoever
     * asked for the sync, is `left` when it has a row and a second look 3 s later still finds it
     * out (its row then follows ASANA_DELETED_TASKS), and `skipped` (with why) otherwise.
     * One activity for all, so a retry after an Airtable failure writes fresh data. A row this
     * worker has just written for the same modification is not written again (a second event of one change).
     */
    async syncTaskRow(
      taskGid: string,
      projectGid?: string,
      fresh?: Freshness | number,
    ): Promise<{ name: string; modifiedAt?: string } | { skipped: string } | { left: 'kept' | 'deleted' } | null> {
      const rowArrived = airtable.rowComing(); // while syncs read, the write queue waits for their rows
      const write = async (task: AsanaTask) => {
        const written = airtable.upsert([toTaskRow(await asana.withAssigneeName(task), columns)], { asOf: task.modified_at });
        rowArrived();
        await written;
        return { name: task.name, modifiedAt: task.modified_at };
      };
      return classified(async () => {
        // A retry re-reads: the task may have changed, or gone, while this attempt waited. (A number
        // is how runs scheduled before change times existed say when their event arrived.)
        const freshness = Context.current().info.attempt > 1 ? undefined : typeof fresh === 'number' ? { notBefore: fresh } : fresh;
        const read = projectGid === undefined ? await asana.getTask(taskGid) : await asana.getProjectTask(taskGid, projectGid, freshness);
        if (read === null) rowArrived(); // a second look takes seconds: no request should wait for it
        const task = await inScope(read ?? (await asana.lookAgain(taskGid)));
        if (task === null) return null;
        if (inSyncedProject(task, syncedProjects)) return await write(task);
        rowArrived();
        const skipped = { skipped: `task ${taskGid} is in none of the synced projects (ASANA_PROJECT_GIDS); no row written` };
        // Asana sends every subtask's events to its parent's projects. Without SYNC_SUBTASKS no sync
        // gave one a row, so an Airtable read for each is not worth it: a full reconcile settles the rare row.
        if (task.parent && !syncSubtasks) return skipped;
        const rows = await airtable.findByTaskIds([taskGid]);
        if (rows.length === 0) return skipped;
        const again = await inScope(await asana.lookAgain(taskGid), true);
        if (again === null) return null;
        if (inSyncedProject(again, syncedProjects)) return await write(again);
        const outcome = await settleLeaver(airtable, deletedTasks, columns, rows, again);
        return { left: outcome === 'deleted' ? ('deleted' as const) : ('kept' as const) };
      }).finally(rowArrived);
    },

    /** Applies ASANA_DELETED_TASKS to the row of a task Asana no longer has. */
    async handleDeletedTask(taskGid: string): Promise<'kept' | 'deleted'> {
      if (deletedTasks === 'keep') return 'kept';
      return classified(async () => {
        await airtable.delete(await airtable.findByTaskIds([taskGid]));
        return 'deleted' as const;
      });
    },

    /** Opens the connections a sync uses (warmUpWorkflow); a failure only means the first sync opens them. */
    async warmUp(): Promise<void> {
      await Promise.allSettled([asana.warmUp(), airtable.warmUp()]);
    },

    /**
     * Starts the sync of each task of a large delivery that Asana lists in the project; the gids it
     * does not list are logged, counted (asana_tasks_not_listed) and returned, for the run's history.
     */
    async startListedTasks(input: CheckTasksInput): Promise<CheckTasksResult> {
      const result = await classified(() => startListedTasks({ asana, syncedProjects, startSync }, input));
      if (result.notListed.length > 0) {
        const context = Context.current();
        context.metricMeter
          .createCounter('asana_tasks_not_listed', 'tasks', 'Gids of large deliveries that Asana did not list: no sync started')
          .add(result.notListed.length);
        context.log.warn('tasks of a large delivery not listed by Asana: no sync started', {
          projectGid: input.projectGid,
          count: result.notListed.length,
          first: result.notListed.slice(0, 10),
        });
      }
      return result;
    },

    /** Where the next incremental reconcile of a project starts; null for none (run full). */
    async lastWatermark(projectGid: string): Promise<string | undefined> {
      return findLastWatermark(projectGid);
    },

    /** One reconciliation pass; heartbeats each page and reports progress to the workflow. */
    async reconcileProject(input: ReconcilePassInput): Promise<ReconcilePassResult> {
      const context = Context.current();
      const workflowId = context.info.workflowExecution?.workflowId;
      let lastReport = 0;
      // One report at a time, awaited before the activity ends: none is left in flight when the worker closes its connection.
      let reporting: Promise<void> | undefined;
      const report = (counts: ReconcileCounts): void => {
        context.heartbeat(counts);
        if (reporting || Date.now() - lastReport < PROGRESS_INTERVAL_MS) return;
        lastReport = Date.now();
        if (workflowId)
          reporting = reportProgress(workflowId, counts)
            .catch(() => undefined) // progress is best effort
            .finally(() => (reporting = undefined));
      };
      return classified(async () => {
        let result: ReconcilePassResult;
        try {
          result = await reconcilePass({ asana, airtable, deletedTasks, columns, syncedProjects, syncSubtasks, report }, input);
        } finally {
          await reporting; // whether the pass ended or failed; the final counts then land last
        }
        if (workflowId) await reportProgress(workflowId, result).catch(() => undefined);
        return result;
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
