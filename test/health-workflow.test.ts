/** The webhook health workflow on the test server, with a stub check: what the Web UI shows of a failure. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { webhookHealthWorkflow } from '../workflows';
import { devServer, workflowBundle } from './support/temporal';

/** The current details of a health run whose check fails with `failure`. */
async function detailsOfFailedCheck(failure: ApplicationFailure): Promise<string> {
  const { client, nativeConnection } = devServer().env;
  const taskQueue = `health-workflow-${randomUUID()}`;
  const activities = {
    async checkWebhooks() {
      throw failure;
    },
  };
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(async () => {
    const handle = await client.workflow.start(webhookHealthWorkflow, {
      workflowId: `health-${randomUUID()}`,
      taskQueue,
      args: [{ taskQueue }],
    });
    await assert.rejects(handle.result(), WorkflowFailedError);
    return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
  });
}

describe('the webhook health workflow, with a stub check', function () {
  this.timeout(60_000);
  const asanaText = 'Asana answered 400: see [the fix](https://attacker.example/x) ![img](https://attacker.example/i.png)';
  const escaped = 'see \\[the fix\\]\\(https://attacker\\.example/x\\) \\!\\[img\\]';

  it("shows Asana's error text in the run's details as written, never as a link", async () => {
    const details = await detailsOfFailedCheck(ApplicationFailure.nonRetryable(asanaText, 'InvalidRequest'));
    assert.match(details, /^\*\*Alarm\*\*: the check did not complete/);
    assert.ok(details.includes(escaped), details);
  });

  it('says why a webhook was not repaired, without blaming the webhook process', async () => {
    const details = await detailsOfFailedCheck(ApplicationFailure.nonRetryable(`Project 1: ${asanaText}`, 'WebhookNotRepaired'));
    assert.ok(details.startsWith('**Alarm, not repaired**: Project 1: Asana answered 400: '), details);
    assert.ok(details.includes(escaped), details);
    assert.doesNotMatch(details, /Is the webhook process running/);
  });
});
