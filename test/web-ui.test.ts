/**
 * What an operator sees in the Temporal Web UI: runs carry a summary (user metadata) and their
 * current details, checked through the client and then in a real browser (Debian's chromium,
 * driven by playwright-core) on the dev server's own Web UI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { readEnv } from '../config';
import type { DevServer } from '../temporal/dev-server';
import { startTestServer } from './support/temporal';
import { ensureSchedules, scheduleId, taskWorkflowId } from '../client';
import { freePort } from './support/ports';
import { runEntry } from './support/processes';
import { eventually, startStack, type Stack } from './support/stack';

const CHROMIUM = '/usr/bin/chromium';

/** The current details a run reports (the query the Web UI itself sends). */
async function currentDetails(stack: Stack, workflowId: string): Promise<string | undefined> {
  const metadata = await stack.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails;
}

describe('Web UI: what an operator sees', function () {
  this.timeout(180_000);
  let server: DevServer;
  let stack: Stack;
  let taskGid: string;

  before(async () => {
    server = await startTestServer({ port: await freePort(), uiPort: await freePort() });
    stack = await startStack({ temporal: server });
    await stack.registerWebhook();
    taskGid = stack.asana.createTask(stack.project.gid, { name: 'Launch brief «spring»' }).gid;
    await eventually(() => assert.ok(stack.rows().some((r) => r['Task ID'] === taskGid)));
    await stack.client.workflow.getHandle(taskWorkflowId(taskGid)).result();
  });
  after(async () => {
    await stack.stop();
    await server.stop();
  });

  it("gives a task's run a summary, and the task's name in its current details", async () => {
    const description = await stack.client.workflow.getHandle(taskWorkflowId(taskGid)).describe();
    assert.equal(await description.staticSummary(), `Sync of Asana task ${taskGid} (project ${stack.project.gid})`);
    assert.match((await currentDetails(stack, taskWorkflowId(taskGid))) ?? '', /\*\*Launch brief «spring»\*\*: row up to date/);
  });

  it("names the project in the summaries of scheduled and CLI reconciles, and shows a reconcile's progress", async () => {
    const label = `"Campaigns" (${stack.project.gid})`;
    await ensureSchedules(stack.client, stack.config, { [stack.project.gid]: label });
    const scheduled = await stack.client.schedule.getHandle(scheduleId(stack.project.gid, 'full')).describe();
    assert.equal(
      scheduled.action.type === 'startWorkflow' ? scheduled.action.staticSummary : undefined,
      `Full reconcile of project ${label}`,
    );

    const backfill = await runEntry('cli/main.ts', ['backfill', '--project', stack.project.gid], {
      ASANA_ACCESS_TOKEN: stack.asana.token,
      ASANA_BASE_URL: stack.asana.baseUrl,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    });
    assert.equal(backfill.code, 0, backfill.stderr);
    const workflowId = /workflow (asana-backfill-\S+)/.exec(backfill.stdout)![1];
    assert.equal(await (await stack.client.workflow.getHandle(workflowId).describe()).staticSummary(), `Full backfill of project ${label}`);
    assert.match(
      (await currentDetails(stack, workflowId)) ?? '',
      /^Done: seen \d+ · created \d+ · updated \d+ · unchanged \d+ · deleted 0$/,
    );
  });

  it("shows a task's run, found by AsanaTaskGid, with its summary and details, in a real browser", async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it): skipped`);
      this.skip();
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${server.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(`AsanaTaskGid="${taskGid}"`)}`);
      await page.getByRole('link', { name: taskWorkflowId(taskGid) }).click();
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      // The UI renders summaries and details (Temporal markdown) in frames of their own.
      const shown = async () =>
        (
          await Promise.all(
            page.frames().map((frame) =>
              frame
                .locator('body')
                .innerText()
                .catch(() => ''),
            ),
          )
        ).join('\n');
      await eventually(
        async () => {
          const text = await shown();
          assert.ok(text.includes(`Sync of Asana task ${taskGid} (project ${stack.project.gid})`), text);
          assert.ok(text.includes('Launch brief «spring»: row up to date'), text);
          assert.ok(text.includes('Read the task from Asana and upsert its row'), text);
        },
        30_000,
        250,
      );
      const screenshot = readEnv().WEB_UI_SCREENSHOT ?? path.join(mkdtempSync(path.join(tmpdir(), 'web-ui-')), 'web-ui.png');
      await page.screenshot({ path: screenshot });
    } finally {
      await browser.close();
    }
  });
});
