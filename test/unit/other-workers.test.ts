import assert from 'node:assert/strict';
import type { ConnectionLike } from '@temporalio/client';
import { createLogger, type Logger } from '../../lib/logger';
import { warnIfNotAlone } from '../../worker/other-workers';

/** A connection whose task queue lists these pollers, or whose DescribeTaskQueue fails. */
function connectionListing(identities: string[] | Error) {
  return {
    withDeadline: <T>(_deadline: number, call: () => Promise<T>) => call(),
    workflowService: {
      describeTaskQueue: async () => {
        if (identities instanceof Error) throw identities;
        return { pollers: identities.map((identity) => ({ identity })) };
      },
    },
  } as unknown as Pick<ConnectionLike, 'workflowService' | 'withDeadline'>;
}

/** A logger that keeps its warnings. */
function recordingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = createLogger('silent', 'test');
  log.warn = ((_meta: unknown, message: string) => void warnings.push(message)) as unknown as Logger['warn'];
  return { log, warnings };
}

const temporal = { namespace: 'default', taskQueue: 'asana-airtable-sync' };

describe('a worker without shared budgets', () => {
  it('warns, naming REDIS_URL, when another worker polls its task queue', async () => {
    const { log, warnings } = recordingLogger();
    const others = await warnIfNotAlone(connectionListing(['11@a', '22@b']), temporal, '11@a', log);
    assert.deepEqual(others, ['22@b']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /REDIS_URL/);
  });

  it('says nothing while it is the only poller', async () => {
    const { log, warnings } = recordingLogger();
    assert.deepEqual(await warnIfNotAlone(connectionListing(['11@a']), temporal, '11@a', log), []);
    assert.deepEqual(warnings, []);
  });

  it('says nothing, and reports the failed check, when Temporal does not answer', async () => {
    const { log, warnings } = recordingLogger();
    assert.equal(await warnIfNotAlone(connectionListing(new Error('unavailable')), temporal, '11@a', log), false);
    assert.deepEqual(warnings, []);
  });
});
