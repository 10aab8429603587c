/**
 * Mocha root hooks: one real Temporal dev server for the whole run (the CLI that
 * temporal/temporal-cli.ts finds or builds), and one workflow bundle every test worker shares. The
 * servers' own output goes to one log file, named when a test fails, not into the test output.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { startDevServer, type DevServer, type DevServerOptions } from '../../temporal/dev-server';

let server: DevServer | undefined;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let logNamed = false;

/** Where every dev server the tests start writes its output. */
export const SERVER_LOG = path.join(tmpdir(), `temporal-tests-${process.pid}.log`);

/** A dev server of a test's own, its output in SERVER_LOG. */
export function startTestServer(options: Omit<DevServerOptions, 'logFile'> = {}): Promise<DevServer> {
  return startDevServer({ ...options, logFile: SERVER_LOG });
}

export function devServer(): DevServer {
  if (!server) throw new Error('the Temporal dev server is not running (root hook not loaded?)');
  return server;
}

export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
  });
  return bundle;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(600_000); // a first run may build the CLI
    // The SDK's native warnings (a workflow task over 5 s, as tests of slow syncs make on purpose) go through the same logger.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
    server = await startTestServer();
  },
  afterEach(this: Mocha.Context) {
    if (this.currentTest?.state !== 'failed' || logNamed) return;
    logNamed = true;
    console.log(`    (the Temporal servers' log: ${SERVER_LOG})`);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await server?.stop();
  },
};
