/** `npm run webhook` (or `start:webhook`, as built): the Asana webhook receiver alone. */
import { loadConfig } from '../config';
import { prepareDataDir } from '../lib/data-dir';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/run-main';
import { Budgets } from '../budgets';
import { installRuntime } from '../temporal/connection';
import { startWebhookServer } from './server';

runMain(async () => {
  const config = loadConfig([]);
  const log = createLogger(config.logLevel, 'webhook');
  installRuntime(log);
  prepareDataDir(config.dataDir, log);
  const budgets = await Budgets.open(config.redis, log); // its health checks share the Asana budget with the workers
  const webhook = await startWebhookServer(config, log, { budgets });
  log.info(`stopping on ${await shutdownSignal()}`);
  budgets.stop(); // a health check waiting out a 429 does not hold the stop
  await webhook.close();
  await budgets.close();
});
