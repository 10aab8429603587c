/** `npm run webhook` (or `start:webhook`, as built): the Asana webhook receiver alone. */
import { loadConfig } from '../config';
import { prepareDataDir } from '../lib/data-dir';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/run-main';
import { openServices } from '../services';
import { installRuntime } from '../temporal/connection';
import { startWebhookServer } from './server';

runMain(async () => {
  const config = loadConfig([]);
  const log = createLogger(config.logLevel, 'webhook');
  installRuntime(log);
  prepareDataDir(config.dataDir, log);
  const services = await openServices(config, log); // with REDIS_URL, its health checks share the workers' Asana budget
  const webhook = await startWebhookServer(services);
  log.info(`stopping on ${await shutdownSignal()}`);
  services.stop(); // a health check waiting out a 429 does not hold the stop
  await webhook.close();
  await services.close();
});
