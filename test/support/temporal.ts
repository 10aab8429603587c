/**
 * Mocha root hooks: one real Temporal dev server for the whole run (the CLI that
 * lib/temporal-cli.ts finds or builds), and one workflow bundle every test worker shares.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../lib/dev-server';

let server: DevServer | undefined;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

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
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    server = await startDevServer();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(30_000);
    await server?.stop();
  },
};
