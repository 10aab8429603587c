/**
 * The one place workflows are started from (the webhook, the worker, the CLI, the bench and the
 * tests use it): their ids, the search attributes and summaries they start with, signalWithStart
 * for a task event, reconciliation starts and schedules. Client side: not part of the workflow
 * bundle.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Config } from '../config';
import type { TaskChange } from '../rows/freshness';
import { ASANA_PROJECT_GID, ASANA_TASK_GID } from '../temporal/search-attributes';
import {
  checkTasksWorkflow,
  reconcileProjectWorkflow,
  syncTaskWorkflow,
  taskEventSignal,
  warmUpWorkflow,
  webhookHealthWorkflow,
  type WebhookHealthInput,
  type ReconcileInput,
  type CheckTasksInput,
  type ReconcileMode,
} from '../workflows';

export const taskWorkflowId = (taskGid: string): string => `asana-task-${taskGid}`;

export const scheduleId = (projectGid: string, mode: ReconcileMode): string =>
  mode === 'incremental' ? `asana-reconcile-${projectGid}` : `asana-reconcile-full-${projectGid}`;

const reconcileSummary = (kind: string, input: Pick<ReconcileInput, 'mode'>, projectLabel: string): string =>
  `${input.mode === 'full' ? 'Full' : 'Incremental'} ${kind} of project ${projectLabel}`;

/** One event for a task: which, in which project, and its change (rows/freshness.ts). */
export interface TaskSignal extends TaskChange {
  taskGid: string;
  projectGid?: string;
}

/** Starts the task's workflow, or signals the running one: what a webhook event does, for one task. */
export function signalTask(client: Client, taskQueue: string, { taskGid, projectGid, ...event }: TaskSignal) {
  return client.workflow.signalWithStart(syncTaskWorkflow, {
    workflowId: taskWorkflowId(taskGid),
    taskQueue,
    args: [{ taskGid, projectGid }],
    signal: taskEventSignal,
    signalArgs: [event],
    staticSummary: `Sync of Asana task ${taskGid}${projectGid ? ` (project ${projectGid})` : ''}`,
    typedSearchAttributes: [
      { key: ASANA_TASK_GID, value: taskGid },
      ...(projectGid ? [{ key: ASANA_PROJECT_GID, value: projectGid }] : []),
    ],
  });
}

/** Starts the check of a large delivery's tasks of one project (checkTasksWorkflow); a repeat only signals listed tasks again. */
export function startTaskCheck(client: Client, taskQueue: string, input: CheckTasksInput) {
  return client.workflow.start(checkTasksWorkflow, {
    workflowId: `asana-check-${input.projectGid}-${randomUUID()}`,
    taskQueue,
    args: [input],
    staticSummary: `Check of ${input.tasks.length} task events of project ${input.projectGid} from a large delivery`,
    typedSearchAttributes: [{ key: ASANA_PROJECT_GID, value: input.projectGid }],
  });
}

/** Starts a reconciliation on demand (a backfill), under an id of its own beside the scheduled runs'. */
export function startBackfill(client: Client, taskQueue: string, input: ReconcileInput, projectLabel: string) {
  return client.workflow.start(reconcileProjectWorkflow, {
    workflowId: `asana-backfill-${input.projectGid}-${Date.now()}`,
    taskQueue,
    args: [input],
    typedSearchAttributes: [{ key: ASANA_PROJECT_GID, value: input.projectGid }],
    staticSummary: reconcileSummary('backfill', input, projectLabel),
  });
}

/** Runs warmUpWorkflow on the task queue, so a worker's first connections are not paid by a user's task. */
export function warmUp(client: Client, taskQueue: string) {
  return client.workflow.execute(warmUpWorkflow, {
    workflowId: `warm-up-${taskQueue}-${randomUUID()}`,
    taskQueue,
    workflowExecutionTimeout: '1 minute',
    staticSummary: 'Warm-up of a worker that has just started',
  });
}

/**
 * A project's reconciliation schedule. Overlap SKIP: a run still going makes the next one
 * unnecessary, since each incremental run starts where the last successful one ended; the
 * catch-up window is short for the same reason.
 */
function scheduleOptions(config: Config, projectGid: string, mode: ReconcileMode, projectLabel: string) {
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
      staticSummary: reconcileSummary('reconcile', { mode }, projectLabel),
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  } satisfies ScheduleOptions;
}

/**
 * Creates each project's two schedules (incremental and full), or brings existing ones to the
 * configured spec (keeping pause state). `projectLabels` names the projects in the runs' summaries.
 */
export async function ensureSchedules(client: Client, config: Config, projectLabels: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const projectGid of config.asana.projectGids) {
    for (const mode of ['incremental', 'full'] as const) {
      const options = scheduleOptions(config, projectGid, mode, projectLabels[projectGid] ?? projectGid);
      await createOrUpdate(client, options);
      ids.push(options.scheduleId);
    }
  }
  return ids;
}

/** Creates a schedule, or brings the existing one to these options, keeping its pause state. */
async function createOrUpdate(client: Client, options: ScheduleOptions): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({ ...options, state: previous.state }));
  }
}

/** Where the webhook process takes the health checks: a task queue of its own, since only it holds DATA_DIR's secrets. */
export const webhookTaskQueue = (taskQueue: string): string => `${taskQueue}-webhook`;

export const WEBHOOK_HEALTH_SCHEDULE_ID = 'asana-webhook-health';

/**
 * The webhook health schedule: every WEBHOOK_HEALTH_INTERVAL a webhookHealthWorkflow has the webhook
 * process check each synced project's webhooks and repair a missing one. Only with PUBLIC_URL, the
 * only way to tell our webhooks from others' (undefined without it: a worker elsewhere may lack
 * PUBLIC_URL, so an existing schedule is left alone). Overlap SKIP: a check still running makes
 * the next unnecessary.
 */
export async function ensureWebhookHealthSchedule(client: Client, config: Config): Promise<string | undefined> {
  if (config.publicUrl === undefined) return undefined;
  await createOrUpdate(client, {
    scheduleId: WEBHOOK_HEALTH_SCHEDULE_ID,
    spec: { intervals: [{ every: config.webhookHealthInterval }] },
    action: {
      type: 'startWorkflow',
      workflowType: webhookHealthWorkflow,
      workflowId: WEBHOOK_HEALTH_SCHEDULE_ID,
      taskQueue: config.temporal.taskQueue,
      args: [{ taskQueue: webhookTaskQueue(config.temporal.taskQueue) }] as [WebhookHealthInput],
      staticSummary: `Webhook health check of ${config.asana.projectGids.length} synced project(s)`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  });
  return WEBHOOK_HEALTH_SCHEDULE_ID;
}
