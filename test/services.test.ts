/** The composition root: what a process opens, it closes, and nothing is left behind. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { loadConfig } from '../config';
import { createLogger } from '../lib/logger';
import { openServices } from '../services';
import { startWebhookServer } from '../webhook/server';
import { freePort } from './support/ports';
import { eventually } from './support/stack';
import { devServer } from './support/temporal';

/** This process's active handles and requests, counted by kind. */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

describe('the services of a process', function () {
  this.timeout(60_000);

  it('leave no handle open once the webhook on them and then they are closed', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'services-'));
    const config = loadConfig([], {
      TEMPORAL_ADDRESS: devServer().address,
      ASANA_PROJECT_GIDS: '1200000000000001',
      PORT: '0',
      DATA_DIR: dataDir,
      WEBHOOK_METRICS_PORT: String(await freePort()),
    });
    const before = activeResources();
    const services = await openServices(config, createLogger('silent', 'test'));
    const webhook = await startWebhookServer(services);
    await eventually(async () => assert.equal((await axios.get(`${webhook.url}/healthz`)).status, 200));
    assert.ok((activeResources().get('TCPServerWrap') ?? 0) > (before.get('TCPServerWrap') ?? 0), 'the webhook listens');

    services.stop();
    await webhook.close();
    await services.close();
    await eventually(() => {
      const left = [...activeResources()].filter(([kind, count]) => count > (before.get(kind) ?? 0));
      assert.deepEqual(left, [], 'handles left open');
    }, 5_000);
    await rm(dataDir, { recursive: true, force: true });
  });
});
