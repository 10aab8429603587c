/**
 * The Temporal dev server (SQLite, Web UI) that `npm start`, the demo and the tests run when no
 * cluster is configured, from the CLI that temporal/temporal-cli.ts finds or builds.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from './search-attributes';
import { temporalExecutable } from './temporal-cli';

export interface DevServer {
  address: string;
  uiUrl?: string;
  env: TestWorkflowEnvironment;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  /** SQLite file that keeps workflows across restarts; in memory when absent. */
  dbFilename?: string;
  port?: number;
  /** Web UI port; no UI when absent. */
  uiPort?: number;
  namespace?: string;
  /** Dynamic config beside the defaults below (a test's lower limits, say). */
  dynamicConfig?: Record<string, unknown>;
  /** A file the server's own output is appended to (the tests'); this process's stdout and stderr when absent. */
  logFile?: string;
  /** SQLite pragmas of a server on a file, instead of `npm start`'s (below): the bench compares them. */
  sqlitePragmas?: Record<string, string>;
}

/**
 * Dynamic config for the one-host dev server, where Temporal shares the cores with the service
 * (BENCHMARKS.md has what each saves):
 * - eager activities: the worker that schedules an activity gets it in the same round trip,
 *   instead of through the matching service (a call and a write less per reconciliation pass);
 * - the search attributes come with the server's start (below), so its cache need not be
 *   reloaded on every read, as the dev server otherwise does for attributes registered later;
 * - one task-queue partition: partitions spread matching over hosts; on one host they only
 *   add forwarding between them.
 */
const DEV_SERVER_DYNAMIC_CONFIG = {
  'system.enableActivityEagerExecution': true,
  'system.forceSearchAttributesCacheRefreshOnRead': false,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/**
 * SQLite on a file, as `npm start` runs it: a write-ahead log, synced at each checkpoint rather
 * than at each commit (`synchronous=normal`). A commit is then safe from any process's crash,
 * since it is in the kernel's hands, but not from a power loss; the server spends about a quarter
 * less CPU a sync (docs/design.md says what that costs).
 */
export const SQLITE_PRAGMAS: Record<string, string> = { journal_mode: 'wal', synchronous: 'normal' };

/**
 * The embedded server `npm start` runs when no TEMPORAL_ADDRESS is set: its state in
 * DATA_DIR/temporal.db, kept across restarts.
 */
export function startEmbeddedServer(dataDir: string, options: Omit<DevServerOptions, 'dbFilename'>): Promise<DevServer> {
  return startDevServer({ ...options, dbFilename: path.join(dataDir, 'temporal.db') });
}

/**
 * Starts the dev server under umask 077, so that its SQLite file and the journal files SQLite
 * makes beside it are 0600: the server sets up its schema only in a file it creates, so the file
 * cannot be made 0600 before.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  // SQLite gives its journal files the database's mode, so an older database is made 0600 too.
  if (options.dbFilename !== undefined && existsSync(options.dbFilename)) chmodSync(options.dbFilename, 0o600);
  const umask = options.dbFilename === undefined ? undefined : process.umask(0o077);
  try {
    return await createDevServer(options);
  } finally {
    if (umask !== undefined) process.umask(umask); // the SDK has spawned the server once it answers
  }
}

/**
 * The CLI, or a script that runs it with its output appended to `logFile`: the SDK starts the
 * server with this process's stdout and stderr, and has no option to send them elsewhere.
 */
function executableLoggingTo(logFile: string | undefined): ReturnType<typeof temporalExecutable> {
  const executable = temporalExecutable();
  if (logFile === undefined || executable.type !== 'existing-path') return executable;
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const script = `${logFile}.sh`;
  writeFileSync(script, `#!/bin/sh\nexec ${quote(executable.path)} "$@" >>${quote(logFile)} 2>&1\n`, { mode: 0o700 });
  return { type: 'existing-path', path: script };
}

async function createDevServer(options: DevServerOptions): Promise<DevServer> {
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: executableLoggingTo(options.logFile),
      dbFilename: options.dbFilename,
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      namespace: options.namespace,
      searchAttributes: SEARCH_ATTRIBUTES,
      log: { format: 'json', level: 'error' },
      extraArgs: [
        ...Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...options.dynamicConfig }).flatMap(([key, value]) => [
          '--dynamic-config-value',
          `${key}=${JSON.stringify(value)}`,
        ]),
        ...(options.dbFilename === undefined
          ? []
          : Object.entries(options.sqlitePragmas ?? SQLITE_PRAGMAS).flatMap(([key, value]) => ['--sqlite-pragma', `${key}=${value}`])),
      ],
    },
  });
  return {
    address: env.address,
    uiUrl: options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`,
    env,
    stop: () => env.teardown(),
  };
}
