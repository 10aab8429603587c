/**
 * A production-like Temporal server on this machine, without Docker: server v1.29.1 (what compose
 * and the CLI's dev server run) with all four services in one process, on PostgreSQL, and with the
 * dynamic config of compose or none (Temporal's production defaults). `npm run temporal:postgres`
 * runs it for an operator; test/postgres-temporal.test.ts runs it on databases of its own.
 * The binaries are found or built into .temporal/bin the way temporal/temporal-cli.ts does the CLI.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../lib/runtime-paths';
import { findOrBuild, temporalExecutable } from './temporal-cli';

const SERVER_VERSION = '1.29.1';
const SERVER_MODULE = `go.temporal.io/server/cmd/server@v${SERVER_VERSION}`;
const SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@v${SERVER_VERSION}`;

/** Temporal's PostgreSQL plugins, one schema, two Go drivers (DEFAULT_OPTIONS says which and why). */
export type SqlPlugin = 'postgres12' | 'postgres12_pgx';

/** The dynamic config files an option names: compose's, or an empty one (Temporal's production defaults). */
export const DYNAMIC_CONFIGS = {
  production: path.join(REPO_ROOT, 'dynamicconfig', 'production.yaml'),
  compose: path.join(REPO_ROOT, 'dynamicconfig', 'development-sql.yaml'),
} as const;

export interface PostgresTemporalOptions {
  /** Holds the server's config, its log (temporal.log) and its pid (temporal.pid). */
  dir: string;
  /** The main database; visibility goes to `<database>_visibility`. */
  database: string;
  /** The frontend's gRPC port; the other services' ports sit beside it, as in Temporal's own configs for 7233. */
  port: number;
  dynamicConfig: keyof typeof DYNAMIC_CONFIGS;
  /** The plugin the server and the schema tool talk to PostgreSQL through. */
  plugin: SqlPlugin;
  /** PostgreSQL's host:port and user (no password: a local server with trust authentication). */
  postgres: { host: string; port: number; user: string };
}

export const DEFAULT_OPTIONS: PostgresTemporalOptions = {
  dir: path.join(REPO_ROOT, '.temporal', 'postgres'),
  database: 'temporal',
  port: 7233,
  dynamicConfig: 'production',
  // pgx prepares each statement once per connection; lib/pq (`postgres12`) parses and plans every
  // one anew, in two round trips, so a sync costs PostgreSQL and the server more CPU. compose uses pgx too.
  plugin: 'postgres12_pgx',
  postgres: { host: '127.0.0.1', port: 5432, user: 'postgres' },
};

export interface ServerBinaries {
  server: string;
  /** The schema tool (temporal-sql-tool), which carries the schemas of its version. */
  sql: string;
}

export interface RunningServer {
  address: string;
  log: string;
  /** Whether it was running already (then with the config it was started with). */
  reused: boolean;
}

const run = promisify(execFile);

/** The version line a binary prints, e.g. "temporal version 1.29.1". */
async function versionOf(binary: string): Promise<string> {
  return (await run(binary, ['--version'])).stdout.trim();
}

/**
 * The server and the schema tool, found or built (needs Go); undefined when neither works. Both
 * must be of SERVER_VERSION: a `server` or `sql` on PATH may be another program, or another
 * version whose schema the server would not accept.
 */
export async function serverBinaries(): Promise<ServerBinaries | undefined> {
  const server = findOrBuild('server', SERVER_MODULE);
  const sql = server && findOrBuild('sql', SQL_TOOL_MODULE);
  if (server === undefined || sql === undefined) return undefined;
  for (const binary of [server, sql]) {
    const version = await versionOf(binary).catch((err: Error) => err.message);
    if (!version.endsWith(` ${SERVER_VERSION}`)) throw new Error(`${binary} is not Temporal ${SERVER_VERSION}: "${version}"`);
  }
  return { server, sql };
}

const databases = (options: PostgresTemporalOptions) => [
  { name: options.database, schema: 'postgresql/v12/temporal' },
  { name: `${options.database}_visibility`, schema: 'postgresql/v12/visibility' },
];

