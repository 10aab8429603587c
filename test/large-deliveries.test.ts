/** A delivery of more than 100 tasks starts runs only for the tasks Asana lists: invented gids cost next to nothing. */
import assert from 'node:assert/strict';
import axios from 'axios';
import { floodDelivery, signDelivery } from '../emulators/asana';
import { MAX_BODY_BYTES } from '../webhook/app';
import { SecretStore, tokenOf } from '../asana/webhook-secrets';
import type { CheckTasksResult } from '../workflows';
import { postBody, taskEvent } from './support/deliveries';
import { eventually, startStack, type Stack } from './support/stack';

describe('large deliveries', function () {
  this.timeout(120_000);
  let stack: Stack;
  let hook: { gid: string; target: string };

  before(async () => {
    stack = await startStack();
    hook = await stack.registerWebhook();
  });
  after(() => stack.stop());

  /** The runs of one workflow type on this stack's task queue, once none of them is running. */
  async function closedRuns(workflowType: string): Promise<string[]> {
    return eventually(
      async () => {
        const ids: string[] = [];
        for await (const run of stack.client.workflow.list({
          query: `TaskQueue = '${stack.config.temporal.taskQueue}' AND WorkflowType = '${workflowType}'`,
        })) {
          assert.notEqual(run.status.name, 'RUNNING', `${run.workflowId} still running`);
          ids.push(run.workflowId);
        }
        return ids;
      },
      30_000,
      250,
    );
  }

  it('of exactly 100 invented gids, ten times, costs at most 40 Asana requests and no Airtable request; a task created 2 s later gets its row within 2 s', async () => {
    const before = { asana: stack.asana.count(), airtable: stack.airtable.count(), rows: stack.rows().length };
    const { secret } = (await new SecretStore(stack.config.dataDir).get(tokenOf(hook.target)!))!;
    for (let delivery = 0; delivery < 10; delivery += 1) {
      const events = Array.from({ length: 100 }, (_, i) => taskEvent(String(9_000_000_000_000 + delivery * 100 + i)));
      const body = JSON.stringify({ events });
      assert.equal((await postBody(hook.target, body, { 'x-hook-signature': signDelivery(secret, body) })).status, 200);
    }

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const created = Date.now();
    const task = stack.asana.createTask(stack.project.gid, { name: 'Real, after a hundred-task flood' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)), 10_000, 20);
    const rowMs = Date.now() - created;

    await closedRuns('checkTasksWorkflow');
    await closedRuns('syncTaskWorkflow');
    const asanaRequests = stack.asana.count() - before.asana;
    assert.ok(asanaRequests <= 40, `${asanaRequests} Asana requests for 1,000 invented gids`);
    assert.equal(stack.airtable.count() - before.airtable, 1, "the real task's row alone was written");
    assert.equal(stack.rows().length, before.rows + 1);
    assert.ok(rowMs < 2_000, `the real task's row took ${rowMs} ms`);
  });

  it('of real new tasks past the unseen budget open the fast path: the next burst starts every run at once', async () => {
    stack.asana.configure({ newTaskEvents: 1, deliveryBatchSize: 1, deliveryBatchMs: 5 });
    const rowsBefore = stack.rows().length;
    for (let i = 0; i < 30; i += 1) stack.asana.createTask(stack.project.gid, { name: `Wave one ${i}` });
    await eventually(() => assert.equal(stack.rows().length, rowsBefore + 30), 20_000, 50);
    const checks = (await closedRuns('checkTasksWorkflow')).length;
    assert.ok(checks > 0, 'the first burst went past the budget, through check runs');

    for (let i = 0; i < 30; i += 1) stack.asana.createTask(stack.project.gid, { name: `Wave two ${i}` });
    await eventually(() => assert.equal(stack.rows().length, rowsBefore + 60), 20_000, 50);
    assert.equal((await closedRuns('checkTasksWorkflow')).length, checks, 'the second burst started no check run');
    stack.asana.configure({ newTaskEvents: 3, deliveryBatchSize: 100, deliveryBatchMs: 20 });
  });

  it('of 150 new tasks gives each its row through one check run', async () => {
    const checksBefore = new Set(await closedRuns('checkTasksWorkflow'));
    const rowsBefore = new Set(stack.rows().map((r) => r['Task ID']));
    stack.asana.configure({ newTaskEvents: 1, deliveryBatchSize: 150, deliveryBatchMs: 200 });
    const tasks = Array.from({ length: 150 }, (_, i) => stack.asana.createTask(stack.project.gid, { name: `Launch ${i}` }));
    await eventually(() => assert.equal(stack.rows().length, rowsBefore.size + 150), 30_000, 100);
    assert.deepEqual(
      stack
        .rows()
        .map((r) => r['Task ID'])
        .filter((gid) => !rowsBefore.has(gid))
        .sort(),
      tasks.map((t) => t.gid).sort(),
    );
    const checks = (await closedRuns('checkTasksWorkflow')).filter((id) => !checksBefore.has(id));
    assert.equal(checks.length, 1);
    const result = (await stack.client.workflow.getHandle(checks[0]).result()) as CheckTasksResult;
    assert.deepEqual({ ...result, notListed: result.notListed.length }, { started: 150, notListed: 0 });
    stack.asana.configure({ newTaskEvents: 3, deliveryBatchSize: 100, deliveryBatchMs: 20 });
  });

  it('of 1 MiB of invented gids, twice, costs at most one Asana request per 50 events, no Airtable request and no sync run; a task created 2 s later is taken at once and gets its row within 2 s', async () => {
    const before = { asana: stack.asana.count(), airtable: stack.airtable.count(), rows: stack.rows().length };
    const syncsBefore = (await closedRuns('syncTaskWorkflow')).length;
    const checksBefore = new Set(await closedRuns('checkTasksWorkflow'));
    const { secret } = (await new SecretStore(stack.config.dataDir).get(tokenOf(hook.target)!))!;
    let events = 0;
    for (const firstGid of [7_000_000_000_000, 8_000_000_000_000]) {
      const body = floodDelivery(firstGid, MAX_BODY_BYTES);
      events += (JSON.parse(body) as { events: unknown[] }).events.length;
      const answer = await axios.post(hook.target, body, {
        headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
        maxBodyLength: Infinity,
        validateStatus: () => true,
      });
      assert.equal(answer.status, 200);
    }

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const created = Date.now();
    const task = stack.asana.createTask(stack.project.gid, { name: 'Real, after the flood' });
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === task.gid)), 10_000, 20);
    const rowMs = Date.now() - created;
    const answers = stack.asana.deliveries.filter((d) => d.resources.includes(task.gid)).map((d) => d.status);
    assert.ok(answers.length > 0 && answers.every((status) => status === 200), `Asana's deliveries were answered ${answers.join()}`);

    const checks = (await closedRuns('checkTasksWorkflow')).filter((id) => !checksBefore.has(id));
    const results = await Promise.all(checks.map((id) => stack.client.workflow.getHandle(id).result() as Promise<CheckTasksResult>));
    const notListed = results.reduce((sum, r) => sum + r.notListed.length, 0);
    assert.equal(notListed, events, 'every invented gid is kept, as not listed, in a check run');
    assert.equal((await closedRuns('syncTaskWorkflow')).length, syncsBefore + 1, 'the real task alone got a sync run');
    const asanaRequests = stack.asana.count() - before.asana;
    assert.ok(asanaRequests <= events / 50, `${asanaRequests} Asana requests for ${events} events`);
    assert.equal(stack.airtable.count() - before.airtable, 1, "the real task's row alone was written");
    assert.equal(stack.rows().length, before.rows + 1);
    assert.ok(rowMs < 2_000, `the real task's row took ${rowMs} ms`);
  });
});
