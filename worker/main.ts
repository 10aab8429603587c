/** `npm run worker` (or `start:worker`, as built): the Temporal worker that runs the sync workflows and activities. */
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/main';
import { stopPacing } from '../lib/pacer';
import { installRuntime } from '../lib/temporal';
import { startSyncWorker } from './worker';

runMain(async () => {
  const config = loadConfig();
  const log = createLogger(config.logLevel, 'worker');
  installRuntime(log, config);
  const { worker, running } = await startSyncWorker(config, log);
  void shutdownSignal().then((signal) => {
    log.info(`stopping on ${signal}: letting running activities finish; requests waiting for their turn are given up`);
    stopPacing();
    worker.shutdown();
  });
  await running;
});
