/** `npm run worker` (or `start:worker`, as built): the Temporal worker that runs the sync workflows and activities. */
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/run-main';
import { openServices } from '../services';
import { installRuntime } from '../temporal/connection';
import { startSyncWorker } from './worker';

runMain(async () => {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'worker');
  installRuntime(log, config);
  const services = await openServices(config, log);
  const { worker, running } = await startSyncWorker(services);
  void shutdownSignal().then((signal) => {
    log.info(`stopping on ${signal}: letting running activities finish; requests waiting for their turn are given up`);
    services.stop();
    worker.shutdown();
  });
  await running;
  await services.close();
});
