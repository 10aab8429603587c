/** `webhooks ensure` as an operator runs it (a real process): idempotent, filters updated in place, a lost webhook re-created. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configuredFilters } from '../asana/webhooks';
import { runEntry } from './support/processes';
import { startStack, type Stack } from './support/stack';

describe('cli: webhooks ensure', function () {
  this.timeout(60_000);
  let stack: Stack;
  let env: Record<string, string>;
  const second = { gid: '' };

  before(async () => {
    const projects: Record<string, string> = {};
    stack = await startStack({
      env: projects,
      setUp: (asana, project) => {
        second.gid = asana.addProject('Launches').gid;
        projects.ASANA_PROJECT_GIDS = `${project.gid},${second.gid}`;
      },
    });
    env = {
      ASANA_ACCESS_TOKEN: stack.asana.token,
      ASANA_BASE_URL: stack.asana.baseUrl,
      ASANA_PROJECT_GIDS: stack.config.asana.projectGids.join(','),
      PUBLIC_URL: stack.webhook.url,
      DATA_DIR: stack.config.dataDir,
    };
  });
  after(() => stack.stop());

  const ensure = (extraEnv: Record<string, string> = {}) => runEntry('cli/main.ts', ['webhooks', 'ensure'], { ...env, ...extraEnv });
  /** The webhook requests Asana got since `from` (an index into its request log), as "METHOD /path". */
  const webhookRequestsSince = (from: number) =>
    stack.asana.requests
      .slice(from)
      .filter((r) => r.path.startsWith('/api/1.0/webhooks'))
      .map((r) => `${r.method} ${r.status}`);
  const gids = () =>
    stack.asana
      .webhookList()
      .map((h) => h.gid)
      .sort();

  it('creates one webhook per synced project, with the filters the columns call for; run again, it changes nothing', async () => {
    const first = await ensure();
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      new RegExp(`^Project ${stack.project.gid}: no active webhook of ours; created webhook \\d+ \\(handshake`, 'm'),
    );
    assert.match(first.stdout, new RegExp(`^Project ${second.gid}: no active webhook of ours; created webhook \\d+`, 'm'));
    const hooks = stack.asana.webhookList();
    assert.deepEqual(hooks.map((h) => h.resource).sort(), [stack.project.gid, second.gid].sort());
    for (const hook of hooks) assert.deepEqual(hook.filters, configuredFilters(undefined));

    const before = gids();
    const from = stack.asana.requests.length;
    const again = await ensure();
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/active, with the filters the columns call for; nothing to do/g)?.length, 2, again.stdout);
    assert.deepEqual(gids(), before);
    assert.deepEqual(webhookRequestsSince(from), ['GET 200', 'GET 200'], 'two lists, no create (so no 403), no update');
  });

  it('updates the filters of the existing webhooks in place when the columns file changes: no delete, no create', async () => {
    const file = path.join(stack.config.dataDir, 'columns.yml');
    await writeFile(file, 'columns:\n  - { name: Tags, type: singleLineText, source: tags }\n');
    const before = gids();
    const from = stack.asana.requests.length;
    const run = await ensure({ COLUMNS_FILE: file });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.match(/updated the filters of webhook \d+ to those the columns call for/g)?.length, 2, run.stdout);
    assert.deepEqual(gids(), before);
    assert.deepEqual(webhookRequestsSince(from).sort(), ['GET 200', 'GET 200', 'PUT 200', 'PUT 200']);
    for (const hook of stack.asana.webhookList())
      assert.ok(
        hook.filters.some((f) => f.fields?.includes('tags')),
        JSON.stringify(hook.filters),
      );
    // and back: the five columns' filters again
    assert.match((await ensure()).stdout, /updated the filters/);
    for (const hook of stack.asana.webhookList()) assert.deepEqual(hook.filters, configuredFilters(undefined));
  });

  it('re-creates the webhook of a project whose webhook Asana dropped, and leaves the other alone', async () => {
    const [dropped, kept] = ['project', 'second'].map((which) =>
      stack.asana.webhookList().find((h) => h.resource === (which === 'project' ? stack.project.gid : second.gid)),
    );
    stack.asana.dropWebhook(dropped!.gid);
    const run = await ensure();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^Project ${stack.project.gid}: no active webhook of ours; created webhook`, 'm'));
    assert.match(run.stdout, new RegExp(`^Project ${second.gid}: webhook ${kept!.gid} active`, 'm'));
    const now = stack.asana.webhookList();
    assert.equal(now.length, 2);
    assert.ok(now.some((h) => h.gid === kept!.gid));
    assert.ok(!now.some((h) => h.gid === dropped!.gid));
  });

  it('says what is missing, with exit code 2: the public URL, or any project', async () => {
    const noUrl = await ensure({ PUBLIC_URL: '' });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /--public-url <url>, or set PUBLIC_URL/);
    const noProject = await ensure({ ASANA_PROJECT_GIDS: '' });
    assert.equal(noProject.code, 2);
    assert.match(noProject.stderr, /ASANA_PROJECT_GIDS is empty/);
  });
});
