/**
 * The check of a delivery too large to start a run per task (webhook/journal.ts): only the tasks
 * Asana lists in the project get a sync. One listing of the project's recently modified tasks
 * settles hundreds of gids, so a delivery of invented gids costs a few Asana requests, no Airtable
 * request and no run per gid.
 */
import { mergeChanges } from '../rows/freshness';
import { GONE_RECHECK_MS, type TaskReader } from '../asana/task-reader';

/** One task event of the delivery, as the webhook journaled it. */
export interface TaskToCheck {
  taskGid: string;
  receivedAt: number;
  changedAt?: string;
}

export interface CheckTasksInput {
  projectGid: string;
  tasks: TaskToCheck[];
}

export interface CheckTasksResult {
  /** Task events whose sync was started or signalled. */
  started: number;
  /** Gids Asana did not list in the project (invented, deleted, moved): no run was started for them. */
  notListed: string[];
}

export interface CheckTasksDeps {
  asana: Pick<TaskReader, 'listedAmong'>;
  /** ASANA_PROJECT_GIDS: tasks of any other project are not listed. */
  syncedProjects: ReadonlySet<string>;
  /** Starts or signals the task's sync workflow with the event. */
  startSync: (projectGid: string, task: TaskToCheck) => Promise<void>;
}

/** Syncs started at once. */
const START_CONCURRENCY = 32;

/**
 * Starts the sync of each task Asana lists, once per task whatever number of its events came (as
 * the webhook signals a task's waiting events as one), as soon as a look finds it. A task it does
 * not list at first is looked for again GONE_RECHECK_MS later, since a listing may lag a task's
 * creation; what is still missing then is returned, and the reconcile schedule catches any real
 * task among it.
 */
export async function startListedTasks(deps: CheckTasksDeps, { projectGid, tasks }: CheckTasksInput): Promise<CheckTasksResult> {
  const eventsOf = new Map<string, TaskToCheck[]>();
  for (const task of tasks) eventsOf.set(task.taskGid, [...(eventsOf.get(task.taskGid) ?? []), task]);
  const merged = [...eventsOf].map(([taskGid, events]): TaskToCheck => {
    const { changedAt, receivedAt } = mergeChanges(events);
    return { taskGid, receivedAt: receivedAt!, ...(changedAt !== undefined ? { changedAt } : {}) };
  });
  let waiting = merged;
  let started = 0;
  const startListed = async () => {
    const listed = await deps.asana.listedAmong(projectGid, waiting);
    const toStart = waiting.filter((t) => listed.has(t.taskGid));
    waiting = waiting.filter((t) => !listed.has(t.taskGid));
    for (let i = 0; i < toStart.length; i += START_CONCURRENCY) {
      await Promise.all(toStart.slice(i, i + START_CONCURRENCY).map((task) => deps.startSync(projectGid, task)));
    }
    started += toStart.reduce((sum, t) => sum + eventsOf.get(t.taskGid)!.length, 0);
  };
  if (deps.syncedProjects.has(projectGid)) {
    await startListed();
    if (waiting.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, GONE_RECHECK_MS));
      await startListed();
    }
  }
  return { started, notListed: waiting.map((t) => t.taskGid) };
}
