/** Liveness and readiness: /healthz says deliveries are taken; /readyz, on the metrics port, also that a worker polls. */
import assert from 'node:assert/strict';
import axios from 'axios';
import { freePort } from './support/ports';
import { eventually, startStack, type Stack } from './support/stack';

describe('readiness', function () {
  this.timeout(120_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ inProcessWorker: false, env: { WEBHOOK_METRICS_PORT: String(await freePort()) } });
  });
  after(() => stack.stop());

  const get = (url: string) => axios.get<{ ready?: boolean; waitingFor?: string }>(url, { validateStatus: () => true });

  it('/readyz is 503 until a worker polls the task queue, while /healthz already takes deliveries; then 200', async () => {
    const readyz = stack.webhook.metricsUrl!.replace(/\/metrics$/, '/readyz');
    await eventually(async () => assert.equal((await get(`${stack.webhook.url}/healthz`)).status, 200));
    await eventually(async () => {
      const answer = await get(readyz);
      assert.deepEqual([answer.status, answer.data], [503, { ready: false, waitingFor: 'a worker to poll the task queue' }]);
    });
    stack.spawnWorker();
    await eventually(async () => assert.deepEqual((await get(readyz)).data, { ready: true }), 90_000, 250);
    assert.equal((await get(`${stack.webhook.url}/readyz`)).status, 404, 'not on the public port');
  });
});
