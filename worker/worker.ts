import { rm } from 'node:fs/promises';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { ConfigError, type Config } from '../config';
import { checkTable } from '../airtable/schema';
import type { Column } from '../rows/columns';
import { loadColumns } from '../rows/columns-file';
import { ApiError } from '../lib/api-error';
import type { AsanaApi } from '../asana/api';
import type { Budgets } from '../budgets';
import { createActivities } from '../activities';
import { RowWriter } from '../airtable/row-writer';
import { TaskReader } from '../asana/task-reader';
import type { Logger } from '../lib/logger';
import { awaitSearchAttributes, ensureSearchAttributes } from '../temporal/connection';
import type { Services } from '../services';
import { reconcileProgressSignal } from '../workflows';
import { ensureSchedules, ensureWebhookHealthSchedule, signalTask, warmUp } from '../client';
import { bundleInChildProcess } from './bundle';
import { findLastWatermark } from './watermarks';
import { watchForOtherWorkers } from './other-workers';

/** A warm-up not done in this long is given up: the first sync opens the connections instead. */
const WARM_UP_DEADLINE_MS = 5_000;
/** A progress report Temporal has not taken in this long is dropped: the next one carries newer counts. */
const PROGRESS_DEADLINE_MS = 5_000;

export interface SyncWorkerOptions {
  config: Config;
  /** The process's budgets and Asana client, which the activities' reads and writes draw on. */
  budgets: Budgets;
  asana: AsanaApi;
  connection: NativeConnection;
  /** For what activities tell workflows (reconciliation progress). */
  client: Client;
  /** The bundled workflow code (see bundle.ts; tests build it once for all their workers). */
  workflowBundle: WorkerOptions['workflowBundle'];
  /** The table's columns; read from COLUMNS_FILE (and Asana) when not given. */
  columns?: readonly Column[];
}

export async function createSyncWorker({
  config,
  budgets,
  asana,
  connection,
  client,
  workflowBundle,
  ...options
}: SyncWorkerOptions): Promise<Worker> {
  const columns = options.columns ?? (await loadColumns(config, asana));
  const activities = createActivities({
    asana: new TaskReader(asana, columns, { subtasks: config.syncSubtasks }),
    airtable: new RowWriter(config.airtable, budgets, columns),
    deletedTasks: config.deletedTasks,
    columns,
    syncedProjects: new Set(config.asana.projectGids),
    syncSubtasks: config.syncSubtasks,
    reportProgress: (workflowId, counts) =>
      client.withDeadline(Date.now() + PROGRESS_DEADLINE_MS, () =>
        client.workflow.getHandle(workflowId).signal(reconcileProgressSignal, counts),
      ),
    findLastWatermark: (projectGid) => findLastWatermark(client, projectGid),
    startSync: async (projectGid, task) => {
      await signalTask(client, config.temporal.taskQueue, { projectGid, ...task });
    },
  });
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    workflowBundle,
    // A sync waiting for its Airtable write holds a workflow task slot: room for ten requests' rows.
    maxConcurrentWorkflowTaskExecutions: 100,
    // A burst is a thousand new runs, each a workflow task on the task queue itself; the sticky
    // queue only brings a run's later events. The default (2 of the 10 polls on the task queue)
    // left tasks waiting seconds at the server with slots free, so 8 of the 10 poll there.
    nonStickyToStickyPollRatio: 0.8,
  });
}

/**
 * Stops at start, with one message, when the table cannot take rows; better than failing every
 * task. A token without schema.bases:read cannot look: then it only warns.
 */
async function assertTableReady(config: Config, budgets: Budgets, columns: readonly Column[], log: Logger): Promise<void> {
  let check;
  try {
    check = await checkTable(config.airtable, budgets, columns);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new ConfigError([`Airtable refused AIRTABLE_TOKEN (401): ${err.message}`]);
    log.warn(
      { err: (err as Error).message },
      'cannot check the Airtable table through the Meta API (needs schema.bases:read); starting anyway',
    );
    return;
  }
  const where = `table "${config.airtable.tableName}" in base ${config.airtable.baseId}`;
  if (check.status === 'missing')
    throw new ConfigError([`the Airtable ${where} does not exist: create it with \`npm run cli -- airtable setup\``]);
  if (check.status === 'wrong') throw new ConfigError(check.problems.map((p) => `Airtable ${where}: ${p}`));
}

/** Warms this worker up (see warmUp); a failure is logged and costs only a slower first sync. */
async function warmUpLogged(client: Client, config: Config, log: Logger): Promise<void> {
  const started = Date.now();
  try {
    await client.withDeadline(Date.now() + WARM_UP_DEADLINE_MS, () => warmUp(client, config.temporal.taskQueue));
    log.info({ ms: Date.now() - started }, 'warmed up');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'warm-up did not complete; the first sync opens the connections instead');
  }
}

/**
 * What `npm run worker` and `npm start` share: search attributes and schedules in place, then the
 * worker, on the process's services (which the caller closes after `running`).
 */
export async function startSyncWorker(services: Services): Promise<{ worker: Worker; running: Promise<void> }> {
  const { config, log, budgets, asana } = services;
  const columns = await loadColumns(config, asana);
  await assertTableReady(config, budgets, columns, log);
  const { connection, client } = await services.temporal();
  const added = await ensureSearchAttributes(connection, config.temporal.namespace);
  if (added.length > 0) log.info({ added }, 'registered search attributes');
  await awaitSearchAttributes(client, log);
  const labels = Object.fromEntries(await Promise.all(config.asana.projectGids.map(async (gid) => [gid, await asana.projectLabel(gid)])));
  const schedules = await ensureSchedules(client, config, labels);
  log.info({ schedules }, 'reconciliation schedules in place');
  const health = await ensureWebhookHealthSchedule(client, config);
  if (health) log.info({ schedule: health, every: config.webhookHealthInterval }, 'webhook health schedule in place');
  else log.warn('this worker made no webhook health schedule: it needs PUBLIC_URL, which tells our webhooks from others');
  const workflowBundle = await bundleInChildProcess();
  const worker = await createSyncWorker({ config, budgets, asana, connection, client, workflowBundle, columns });
  await rm(workflowBundle.codePath, { force: true }); // loaded by now
  log.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker running');
  const stopWatching = budgets.sharedThroughRedis
    ? undefined
    : watchForOtherWorkers(connection, config.temporal, worker.options.identity, log);
  const warming = warmUpLogged(client, config, log); // not awaited here: the worker already serves tasks meanwhile
  const running = worker.run().finally(async () => {
    stopWatching?.();
    await warming; // no call of ours in flight once running ends, and the connection may close
  });
  return { worker, running };
}
