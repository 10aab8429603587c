/**
 * The webhook process's own Temporal worker: activities only (no workflow code to load), on the
 * task queue webhookTaskQueue names, for the webhook health check (activities/webhook-health.ts).
 * It runs here because a repair needs this process's DATA_DIR (the secret store) and its answer to
 * Asana's handshake; the worker has neither.
 */
import { Worker } from '@temporalio/worker';
import { createWebhookHealthActivities, type ProjectHealth } from '../activities/webhook-health';
import { webhookTaskQueue } from '../client';
import type { Services } from '../services';
import { configuredFilters } from '../asana/webhooks';
import type { Logger } from '../lib/logger';
import type { SecretStore } from '../asana/webhook-secrets';
import type { WebhookMetrics } from './metrics';

const RETRY_MS = 2_000;

/** What the log says of a project: an error for the alarm, a warning for a failing webhook. */
function logHealth(log: Logger, project: ProjectHealth): void {
  const fields = { projectGid: project.projectGid, action: project.action, webhooks: project.webhooks };
  if (project.action === 'created') log.error(fields, 'webhook health: no active webhook of ours; registered a new one (repaired)');
  else if (project.webhooks.some((w) => w.failing))
    log.warn(fields, 'webhook health: failing; Asana deletes the webhook unless a delivery succeeds first');
  else log.info(fields, project.action === 'filters_updated' ? "webhook health: filters updated to the columns'" : 'webhook health: ok');
}

/**
 * Runs the health-check worker until `close`, on the process's Temporal connection once there is
 * one (and again after a failure), as the webhook does. Needs `publicUrl` (PUBLIC_URL), which tells
 * our webhooks from others'.
 */
export function startHealthWorker(
  services: Services,
  publicUrl: string,
  { metrics, secrets }: { metrics: WebhookMetrics; secrets: SecretStore },
): { close(): Promise<void> } {
  const { config, log } = services;
  const activities = createWebhookHealthActivities({
    keeper: {
      api: services.asana,
      secrets,
      publicUrl,
      workspaceGid: config.asana.workspaceGid,
    },
    projectGids: config.asana.projectGids,
    filters: configuredFilters(config.columnsFile),
    observe: (project) => {
      metrics.webhookHealth(project);
      logHealth(log, project);
    },
  });
  const taskQueue = webhookTaskQueue(config.temporal.taskQueue);
  let closed = false;
  let worker: Worker | undefined;
  const running = (async () => {
    while (!closed) {
      try {
        const { connection } = await services.temporal();
        worker = await Worker.create({
          connection,
          namespace: config.temporal.namespace,
          taskQueue,
          activities,
          maxConcurrentActivityTaskExecutions: 1,
        });
        const run = worker.run(); // running from here on, so a shutdown can end it
        if (closed) worker.shutdown();
        else log.info({ taskQueue }, 'webhook health checks taken');
        await run;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'webhook health worker stopped; starting it again');
      }
      if (!closed) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();
  return {
    close: async () => {
      closed = true;
      if (worker?.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
