/**
 * The worker against a production-like Temporal server (temporal/postgres-temporal.ts: server 1.29.1 on
 * PostgreSQL) with Temporal's default dynamic config, where search attributes registered moments
 * ago stay invisible until the server's cache refreshes; the dev server and compose's dev config
 * hide that. Runs on databases of its own, so an operator's `npm run temporal:postgres` is untouched.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { readEnv } from '../config';
import {
  DEFAULT_OPTIONS,
  resetServer,
  serverBinaries,
  serverPorts,
  startServer,
  type PostgresTemporalOptions,
  type ServerBinaries,
} from '../temporal/postgres-temporal';
import { entryArgs, REPO_ROOT } from '../lib/runtime-paths';
import { emulatorEnv } from '../emulators/env';
import { eventually, startStack, type Stack } from './support/stack';

/** Databases, dir and ports of this run's own: another run of the suite on this machine may be under way. */
const OPTIONS: PostgresTemporalOptions = {
  ...DEFAULT_OPTIONS,
  dir: path.join(tmpdir(), `temporal-postgres-test-${process.pid}`),
  database: `temporal_test_${process.pid}`,
  dynamicConfig: 'production',
};

/** Whether something accepts connections at host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const answer = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => answer(true)).once('error', () => answer(false));
    socket.setTimeout(2000, () => answer(false));
  });
}

/** Whether this process could listen on the loopback port now. */
function free(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A frontend port whose server's ports are all free; below 32768, which freePort() cannot promise. */
async function freeServerPort(): Promise<number> {
  for (;;) {
    const port = 2_000 + Math.floor(Math.random() * 30_000);
    if ((await Promise.all(serverPorts(port).map(free))).every(Boolean)) return port;
  }
}

/** Resolves when the process's output matches; fails at once when it exits first, or after timeoutMs. */
function waitForOutput(child: ChildProcess, output: () => string, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pattern.test(output())) finish();
    };
    const exited = (code: number | null) => finish(new Error(`the worker exited (${code}) before ${pattern}:\n${output()}`));
    const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', check);
    child.once('exit', exited);
  });
}

describe('Temporal on PostgreSQL with the production dynamic config', function () {
  this.timeout(240_000); // above the waits below, so that their messages, with the worker's log, are what fails
  let provisioned: ServerBinaries | undefined;
  let stack: Stack | undefined;
  let worker: ChildProcess | undefined;

  before(async function () {
    this.timeout(900_000); // the first run builds the server and its schema tool (about six minutes on two cores)
    const binaries = await serverBinaries();
    const { host, port } = OPTIONS.postgres;
    if (binaries === undefined) {
      console.log('      no Temporal server in .temporal/bin and no Go to build one (.ci/run puts Go on PATH): skipped');
      this.skip();
    }
    if (!(await listening(host, port))) {
      console.log(`      no PostgreSQL at ${host}:${port}: skipped`);
      this.skip();
    }
    provisioned = binaries;
    OPTIONS.port = await freeServerPort();
    await resetServer(binaries, OPTIONS); // a fresh database: the worker registers the search attributes itself
    const server = await startServer(binaries, OPTIONS);
    // The stack needs only a DevServer's address; the environment is a client of this server.
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
    stack = await startStack({ temporal: { address: server.address, env, stop: () => env.teardown() }, inProcessWorker: false });
  });

  after(async function () {
    this.timeout(60_000);
    worker?.kill('SIGKILL');
    await stack?.stop();
    if (provisioned) await resetServer(provisioned, OPTIONS); // stopped, and nothing left behind
  });

  it('starts the worker at the first try on a fresh database, and a new task gets its row', async () => {
    const running = stack!;
    const env = {
      PATH: readEnv().PATH ?? '',
      ...emulatorEnv(running.asana, running.airtable, running.config.airtable.baseId, running.project.gid),
      TEMPORAL_ADDRESS: running.config.temporal.address!,
      TEMPORAL_TASK_QUEUE: running.config.temporal.taskQueue,
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    };
    // Spawned with its output piped (test/support/processes.ts drops it): the log is what to assert on.
    const child = spawn(process.execPath, entryArgs('worker/main.ts'), { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    worker = child;
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));

    // Before the wait for the search attributes, the worker died here: "Failed to create schedule".
    await waitForOutput(child, () => output, /"msg":"worker running"/, 120_000);
    await running.registerWebhook();
    const task = running.asana.createTask(running.project.gid, { name: 'On PostgreSQL' });
    await eventually(
      () => assert.ok(running.rows().some((row) => row['Task ID'] === task.gid && row.Name === 'On PostgreSQL')),
      60_000,
      200,
    );
    assert.equal(child.exitCode, null, `the worker exited:\n${output}`);
  });
});
