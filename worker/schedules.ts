/**
 * The reconciliation Schedules, created or updated idempotently at worker start, two per project:
 *   asana-reconcile-<gid>       incremental, every RECONCILE_INTERVAL
 *   asana-reconcile-full-<gid>  full, every RECONCILE_FULL_INTERVAL
 * Overlap SKIP: a run still going makes the next one unnecessary, since each incremental run
 * starts where the last successful one ended. The catch-up window is short for the same reason.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config';
import { reconcileProjectWorkflow, type ReconcileInput } from '../workflows';
import { ASANA_PROJECT_GID } from '../workflows/search-attributes';

export const scheduleId = (projectGid: string, mode: ReconcileInput['mode']): string =>
  mode === 'incremental' ? `asana-reconcile-${projectGid}` : `asana-reconcile-full-${projectGid}`;

function scheduleOptions(config: Config, projectGid: string, mode: ReconcileInput['mode'], projectLabel: string) {
  const id = scheduleId(projectGid, mode);
  return {
    scheduleId: id,
    spec: { intervals: [{ every: mode === 'incremental' ? config.reconcile.interval : config.reconcile.fullInterval }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: reconcileProjectWorkflow,
      workflowId: id,
      taskQueue: config.temporal.taskQueue,
      args: [{ projectGid, mode }] as [ReconcileInput],
      typedSearchAttributes: [{ key: ASANA_PROJECT_GID, value: projectGid }],
      staticSummary: `${mode === 'full' ? 'Full' : 'Incremental'} reconcile of project ${projectLabel}`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  } satisfies ScheduleOptions;
}

/**
 * Creates each project's schedules, or brings existing ones to the configured spec (keeping pause
 * state). `projectLabels` names the projects in the runs' summaries (the gid where it has none).
 */
export async function ensureSchedules(client: Client, config: Config, projectLabels: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const projectGid of config.asana.projectGids) {
    for (const mode of ['incremental', 'full'] as const) {
      const options = scheduleOptions(config, projectGid, mode, projectLabels[projectGid] ?? projectGid);
      try {
        await client.schedule.create(options);
      } catch (err) {
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        await client.schedule.getHandle(options.scheduleId).update((previous) => ({ ...options, state: previous.state }));
      }
      ids.push(options.scheduleId);
    }
  }
  return ids;
}
