/** Steady changes while reconciles and retried attempts overlap them: every row ends as its task is. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { reconcileProjectWorkflow } from '../workflows';
import { eventually, startStack, type Stack } from './support/stack';

describe('ordered writes under overlapping syncs, retries and reconciles', function () {
  this.timeout(180_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
    await stack.registerWebhook();
  });
  after(() => stack.stop());

  /** How many runs of this stack's task queue are still running. */
  const running = async () =>
    (await stack.client.workflow.count(`TaskQueue = '${stack.config.temporal.taskQueue}' AND ExecutionStatus = 'Running'`)).count;

  it('ends with every row exact after steady creations and renames, a slowed Airtable, retried attempts and back-to-back reconciles', async () => {
    // A reconcile reads a page of tasks, then their rows: slow reads of rows widen the window in which
    // a sync writes a newer state between the two. Slow writes and 429s (attempts Temporal retries) overlap them more.
    stack.airtable.inject({ match: /^GET /, latencyMs: 700 });
    stack.airtable.inject({ match: /^PATCH /, latencyMs: 300, probability: 0.3 });
    stack.airtable.inject({ match: /^PATCH /, status: 429, times: 3, probability: 0.05 });

    let loading = true;
    const reconciles = (async () => {
      let passes = 0;
      while (loading) {
        await stack.client.workflow.execute(reconcileProjectWorkflow, {
          workflowId: `ordered-reconcile-${randomUUID()}`,
          taskQueue: stack.config.temporal.taskQueue,
          args: [{ projectGid: stack.project.gid, mode: 'full' }],
        });
        passes += 1;
      }
      return passes;
    })();

    const names = new Map<string, string>();
    const gids: string[] = [];
    for (let change = 0; change < 120; change += 1) {
      if (change % 3 === 2 && gids.length > 0) {
        const gid = gids[(change * 7) % gids.length];
        const name = `Renamed ${change}`;
        stack.asana.updateTask(gid, { name });
        names.set(gid, name);
      } else {
        const task = stack.asana.createTask(stack.project.gid, { name: `Created ${change}` });
        gids.push(task.gid);
        names.set(task.gid, task.name);
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    loading = false;
    assert.ok((await reconciles) >= 1);
    stack.airtable.clearFaults();
    stack.asana.clearFaults();

    await eventually(async () => assert.equal(await running(), 0), 60_000, 500);
    const rows = stack.rows();
    const wrong = [...names].filter(([gid, name]) => {
      const mine = rows.filter((r) => r['Task ID'] === gid);
      return mine.length !== 1 || mine[0].Name !== name;
    });
    assert.deepEqual(wrong, [], `${wrong.length} of ${names.size} rows are not exactly their task`);
  });
});
