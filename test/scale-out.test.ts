/**
 * Scaling out: three identical worker processes share one Airtable budget through Redis, and one
 * of them is killed mid-burst. Every task still gets exactly one correct row, and Airtable (its
 * emulator at the real 5 requests/s, with a short lock-out) never answers 429.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { burst } from '../bench/burst';
import { TEST_REDIS_URL, uniqueKeyPrefix } from './support/redis';
import { BASE_ID, eventually, startStack, type Stack } from './support/stack';
import { pollerPid, workflowPollers } from '../temporal/connection';

const WORKERS = 3;
const TASKS = 200;

describe('scale-out: three workers on one shared budget', function () {
  this.timeout(240_000);
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      inProcessWorker: false,
      airtable: { requestsPerSecond: 5 },
      env: { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueKeyPrefix('scale-out') },
    });
    await stack.registerWebhook();
  });
  after(() => stack.stop());

  /** The pids of the worker processes polling the stack's task queue. */
  const polling = async (): Promise<Set<number>> => {
    const identities = await workflowPollers(stack.client.connection, stack.config.temporal.namespace, stack.config.temporal.taskQueue);
    return new Set(identities.map(pollerPid));
  };

  it('writes every task exactly once, with no 429, when one of three workers is killed mid-burst', async () => {
    const workers: ChildProcess[] = Array.from({ length: WORKERS }, () => stack.spawnWorker());
    await eventually(
      async () => {
        const pids = await polling();
        assert.ok(
          workers.every((w) => pids.has(w.pid!)),
          `polling: ${[...pids].join(', ')}`,
        );
      },
      180_000,
      500,
    );
    const outcome = burst(stack.asana, stack.airtable, BASE_ID, stack.project.gid, TASKS, 120_000);
    await eventually(() => assert.ok(stack.rows().length >= TASKS / 5, `${stack.rows().length} rows`), 60_000, 20);
    const rowsAtKill = stack.rows().length;
    workers[0].kill('SIGKILL');
    const { convergeMs, duplicates, lost, wrong, rateLimited } = await outcome;
    assert.ok(rowsAtKill < TASKS, `the kill came mid-burst (${rowsAtKill} rows)`);
    assert.notEqual(convergeMs, undefined, `did not converge: ${lost} lost, ${wrong} wrong`);
    assert.deepEqual({ duplicates, lost, wrong }, { duplicates: 0, lost: 0, wrong: 0 });
    assert.equal(rateLimited, 0, 'Airtable or Asana answered 429');
    assert.equal(stack.airtable.rateLimited, 0, 'Airtable answered 429 since the workers started');
  });
});