/** Runs the schema tool on one database; with `tolerate`, an error whose text matches it counts as done. */
async function sqlTool(binaries: ServerBinaries, options: PostgresTemporalOptions, database: string, args: string[], tolerate?: RegExp) {
  const { host, port, user } = options.postgres;
  const connection = ['--plugin', options.plugin, '--ep', host, '-p', String(port), '-u', user, '--db', database];
  try {
    await run(binaries.sql, [...connection, ...args]);
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    if (tolerate?.test(stdout + stderr)) return;
    throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed:\n${stdout}${stderr}`);
  }
}

/**
 * Creates both databases and brings their schemas up to the server's version, as compose's
 * scripts/compose/setup-postgres.sh does; idempotent, so every start runs it. The schemas are the
 * ones embedded in the tool, which was built from the server's own module.
 */
async function setUpDatabases(binaries: ServerBinaries, options: PostgresTemporalOptions): Promise<void> {
  for (const { name, schema } of databases(options)) {
    await sqlTool(binaries, options, name, ['create-database'], /already exists/);
    await sqlTool(binaries, options, name, ['setup-schema', '-v', '0.0'], /already exists/);
    await sqlTool(binaries, options, name, ['update-schema', '--schema-name', schema]);
  }
}

/** Frontend, history, matching and worker, each with its gRPC and membership port, laid out around the frontend's. */
function servicePorts(frontend: number) {
  const offsets = { frontend: 0, history: 1, matching: 2, worker: 6 };
  // Temporal stores membership ports in a smallint column: every port must stay below 32768.
  if (frontend < 1324 || frontend + 10 > 32767) throw new Error(`port ${frontend}: choose one from 1324 to 32757`);
  const services = Object.fromEntries(
    Object.entries(offsets).map(([service, offset]) => [
      service,
      { rpc: { grpcPort: frontend + offset, membershipPort: frontend - 300 + offset, bindOnLocalHost: true } },
    ]),
  );
  return { ...services, frontend: { rpc: { ...services.frontend.rpc, httpPort: frontend + 10 } } };
}

/** Every port the server listens on for a frontend port: what must be free to start it. */
export function serverPorts(frontend: number): number[] {
  return Object.values(servicePorts(frontend)).flatMap(({ rpc }) => Object.values(rpc).filter((value) => typeof value === 'number'));
}

/** The server's config/development.yaml, after Temporal's config/development-postgres12.yaml. */
function serverConfig(options: PostgresTemporalOptions): Record<string, unknown> {
  const [main, visibility] = databases(options);
  const sql = (database: string, maxConns: number) => ({
    sql: {
      pluginName: options.plugin,
      databaseName: database,
      connectAddr: `${options.postgres.host}:${options.postgres.port}`,
      connectProtocol: 'tcp',
      user: options.postgres.user,
      // Each of the four services opens its own pools: 4 × (8 + 2) leaves room in PostgreSQL's
      // 100 connections for a second server (a test's beside an operator's) and other clients.
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  return {
    log: { stdout: true, level: 'info' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: sql(main.name, 8), visibility: sql(visibility.name, 2) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: servicePorts(options.port),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address(options) } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: DYNAMIC_CONFIGS[options.dynamicConfig], pollInterval: '10s' },
  };
}

const address = (options: PostgresTemporalOptions) => `127.0.0.1:${options.port}`;
const pidFile = (options: PostgresTemporalOptions) => path.join(options.dir, 'temporal.pid');
const logFile = (options: PostgresTemporalOptions) => path.join(options.dir, 'temporal.log');

/** The pid of this dir's server while it runs; a pid file left by a server that died (or a reused pid) is not one. */
function runningPid(options: PostgresTemporalOptions): number | undefined {
  if (!existsSync(pidFile(options))) return undefined;
  const pid = Number(readFileSync(pidFile(options), 'utf8'));
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  return !existsSync(cmdline) || readFileSync(cmdline, 'utf8').includes(options.dir) ? pid : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops this dir's server (SIGTERM, then SIGKILL after 30 s); whether one was running. */
export async function stopServer(options: PostgresTemporalOptions): Promise<boolean> {
  const pid = runningPid(options);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; runningPid(options) !== undefined; waited += 200) {
      if (waited === 30_000) process.kill(pid, 'SIGKILL');
      await sleep(200);
    }
  }
  rmSync(pidFile(options), { force: true });
  return pid !== undefined;
}

/** The last lines of the server's log, for an error message. */
function logTail(options: PostgresTemporalOptions): string {
  return existsSync(logFile(options)) ? readFileSync(logFile(options), 'utf8').trim().split('\n').slice(-15).join('\n') : '(no log)';
}

/**
 * Waits until the frontend answers and the namespace exists, creating it (a new server has none;
 * compose's temporal-namespace job does the same). Fails at once when the server exits.
 */
async function ensureNamespace(options: PostgresTemporalOptions, namespace: string, timeoutMs = 120_000): Promise<void> {
  const cli = temporalExecutable();
  if (cli.type !== 'existing-path') throw new Error('creating the namespace needs the Temporal CLI (`npm run provision`)');
  const target = ['--namespace', namespace, '--address', address(options)];
  for (const deadline = Date.now() + timeoutMs; ; await sleep(1000)) {
    if (runningPid(options) === undefined) throw new Error(`the Temporal server exited; its log ends:\n${logTail(options)}`);
    const described = await run(cli.path, ['operator', 'namespace', 'describe', ...target]).then(
      () => true,
      () => false,
    );
    if (described) return;
    await run(cli.path, ['operator', 'namespace', 'create', ...target]).catch(() => undefined); // retried until described
    if (Date.now() > deadline)
      throw new Error(`no namespace ${namespace} at ${address(options)} after ${timeoutMs} ms:\n${logTail(options)}`);
  }
}

/**
 * Sets up the databases and the config, starts the server in the background (detached, so it
 * outlives a script's `start`) with its log in temporal.log, and returns once the `default`
 * namespace answers. A server of this dir already running is reused.
 */
export async function startServer(binaries: ServerBinaries, options: PostgresTemporalOptions): Promise<RunningServer> {
  const reused = runningPid(options) !== undefined;
  const running: RunningServer = { address: address(options), log: logFile(options), reused };
  if (reused) return running;
  await setUpDatabases(binaries, options);
  mkdirSync(path.join(options.dir, 'config'), { recursive: true });
  writeFileSync(path.join(options.dir, 'config', 'development.yaml'), stringify(serverConfig(options)));
  const log = openSync(logFile(options), 'a');
  const args = ['--root', options.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'];
  const child = spawn(binaries.server, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  writeFileSync(pidFile(options), String(child.pid));
  try {
    await ensureNamespace(options, 'default');
  } catch (err) {
    await stopServer(options);
    throw err;
  }
  return running;
}

/** Stops the server and drops its databases and dir: the next start begins with nothing. */
export async function resetServer(binaries: ServerBinaries, options: PostgresTemporalOptions): Promise<void> {
  await stopServer(options);
  for (const { name } of databases(options)) await sqlTool(binaries, options, name, ['drop-database', '--force'], /does not exist/);
  rmSync(options.dir, { recursive: true, force: true });
}
