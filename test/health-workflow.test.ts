/** The webhook health workflow on the test server, with a stub check: what the Web UI shows of a failure. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { webhookHealthWorkflow } from '../workflows';
import { devServer, workflowBundle } from './support/temporal';

describe('the webhook health workflow, with a stub check', function () {
  this.timeout(60_000);

  it("shows Asana's error text in the run's details as written, never as a link", async () => {
    const { client, nativeConnection } = devServer().env;
    const taskQueue = `health-workflow-${randomUUID()}`;
    const asanaText = 'Asana answered 400: see [the fix](https://attacker.example/x) ![img](https://attacker.example/i.png)';
    const activities = {
      async checkWebhooks() {
        throw ApplicationFailure.nonRetryable(asanaText, 'InvalidRequest');
      },
    };
    const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const workflowId = `health-${randomUUID()}`;
    const details = await worker.runUntil(async () => {
      const handle = await client.workflow.start(webhookHealthWorkflow, { workflowId, taskQueue, args: [{ taskQueue }] });
      await assert.rejects(handle.result(), WorkflowFailedError);
      return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    });
    assert.match(details, /^\*\*Alarm\*\*: the check did not complete/);
    assert.ok(details.includes('see \\[the fix\\]\\(https://attacker\\.example/x\\) \\!\\[img\\]'), details);
    assert.doesNotMatch(details, /[^\\]\[the fix\]/);
  });
});
