import {
  ApplicationFailure,
  defineQuery,
  defineSignal,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { Activities } from '../activities';
import type { ReconcileCounts, ReconcileMode } from '../activities/reconcile';
import { isGid } from '../config/gid';
import { ASANA_PROJECT_GID } from '../temporal/search-attributes';

export type { ReconcileMode };

export interface ReconcileInput {
  projectGid: string;
  mode: ReconcileMode;
  /** Incremental only: start here instead of where the previous successful run ended. */
  since?: string;
}

export interface ReconcileResult extends ReconcileCounts {
  /** The mode that ran: an incremental run with no watermark yet runs as full. */
  mode: ReconcileMode;
  since?: string;
  /** Every change before this time is in the table (when `continuous`). */
  watermark: string;
  /**
   * Whether this run's coverage joins up with earlier runs': true for full runs and for
   * incremental runs that started from a previous watermark, false for a `since` given by hand.
   * Only continuous runs' watermarks start later incremental runs.
   */
  continuous: boolean;
}

export interface ReconcileProgress extends ReconcileCounts {
  phase: 'running' | 'done';
}

export const progressQuery = defineQuery<ReconcileProgress>('progress');
/** Sent by the reconcile activity as it pages, so the query can answer mid-pass. */
export const reconcileProgressSignal = defineSignal<[ReconcileCounts]>('reconcileProgress');

const retry: RetryPolicy = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' };
const { reconcileProject } = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry,
  summary: 'Compare the project with "Asana Tasks" and fix what differs',
});
const { lastWatermark } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry,
  summary: "Find where the project's last reconcile ended",
});

/** A reconcile's counts in one line, as the CLI prints them and the Web UI shows them. */
export function describeCounts(p: ReconcileCounts): string {
  return (
    `seen ${p.seen} · created ${p.created} · updated ${p.updated} · unchanged ${p.unchanged} · deleted ${p.deleted}` +
    (p.duplicatesRemoved ? ` · duplicates removed ${p.duplicatesRemoved}` : '')
  );
}

/** The run's progress as the Web UI shows it (current details). */
function describeProgress(progress: ReconcileProgress): string {
  return `${progress.phase === 'done' ? 'Done' : 'Running'}: ${describeCounts(progress)}`;
}

/** Runs started before gids were held to Asana's format took any digits, and must replay as they ran. */
const gidAccepted = (gid: string): boolean => (patched('gid-format') ? isGid(gid) : /^\d+$/.test(gid));

function validate(input: unknown): ReconcileInput {
  const { projectGid, mode, since } = (input ?? {}) as Partial<ReconcileInput>;
  const problems: string[] = [];
  if (typeof projectGid !== 'string' || !gidAccepted(projectGid)) problems.push('projectGid must be a numeric Asana gid string');
  if (mode !== 'incremental' && mode !== 'full') problems.push('mode must be "incremental" or "full"');
  if (since !== undefined && (typeof since !== 'string' || Number.isNaN(Date.parse(since))))
    problems.push('since must be an ISO date-time');
  if (problems.length > 0)
    throw ApplicationFailure.nonRetryable(`Invalid input ${JSON.stringify(input)}: ${problems.join('; ')}`, 'InvalidInput');
  return { projectGid: projectGid as string, mode: mode as ReconcileMode, since };
}

/**
 * Makes a project's rows right whatever the webhooks missed. An incremental run covers the tasks
 * modified since the watermark of the newest continuous reconcile of the project that completed
 * (found in Temporal's own visibility store), so a delayed, skipped, failed or overlapping run
 * leaves no gap: the next success covers it. With no such run yet, it runs full.
 */
export async function reconcileProjectWorkflow(rawInput: ReconcileInput): Promise<ReconcileResult> {
  const input = validate(rawInput);
  upsertSearchAttributes([{ key: ASANA_PROJECT_GID, value: input.projectGid }]);
  const since = input.mode === 'incremental' ? (input.since ?? (await lastWatermark(input.projectGid))) : undefined;
  const mode = since === undefined ? 'full' : 'incremental';

  let progress: ReconcileProgress = { phase: 'running', seen: 0, created: 0, updated: 0, unchanged: 0, deleted: 0, duplicatesRemoved: 0 };
  setHandler(progressQuery, () => progress);
  setHandler(reconcileProgressSignal, (counts) => {
    if (progress.phase === 'running') progress = { ...counts, phase: 'running' };
    setCurrentDetails(describeProgress(progress));
  });

  const result = await reconcileProject({ projectGid: input.projectGid, mode, since });
  const { watermark, ...counts } = result;
  progress = { ...counts, phase: 'done' };
  setCurrentDetails(describeProgress(progress));
  return { ...counts, mode, since, watermark, continuous: input.since === undefined || input.mode === 'full' };
}
