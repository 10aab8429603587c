/** Bursts of Asana activity against a table, measured until every row is exact: what the bench scenarios share. */
import type { Client } from '@temporalio/client';
import type { AsanaTask } from '../rows/asana-task';
import { randomUUID } from 'node:crypto';
import { DEFAULT_COLUMNS, rowsEqual, TASK_ID, toTaskRow, type Column } from '../rows/columns';
import type { AirtableEmulator } from '../emulators/airtable';
import type { AsanaEmulator, EmulatedTask } from '../emulators/asana';

export const TABLE = 'Asana Tasks';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return false;
}

/** Whether no workflow on the task queue is running, waiting up to 5 minutes: the next scenario then measures only itself. */
export function untilNoneRunning(client: Client, taskQueue: string): Promise<boolean> {
  return until(
    async () => {
      for await (const run of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` }))
        return run === undefined;
      return true;
    },
    300_000,
    1000,
  );
}

export interface BurstOutcome {
  convergeMs: number | undefined;
  asanaRequests: number;
  airtableRequests: number;
  rateLimited: number;
  duplicates: number;
  lost: number;
  wrong: number;
  /**
   * When the first and the last write to Airtable were answered, from the first change, and the
   * longest pause between two writes with when it began (ms): where a slow burst lost its time.
   */
  writes: { first: number; last: number; longestPause: { ms: number; at: number } } | undefined;
}

/**
 * Makes changes in Asana (`act`, which returns the tasks it touched) and waits until the table
 * holds exactly one exact row for each of those tasks; what it cost, from the first change.
 */
async function measured(
  asana: AsanaEmulator,
  airtable: AirtableEmulator,
  baseId: string,
  timeoutMs: number,
  act: () => Promise<EmulatedTask[]>,
  columns: readonly Column[] = DEFAULT_COLUMNS,
): Promise<BurstOutcome> {
  const asanaBefore = asana.requests.length;
  const airtableBefore = airtable.requests.length;
  const asanaLimitedBefore = asana.rateLimited;
  const started = Date.now();
  const tasks = await act();
  const expected = new Map(tasks.map((t) => [t.gid, toTaskRow(asana.taskRecord(t.gid) as unknown as AsanaTask, columns)]));
  const rowsByTask = () => {
    const byTask = new Map<string, Record<string, unknown>[]>();
    for (const r of airtable.recordsWhere(baseId, TABLE, TASK_ID, expected))
      byTask.set(String(r.fields[TASK_ID]), [...(byTask.get(String(r.fields[TASK_ID])) ?? []), r.fields]);
    return byTask;
  };
  const exact = (fields: Record<string, unknown> | undefined, gid: string) =>
    fields !== undefined && rowsEqual(expected.get(gid)!, fields, columns);
  const converged = await until(
    () => {
      const byTask = rowsByTask();
      return tasks.every((t) => exact(byTask.get(t.gid)?.[0], t.gid));
    },
    timeoutMs,
    250,
  );
  const seenMs = Date.now() - started;
  const byTask = rowsByTask();
  // this base's requests only: another base's client (the naive baseline's) may still be retrying
  const baseRequests = airtable.requests.slice(airtableBefore).filter((r) => r.path.includes(`/${baseId}/`));
  const writeTimes = baseRequests
    .filter((r) => r.method !== 'GET' && !r.path.endsWith('/listRecords'))
    .map((r) => r.at - started)
    .sort((a, b) => a - b);
  // Only writes change the table: it became exact at the last write the check had seen, not up to
  // a polling interval later.
  const writesSeen = writeTimes.filter((t) => t <= seenMs);
  const convergeMs = !converged ? undefined : writesSeen.length > 0 ? writesSeen[writesSeen.length - 1] : seenMs;
  const longestPause = { ms: 0, at: 0 };
  for (let i = 1; i < writeTimes.length; i += 1)
    if (writeTimes[i] - writeTimes[i - 1] > longestPause.ms)
      Object.assign(longestPause, { ms: writeTimes[i] - writeTimes[i - 1], at: writeTimes[i - 1] });
  return {
    writes: writeTimes.length === 0 ? undefined : { first: writeTimes[0], last: writeTimes[writeTimes.length - 1], longestPause },
    convergeMs,
    asanaRequests: asana.requests.length - asanaBefore,
    airtableRequests: baseRequests.length,
    rateLimited: baseRequests.filter((r) => r.status === 429).length + asana.rateLimited - asanaLimitedBefore,
    duplicates: [...byTask.values()].reduce((n, rows) => n + Math.max(0, rows.length - 1), 0),
    lost: tasks.filter((t) => !byTask.has(t.gid)).length,
    wrong: tasks.filter((t) => byTask.has(t.gid) && !exact(byTask.get(t.gid)![0], t.gid)).length,
  };
}

/** Creates `count` tasks in a project with a webhook, all at once or evenly over `spreadMs`. */
export function burst(
  asana: AsanaEmulator,
  airtable: AirtableEmulator,
  baseId: string,
  projectGid: string,
  count: number,
  timeoutMs: number,
  spreadMs = 0,
  columns?: readonly Column[],
): Promise<BurstOutcome> {
  const users = [asana.addUser('Ana Lima'), asana.addUser('Bo Chen')];
  return measured(
    asana,
    airtable,
    baseId,
    timeoutMs,
    async () => {
      const tasks: EmulatedTask[] = [];
      const started = Date.now();
      for (let i = 0; i < count; i += 1) {
        if (spreadMs > 0) await sleep(started + (i * spreadMs) / count - Date.now());
        tasks.push(
          asana.createTask(projectGid, {
            name: `Burst task ${i} «${randomUUID().slice(0, 6)}»`,
            assignee: i % 3 ? users[i % 2].gid : null,
            due_on: i % 4 ? '2027-02-01' : null,
            notes: `Brief ${i}\nsecond line`,
            completed: i % 5 === 0,
            start_on: i % 2 ? '2027-01-15' : null,
            tags: i % 3 ? ['campaign'] : [],
          }),
        );
      }
      return tasks;
    },
    columns,
  );
}

/** Changes two fields (two events) of each of these tasks at once. */
export function changeBurst(
  asana: AsanaEmulator,
  airtable: AirtableEmulator,
  baseId: string,
  tasks: EmulatedTask[],
  timeoutMs: number,
): Promise<BurstOutcome> {
  return measured(asana, airtable, baseId, timeoutMs, async () =>
    tasks.map((t, i) =>
      asana.updateTask(t.gid, { name: `Changed ${i} «${randomUUID().slice(0, 6)}»`, due_on: '2027-03-0' + ((i % 9) + 1) }),
    ),
  );
}
