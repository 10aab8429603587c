/**
 * The whole service against both emulators over loopback: Asana emulator, Airtable emulator,
 * a worker on its own task queue, and the webhook, all on the shared dev server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { loadConfig, type Config, type Env } from '../../config';
import type { DevServer } from '../../temporal/dev-server';
import { createLogger } from '../../lib/logger';
import { openServices, type Services } from '../../services';
import { configuredFilters, registerWebhook } from '../../asana/webhooks';
import { SecretStore } from '../../asana/webhook-secrets';
import { createSyncWorker } from '../../worker/worker';
import { startWebhookServer, type WebhookServer } from '../../webhook/server';
import { AsanaEmulator, type AsanaEmulatorOptions, type EmulatedProject } from '../../emulators/asana';
import { AirtableEmulator, type AirtableEmulatorOptions } from '../../emulators/airtable';
import { emulatorEnv } from '../../emulators/env';
import { spawnEntry } from './processes';
import { devServer, workflowBundle } from './temporal';

export const BASE_ID = 'appSANDBOXBASE001';
export const TABLE = 'Asana Tasks';

export interface Stack {
  asana: AsanaEmulator;
  airtable: AirtableEmulator;
  project: EmulatedProject;
  config: Config;
  client: Client;
  /** What the stack's process opened, as an entry point does; its worker and webhook share it. */
  services: Services;
  webhook: WebhookServer;
  /** The in-process worker, unless the stack was started without one. */
  worker?: Worker;
  /** Starts the real worker (`worker/main.ts`) as a process on this stack's configuration. */
  spawnWorker(): ChildProcess;
  /** Registers a project webhook as `webhooks create` does (Asana performs the handshake, the filters follow the columns); its gid and target. */
  registerWebhook(projectGid?: string): Promise<{ gid: string; target: string }>;
  rows(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface StackOptions {
  asana?: AsanaEmulatorOptions;
  airtable?: AirtableEmulatorOptions;
  env?: Env;
  /** A dedicated dev server (for tests that stop it); the shared one otherwise. */
  temporal?: DevServer;
  /** Run a worker in this process (default); false to spawn worker processes instead. */
  inProcessWorker?: boolean;
  /** Sets up Asana before the service starts (custom fields its columns name, say). */
  setUp?: (asana: AsanaEmulator, project: EmulatedProject) => void;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const asana = new AsanaEmulator({ retryBaseMs: 200, ...options.asana });
  const airtable = new AirtableEmulator({ lockoutMs: 1000, ...options.airtable });
  await Promise.all([asana.listen(), airtable.listen()]);
  airtable.createTable(BASE_ID, TABLE);
  const project = asana.addProject('Campaigns');
  options.setUp?.(asana, project);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'sync-test-'));
  const server = options.temporal ?? devServer();
  const env: Record<string, string> = {
    ...emulatorEnv(asana, airtable, BASE_ID, project.gid),
    AIRTABLE_LOCKOUT_MS: '1000',
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    PORT: '0',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    WORKER_METRICS_PORT: '0',
    WEBHOOK_METRICS_PORT: '0',
    ...(options.env as Record<string, string>),
  };
  const config = loadConfig(['asana', 'airtable'], env);
  const log = createLogger(config.logLevel, 'test');
  // The services a process opens (one native connection, which reconnects when a dedicated server restarts).
  const services = await openServices(config, log);
  const { connection, client } = await services.temporal();
  const worker =
    options.inProcessWorker === false
      ? undefined
      : await createSyncWorker({
          config,
          budgets: services.budgets,
          asana: services.asana,
          connection,
          client,
          workflowBundle: await workflowBundle(),
        });
  const running = worker?.run();
  const webhook = await startWebhookServer(services);
  const spawned: ChildProcess[] = [];

  const stack: Stack = {
    asana,
    airtable,
    project,
    config,
    client,
    services,
    webhook,
    worker,
    spawnWorker() {
      const child = spawnEntry('worker/main.ts', env);
      spawned.push(child);
      return child;
    },
    registerWebhook(projectGid = project.gid) {
      const filters = configuredFilters(config.columnsFile);
      return registerWebhook(services.asana, new SecretStore(config.dataDir), projectGid, stack.webhook.url, filters);
    },
    rows: () => airtable.records(BASE_ID, TABLE).map((r) => r.fields),
    async stop() {
      await stack.webhook.close(); // the one running now: a test may have restarted it
      for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      worker?.shutdown();
      await running;
      await services.close();
      await Promise.all([asana.close(), airtable.close()]);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Polls until `check` stops throwing, or fails with its last error. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
