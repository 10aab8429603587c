/** `backfill --project <gid> [--since <iso>]`: a reconciliation on demand (full unless --since), with live progress and a summary. */
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { isGid } from '../config/gid';
import { progressQuery, type ReconcileInput, type ReconcileProgress } from '../workflows';
import { startBackfill } from '../client';
import { describeCounts } from '../workflows/reconcile';
import { UsageError } from './errors';
import type { Output } from './output';

const POLL_MS = 500;

export interface BackfillContext {
  config: Config;
  /** How the project is named in the run's summary (best effort: its gid where Asana does not say). */
  projectLabel: (gid: string) => Promise<string>;
  /** Connects to Temporal; called only once the arguments are known to be good. */
  connect: () => Promise<Client>;
  output: Output;
  /** Whether stdout is a terminal: one line redrawn in place, rather than a line per change. */
  interactive: boolean;
}

/** A bar that fills with the share of seen tasks already settled (written or found equal). */
function bar(p: ReconcileProgress): string {
  const settled = p.created + p.updated + p.unchanged;
  const filled = p.seen === 0 ? 0 : Math.round((20 * settled) / p.seen);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}]`;
}

export async function backfill(ctx: BackfillContext, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { project: { type: 'string' }, since: { type: 'string' } },
  });
  if (values.project === undefined || !isGid(values.project)) throw new UsageError('--project <gid> is required (a numeric Asana gid)');
  if (values.since !== undefined && Number.isNaN(Date.parse(values.since))) {
    throw new UsageError('--since takes an ISO date-time (e.g. 2026-11-01T00:00:00Z)');
  }
  const input: ReconcileInput = values.since
    ? { projectGid: values.project, mode: 'incremental', since: new Date(values.since).toISOString() }
    : { projectGid: values.project, mode: 'full' };
  return follow(ctx, await ctx.connect(), input);
}

async function follow(ctx: BackfillContext, client: Client, input: ReconcileInput): Promise<number> {
  const handle = await startBackfill(client, ctx.config.temporal.taskQueue, input, await ctx.projectLabel(input.projectGid));
  const { workflowId } = handle;
  ctx.output.out(`Started ${input.mode} backfill of project ${input.projectGid}: workflow ${workflowId}`);

  const started = Date.now();
  let lastLine = '';
  const poll = setInterval(() => {
    handle
      .query(progressQuery)
      .then((progress) => {
        const line = `${bar(progress)} ${describeCounts(progress)}`;
        if (line === lastLine) return;
        lastLine = line;
        if (ctx.interactive) process.stdout.write(`\r${line}`);
        else ctx.output.out(line);
      })
      .catch(() => undefined); // the workflow may not have run its first task yet
  }, POLL_MS);
  try {
    const result = await handle.result();
    if (ctx.interactive) process.stdout.write('\n');
    ctx.output.out(
      `Done in ${((Date.now() - started) / 1000).toFixed(1)} s (${result.mode}${result.since ? ` since ${result.since}` : ''}): ${describeCounts(result)}`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    ctx.output.err(`Backfill failed: ${err.cause?.message ?? err.message}. See workflow ${workflowId} in the Temporal Web UI.`);
    return 1;
  } finally {
    clearInterval(poll);
  }
}
