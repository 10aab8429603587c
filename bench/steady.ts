/**
 * Steady load: changes at an even rate (new tasks, every fifth a rename of an earlier one), each
 * timed from the change in Asana to the first moment its row shows it.
 */
import { TASK_ID } from '../rows/columns';
import type { AirtableEmulator } from '../emulators/airtable';
import type { AsanaEmulator } from '../emulators/asana';
import { sleep, TABLE, until } from './burst';

export interface SteadyOutcome {
  changes: number;
  /** Change → row, ms, in the order the rows showed them. */
  latencies: number[];
  /** Changes whose row did not show them within the wait. */
  missed: number;
}

/** Rows are looked at this often: the latencies' resolution. */
const WATCH_MS = 5;

export async function steadyLoad(
  asana: AsanaEmulator,
  airtable: AirtableEmulator,
  baseId: string,
  projectGid: string,
  perSecond: number,
  durationMs: number,
): Promise<SteadyOutcome> {
  /** Task gid → the name its row must show, and when that change was made. */
  const waiting = new Map<string, { name: string; at: number }>();
  const latencies: number[] = [];
  const watcher = setInterval(() => {
    for (const record of airtable.recordsWhere(baseId, TABLE, TASK_ID, waiting)) {
      const gid = String(record.fields[TASK_ID]);
      const change = waiting.get(gid);
      if (change && record.fields.Name === change.name) {
        latencies.push(Date.now() - change.at);
        waiting.delete(gid);
      }
    }
  }, WATCH_MS);
  const created: string[] = [];
  const started = Date.now();
  let changes = 0;
  for (; Date.now() - started < durationMs; changes += 1) {
    await sleep(Math.max(0, started + (changes * 1000) / perSecond - Date.now()));
    const name = `Steady ${perSecond}/s #${changes}`;
    const renamed = changes % 5 === 4 ? created.find((gid) => !waiting.has(gid)) : undefined;
    if (renamed) asana.updateTask(renamed, { name });
    else created.push(asana.createTask(projectGid, { name }).gid);
    waiting.set(renamed ?? created[created.length - 1], { name, at: Date.now() });
  }
  await until(() => waiting.size === 0, 30_000, 50);
  clearInterval(watcher);
  return { changes, latencies, missed: waiting.size };
}
