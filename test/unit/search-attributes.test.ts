import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { createLogger } from '../../lib/logger';
import { awaitSearchAttributes } from '../../temporal/connection';

/** A client whose visibility refuses the attributes `refusals` times (gRPC INVALID_ARGUMENT), or fails otherwise. */
function clientRefusing(refusals: number, otherError?: Error) {
  const calls: string[] = [];
  const client = {
    options: { namespace: 'default' },
    connection: {
      workflowService: {
        countWorkflowExecutions: async ({ query }: { query: string }) => {
          calls.push(query);
          if (otherError) throw otherError;
          if (calls.length <= refusals) throw Object.assign(new Error('invalid query: unknown search attribute'), { code: 3 });
          return { count: 0 };
        },
      },
    },
  };
  return { client: client as unknown as Client, calls };
}

const log = createLogger('silent', 'test');

describe('awaitSearchAttributes', () => {
  it('waits while Temporal refuses a query on the search attributes, then returns', async () => {
    const { client, calls } = clientRefusing(3);
    await awaitSearchAttributes(client, log);
    assert.equal(calls.length, 4);
    assert.match(calls[0], /AsanaTaskGid = "0" AND AsanaProjectGid = "0"/);
  });

  it('fails at once on anything but a refusal of the query', async () => {
    const { client, calls } = clientRefusing(0, Object.assign(new Error('unavailable'), { code: 14 }));
    await assert.rejects(awaitSearchAttributes(client, log), /unavailable/);
    assert.equal(calls.length, 1);
  });

  it('gives up after its timeout', async () => {
    const { client } = clientRefusing(Infinity);
    await assert.rejects(awaitSearchAttributes(client, log, 300), /unknown search attribute/);
  });
});
