/**
 * The burst under every delivery pattern Asana may use: events per new task, events per delivery,
 * tasks created at once or over 10 s, and the order task lists come in; plus a burst of changes.
 * Every row is run and reported, with its goal.
 */
import type { AirtableEmulator } from '../emulators/airtable';
import type { AsanaEmulator } from '../emulators/asana';
import { burst, changeBurst, sleep, TABLE, type BurstOutcome } from './burst';

export interface DeliveryPattern {
  eventsPerTask: number;
  eventsPerDelivery: number;
  spreadMs: number;
  listOrder: 'project' | 'newest-first';
}

export const PATTERNS: DeliveryPattern[] = [1, 3].flatMap((eventsPerTask) =>
  [1, 10, 50, 100].flatMap((eventsPerDelivery) =>
    [0, 10_000].flatMap((spreadMs) =>
      (['project', 'newest-first'] as const).map((listOrder) => ({ eventsPerTask, eventsPerDelivery, spreadMs, listOrder })),
    ),
  ),
);

export interface MatrixRow {
  pattern: string;
  outcome: BurstOutcome;
  /** Signals the webhook sent to Temporal for the row's events. */
  signals: number;
}

export interface MatrixContext {
  asana: AsanaEmulator;
  airtable: AirtableEmulator;
  baseId: string;
  projectGid: string;
  count: number;
  /** Resolves once no sync is running. */
  quiet: () => Promise<void>;
  /** The webhook's count of signals sent, once it has forwarded every event it holds. */
  signalsSent: () => Promise<number>;
  /** Runs only the patterns whose description holds this text (`--only`). */
  only?: string;
  /** Starts tracing a row (`--trace`); returns what stops it. */
  trace?: (label: string) => () => void;
}

const describePattern = (p: DeliveryPattern) =>
  `${p.eventsPerTask} event${p.eventsPerTask > 1 ? 's' : ''}/task, ${p.eventsPerDelivery}/delivery, ${p.spreadMs ? `over ${p.spreadMs / 1000} s` : 'at once'}, ${p.listOrder === 'project' ? 'project order' : 'newest first'}`;

/** Airtable's floor for `rows` rows: 10 rows a request, 5 requests a second. */
export const floorMs = (rows: number): number => (rows / 50) * 1000;

/** A burst's goals for `count` tasks: near the floor, few Asana reads, full Airtable requests. */
export const burstGoals = (count: number) => ({
  maxMs: 1.1 * floorMs(count),
  maxAsanaRequests: 0.15 * count,
  maxAirtableRequests: Math.ceil((count / 10) * 1.05),
});

export function meetsGoals(o: BurstOutcome, count: number): boolean {
  const goals = burstGoals(count);
  return (
    o.convergeMs !== undefined &&
    o.convergeMs <= goals.maxMs &&
    o.asanaRequests <= goals.maxAsanaRequests &&
    o.airtableRequests <= goals.maxAirtableRequests &&
    o.rateLimited === 0 &&
    o.duplicates + o.lost + o.wrong === 0
  );
}

export async function deliveryMatrix(
  ctx: MatrixContext,
  onRow: (row: MatrixRow, index: number, total: number) => void,
): Promise<MatrixRow[]> {
  const { asana, airtable, baseId, projectGid, count } = ctx;
  const rows: MatrixRow[] = [];
  const patterns = PATTERNS.filter((p) => ctx.only === undefined || describePattern(p).includes(ctx.only));
  const total = patterns.length + 1;
  const record = async (pattern: string, run: () => Promise<BurstOutcome>) => {
    const signalsBefore = await ctx.signalsSent();
    const stopTrace = ctx.trace?.(String(rows.length + 1));
    const outcome = await run().finally(stopTrace);
    const row = { pattern, outcome, signals: (await ctx.signalsSent()) - signalsBefore };
    rows.push(row);
    onRow(row, rows.length, total);
  };
  for (const pattern of patterns) {
    await ctx.quiet();
    airtable.clear(baseId, TABLE);
    asana.configure({ newTaskEvents: pattern.eventsPerTask, deliveryBatchSize: pattern.eventsPerDelivery, listOrder: pattern.listOrder });
    await sleep(1000); // a clean second of Airtable's rate
    await record(describePattern(pattern), () => burst(asana, airtable, baseId, projectGid, count, 120_000, pattern.spreadMs));
  }
  // the last row's tasks, each changed in two fields at once: two `changed` events a task
  await ctx.quiet();
  await sleep(1000);
  asana.configure({ deliveryBatchSize: 100, listOrder: 'project' });
  const lastTasks = asana.taskList(projectGid).slice(-count);
  await record(`${count} changes of two fields each (2 events/task), 100/delivery`, () =>
    changeBurst(asana, airtable, baseId, lastTasks, 120_000),
  );
  return rows;
}
