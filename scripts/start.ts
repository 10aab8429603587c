/**
 * `npm start`: the whole service in one process. With no TEMPORAL_ADDRESS it first starts the
 * embedded Temporal dev server, its state in DATA_DIR/temporal.db (kept across restarts) and the
 * Web UI on port 8233. SIGINT/SIGTERM: stop taking deliveries, let running activities finish,
 * then stop the dev server.
 */
import { ConfigError, loadConfig, type Config } from '../config';
import { prepareDataDir } from '../lib/data-dir';
import { startEmbeddedServer } from '../temporal/dev-server';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/run-main';
import { openServices } from '../services';
import { startWebhookServer } from '../webhook/server';
import { installRuntime } from '../temporal/connection';
import { startSyncWorker } from '../worker/worker';

const EMBEDDED_TEMPORAL_PORT = 7233;
const EMBEDDED_UI_PORT = 8233;

/** What `npm start` says after the list of missing variables. */
export const DEMO_HINT =
  'No Asana or Airtable account at hand? `npm run demo` runs everything against the emulators of both APIs, with none.';

function loadStartConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigError(err.problems, DEMO_HINT) : err;
  }
}

runMain(async () => {
  let config = loadStartConfig();
  const log = createLogger(config.logLevel, 'service');
  installRuntime(log, config);
  prepareDataDir(config.dataDir, log);
  let devServer;
  if (config.temporal.address === undefined) {
    log.info('TEMPORAL_ADDRESS not set: starting the embedded Temporal dev server');
    devServer = await startEmbeddedServer(config.dataDir, {
      port: EMBEDDED_TEMPORAL_PORT,
      uiPort: EMBEDDED_UI_PORT,
      namespace: config.temporal.namespace,
    });
    config = { ...config, temporal: { ...config.temporal, address: devServer.address } };
    log.info({ address: devServer.address, webUi: devServer.uiUrl }, `Temporal Web UI: ${devServer.uiUrl}`);
  }
  const services = await openServices(config, log); // one per process: the worker and the webhook share its connection and budgets
  const { worker, running } = await startSyncWorker(services);
  const webhook = await startWebhookServer(services);

  log.info(`stopping on ${await shutdownSignal()}`);
  services.stop(); // no request waiting for its turn holds the stop
  await webhook.close();
  worker.shutdown();
  await running;
  await services.close();
  await devServer?.stop();
});
