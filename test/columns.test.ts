/** Columns chosen by the operator (COLUMNS_FILE): set up, synced from webhooks, reconciled, changed. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { airtableSetup } from '../cli/airtable';
import type { EmulatedUser } from '../emulators/asana';
import { everyValue, EVERY_SOURCE, startStackWithEverySource, type ProjectFields } from './support/columns';
import { createSyncWorker } from '../worker/worker';
import { reconcileProjectWorkflow } from '../workflows';
import { runEntry } from './support/processes';
import { BASE_ID, eventually, TABLE, type Stack } from './support/stack';
import { devServer, workflowBundle } from './support/temporal';

describe('columns chosen by the operator', function () {
  this.timeout(120_000);
  let stack: Stack;
  let dir: string;
  let fields: ProjectFields;
  let ana: EmulatedUser;
  const output = { lines: [] as string[], out: (l: string) => output.lines.push(l), err: (l: string) => output.lines.push(l) };
  const rowOf = (gid: string) => stack.rows().find((r) => r['Task ID'] === gid);

  before(async () => {
    ({ stack, fields, dir } = await startStackWithEverySource((asana) => (ana = asana.addUser('Ana Lima'))));
    await stack.registerWebhook();
  });
  after(() => stack.stop());

  it('airtable setup adds the configured columns to the table, with their types and options', async () => {
    assert.equal(await airtableSetup(stack.services, output, []), 0, output.lines.join('\n'));
    assert.match(
      output.lines.join('\n'),
      /Added to the table "Asana Tasks" in base appSANDBOXBASE001: Done, Completed At, Start, Link, Tags/,
    );
    const schema = new Map(stack.airtable.tableSchema(BASE_ID, TABLE).map((f) => [f.name, f]));
    assert.equal(schema.get('Done')?.type, 'checkbox');
    assert.equal(schema.get('Completed At')?.type, 'dateTime');
    assert.deepEqual(schema.get('Client')?.options, { choices: [{ name: 'Acme' }, { name: 'Globex' }] });
    assert.deepEqual(schema.get('Budget')?.options, { precision: 2 });
    assert.equal(schema.size, 5 + 13);
    assert.equal(await airtableSetup(stack.services, output, []), 0, 'a second setup finds it ready');
  });

  it("writes every configured column of a new task, from the task's fields and its custom fields", async () => {
    const parent = stack.asana.createTask(stack.project.gid, { name: 'Launch plan' });
    const task = stack.asana.createTask(stack.project.gid, {
      name: 'Write the brief',
      assignee: ana.gid,
      completed: true,
      start_on: '2026-11-20',
      tags: ['urgent', 'q1'],
      parent: parent.gid,
      custom_fields: everyValue(fields, ana.gid),
    });
    const row = await eventually(() => {
      const found = rowOf(task.gid);
      assert.ok(found?.Owners, JSON.stringify(found));
      return found;
    });
    assert.deepEqual(row, {
      'Task ID': task.gid,
      Name: 'Write the brief',
      Assignee: 'Ana Lima',
      Done: true,
      'Completed At': stack.asana.task(task.gid)!.completed_at,
      Start: '2026-11-20',
      Link: `https://app.asana.com/0/${stack.project.gid}/${task.gid}`,
      Tags: ['urgent', 'q1'],
      Parent: 'Launch plan',
      Section: 'To do',
      Email: 'ana.lima@example.com',
      Client: 'Acme',
      Budget: 1234.5,
      Channels: ['Email', 'Social'],
      Launch: '2026-12-24',
      Owners: 'Ana Lima',
    });
  });

  it('follows a change of a custom field, of the tags and of the section', async () => {
    const task = stack.asana.createTask(stack.project.gid, { name: 'Moving', custom_fields: { [fields.client.gid]: 'Acme' } });
    await eventually(() => assert.equal(rowOf(task.gid)?.Client, 'Acme'));
    stack.asana.updateTask(task.gid, { custom_fields: { [fields.client.gid]: 'Globex' }, tags: ['later'] });
    const doing = stack.asana.addSection(stack.project.gid, 'Doing');
    stack.asana.moveToSection(task.gid, stack.project.gid, doing.gid);
    await eventually(() =>
      assert.deepEqual([rowOf(task.gid)?.Client, rowOf(task.gid)?.Tags, rowOf(task.gid)?.Section], ['Globex', ['later'], 'Doing']),
    );
  });

  it('writes nothing on a full reconcile of an unchanged table', async () => {
    await stack.asana.drainDeliveries();
    const writes = stack.airtable.writes();
    const result = await stack.client.workflow.execute(reconcileProjectWorkflow, {
      workflowId: `test-reconcile-${randomUUID()}`,
      taskQueue: stack.config.temporal.taskQueue,
      args: [{ projectGid: stack.project.gid, mode: 'full' }],
    });
    assert.deepEqual([result.created, result.updated, result.unchanged], [0, 0, stack.asana.taskList(stack.project.gid).length]);
    assert.equal(stack.airtable.writes(), writes);
  });

  it('fills a column added later on the backfill, and leaves the cells of a removed one as they were', async () => {
    const before = stack.rows();
    const changed = path.join(dir, 'columns-changed.yml');
    await writeFile(
      changed,
      EVERY_SOURCE.replace('  - { name: Budget, type: number, source: "custom_field:Budget" }\n', '') +
        '  - { name: Brief, type: multilineText, source: "custom_field:Brief" }\n',
    );
    const config = { ...stack.config, columnsFile: changed, temporal: { ...stack.config.temporal, taskQueue: `columns-${randomUUID()}` } };
    assert.equal(await airtableSetup({ ...stack.services, config }, output, []), 0);
    stack.asana
      .taskList(stack.project.gid)
      .forEach((t) =>
        stack.asana.editTaskSilently(t.gid, { custom_fields: { ...t.custom_fields, [fields.brief.gid]: `Brief of ${t.name}` } }),
      );
    const connection = await NativeConnection.connect({ address: devServer().address });
    try {
      const worker = await createSyncWorker({
        config,
        budgets: stack.services.budgets,
        asana: stack.services.asana,
        connection,
        client: stack.client,
        workflowBundle: await workflowBundle(),
      });
      const result = await worker.runUntil(
        stack.client.workflow.execute(reconcileProjectWorkflow, {
          workflowId: `test-backfill-${randomUUID()}`,
          taskQueue: config.temporal.taskQueue,
          args: [{ projectGid: stack.project.gid, mode: 'full' }],
        }),
      );
      assert.equal(result.updated, before.length);
    } finally {
      await connection.close();
    }
    for (const row of stack.rows()) {
      const earlier = before.find((r) => r['Task ID'] === row['Task ID'])!;
      assert.equal(row.Brief, `Brief of ${String(row.Name)}`);
      assert.equal(row.Budget, earlier.Budget, 'the removed column keeps its cells');
    }
  });

  it('stops the worker and the CLI at start, exit code 2, with every problem of a bad file', async () => {
    const bad = path.join(dir, 'bad.yml');
    await writeFile(
      bad,
      'columns:\n  - { name: Name, type: singleLineText, source: parent }\n  - { name: Mood, type: singleLineText, source: mood }\n',
    );
    const env = {
      ASANA_ACCESS_TOKEN: 'unused',
      AIRTABLE_TOKEN: 'unused',
      AIRTABLE_BASE_ID: BASE_ID,
      TEMPORAL_ADDRESS: '127.0.0.1:1', // never reached: the file is read first
      LOG_LEVEL: 'silent',
      WORKER_METRICS_PORT: '0',
      COLUMNS_FILE: bad,
    };
    for (const [entry, args] of [
      ['worker/main.ts', []],
      ['cli/main.ts', ['webhooks', 'list']],
      ['webhook/main.ts', []],
    ] as const) {
      const result = await runEntry(entry, [...args], env, 30_000);
      assert.equal(result.code, 2, `${entry}: ${result.stderr}`);
      assert.match(result.stderr, /"Name": the name is taken by one of the five default columns/, entry);
      assert.match(result.stderr, /"Mood": unknown source "mood"/, entry);
    }
  });
});
