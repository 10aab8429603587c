/** `npm run webhook` (or `start:webhook`, as built): the Asana webhook receiver alone. */
import { loadConfig } from '../config';
import { prepareDataDir } from '../lib/data-dir';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/main';
import { stopPacing } from '../lib/pacer';
import { installRuntime } from '../lib/temporal';
import { startWebhookServer } from './server';

runMain(async () => {
  const config = loadConfig([]);
  const log = createLogger(config.logLevel, 'webhook');
  installRuntime(log);
  prepareDataDir(config.dataDir, log);
  const webhook = await startWebhookServer(config, log);
  log.info(`stopping on ${await shutdownSignal()}`);
  stopPacing(); // a health check waiting out a 429 does not hold the stop
  await webhook.close();
});
