/**
 * The service's side of Asana's contract, and our emulator's, against Asana's published OpenAPI
 * spec: every request the service sends (path, method, query parameters, opt_fields names), every
 * answer it reads and every webhook delivery it takes must be what the spec allows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { airtableSetup } from '../cli/airtable';
import { WEBHOOK_COMMANDS } from '../cli/webhooks';
import { AsanaApi } from '../asana/api';
import { SecretStore } from '../asana/webhook-secrets';
import { reconcileProjectWorkflow } from '../workflows';
import { AsanaSpec } from './support/asana-spec';
import { everyValue, startStackWithEverySource, type ProjectFields } from './support/columns';
import { eventually, startStack, type Stack } from './support/stack';
import { Budgets } from '../budgets';

describe("Asana's OpenAPI spec", function () {
  this.timeout(120_000);
  let spec: AsanaSpec;
  before(async () => (spec = await AsanaSpec.load()));

  it('refuses what it does not allow: an unknown opt_field, a task whose name is a number, an event without a resource gid', () => {
    const exchange = {
      method: 'GET',
      path: '/api/1.0/tasks/12',
      query: 'opt_fields=name,colour',
      body: Buffer.alloc(0),
      status: 200,
      answer: { data: { gid: '12', name: 7 } },
    };
    const problems = spec.problems(exchange);
    assert.ok(
      problems.some((p) => p.includes('request') && p.includes('opt_fields')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('/data/name')),
      problems.join('\n'),
    );
    assert.deepEqual(spec.problems({ ...exchange, path: '/api/1.0/taskz/12' }), [
      "GET /api/1.0/taskz/12?opt_fields=name,colour: no such operation in Asana's spec",
    ]);
    assert.notDeepEqual(spec.events([{ action: 'added', resource: { resource_type: 'task', gid: 5 } }]), []);
  });

  describe('every request the service sends, every answer and delivery it takes', () => {
    let stack: Stack;
    before(async () => (stack = await startStack()));
    after(() => stack.stop());

    it('are what the spec allows', async () => {
      const { asana, client, config, project } = stack;
      asana.exchanges = [];
      asana.deliveredEvents = [];
      const ana = asana.addUser('Ana Lima');

      // webhooks create: the registration and its handshake, then deliveries of new tasks
      await stack.registerWebhook();
      const tasks = Array.from({ length: 120 }, (_, i) =>
        asana.createTask(project.gid, {
          name: `Contract ${i}`,
          assignee: i % 2 ? ana.gid : null,
          due_on: i % 3 ? '2027-01-15' : null,
          notes: `n${i}`,
        }),
      );
      asana.updateTask(tasks[0].gid, { name: 'Renamed', due_at: '2027-02-01T10:00:00.000Z' });
      asana.deleteTask(tasks[1].gid);
      const synced = () => new Set(stack.rows().map((r) => r['Task ID']));
      await eventually(
        () => assert.ok(tasks.slice(2).every((t) => synced().has(t.gid)) && stack.rows().some((r) => r.Name === 'Renamed')),
        60_000,
        200,
      );

      // reconciles: full (the whole project, paged) and incremental (modified_since)
      for (const mode of ['full', 'incremental'] as const) {
        await client.workflow.execute(reconcileProjectWorkflow, {
          workflowId: `contract-${randomUUID()}`,
          taskQueue: config.temporal.taskQueue,
          args: [{ projectGid: project.gid, mode }],
        });
      }

      // webhooks list, then delete by project (which lists, then deletes each)
      const lines: string[] = [];
      const ctx = {
        config,
        api: new AsanaApi(config.asana, new Budgets()),
        secrets: new SecretStore(config.dataDir),
        output: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) },
      };
      await WEBHOOK_COMMANDS.list(ctx, ['--public-url', stack.webhook.url]);
      await WEBHOOK_COMMANDS.delete(ctx, ['--project', project.gid, '--public-url', stack.webhook.url]);
      await ctx.api.projectLabel(project.gid);

      const exchanges = asana.exchanges;
      const used = new Set(exchanges.map((e) => spec.operationOf(e)?.operationId));
      for (const operation of ['createWebhook', 'getWebhooks', 'deleteWebhook', 'getTask', 'getTasks', 'getProject'])
        assert.ok(used.has(operation), `the scenario sends ${operation}`);
      assert.ok(
        exchanges.some((e) => e.status === 404),
        'the scenario meets a 404',
      );
      assert.ok(
        exchanges.some((e) => /(^|&)offset=/.test(e.query)),
        'the scenario reads a second page',
      );
      assertAllowed(stack);
    });
  });

  describe('with a column of every source (COLUMNS_FILE)', () => {
    let stack: Stack;
    let fields: ProjectFields;
    before(async () => {
      ({ stack, fields } = await startStackWithEverySource((asana) => (asana.exchanges = [])));
    });
    after(() => stack.stop());

    it('reads custom field settings and tasks with every field the columns need, as the spec allows', async () => {
      const { asana, project } = stack;
      asana.deliveredEvents = [];
      const ana = asana.addUser('Ana Lima');
      assert.equal(await airtableSetup(stack.services, { out: () => undefined, err: () => undefined }, []), 0);
      await stack.registerWebhook();
      const parent = asana.createTask(project.gid, { name: 'Parent' });
      const task = asana.createTask(project.gid, {
        name: 'Every field',
        assignee: ana.gid,
        completed: true,
        start_on: '2026-11-20',
        tags: ['urgent'],
        parent: parent.gid,
        custom_fields: everyValue(fields, ana.gid),
      });
      asana.moveToSection(task.gid, project.gid, asana.addSection(project.gid, 'Doing').gid);
      await eventually(() => assert.equal(stack.rows().find((r) => r['Task ID'] === task.gid)?.Section, 'Doing'), 30_000);
      await stack.client.workflow.execute(reconcileProjectWorkflow, {
        workflowId: `contract-${randomUUID()}`,
        taskQueue: stack.config.temporal.taskQueue,
        args: [{ projectGid: project.gid, mode: 'full' }],
      });
      const used = new Set((asana.exchanges ?? []).map((e) => spec.operationOf(e)?.operationId));
      for (const operation of ['getCustomFieldSettingsForProject', 'getTask', 'getTasks'])
        assert.ok(used.has(operation), `the scenario sends ${operation}`);
      assertAllowed(stack);
    });
  });

  function assertAllowed({ asana }: Stack): void {
    const problems = [
      ...asana.exchanges!.flatMap((e) => spec.problems(e)),
      ...asana.deliveredEvents!.flatMap((events) => spec.events(events)),
    ];
    assert.deepEqual([...new Set(problems)].slice(0, 10), []);
  }
});
