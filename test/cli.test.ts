/** Issue 3: the webhook CLI against the Asana sandbox, as an operator runs it (a real process, real exit codes). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runEntry } from './support/processes';
import { startStack, type Stack } from './support/stack';

describe('cli: webhooks create | list | delete', function () {
  this.timeout(60_000);
  let stack: Stack;
  let env: Record<string, string>;

  before(async () => {
    stack = await startStack();
    env = {
      ASANA_ACCESS_TOKEN: stack.asana.token,
      ASANA_BASE_URL: stack.asana.baseUrl,
      ASANA_WORKSPACE_GID: stack.asana.workspaceGid,
      PUBLIC_URL: stack.webhook.url,
      DATA_DIR: stack.config.dataDir,
    };
  });
  after(() => stack.stop());

  const cli = (args: string[], extraEnv: Record<string, string> = {}) => runEntry('cli/main.ts', args, { ...env, ...extraEnv });
  const secretFile = () => path.join(stack.config.dataDir, 'webhook-secrets', stack.project.gid);

  it('creates a webhook: the handshake runs and the secret is stored', async () => {
    const run = await cli(['webhooks', 'create', '--project', stack.project.gid]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Created webhook \d+ for project \d+ .*handshake completed/);
    assert.match(run.stderr, /Asana refuses localhost targets/);
    const [hook] = [...stack.asana.webhooks.values()];
    assert.equal(hook.target, `${stack.webhook.url}/webhooks/asana/${stack.project.gid}`);
    assert.deepEqual(hook.filters.map((f) => f.action), ['added', 'changed', 'removed', 'deleted', 'undeleted']);
    assert.equal((await readFile(secretFile(), 'utf8')).trim(), hook.secret);
    assert.equal(stack.webhook.counts.handshake, 1);
  });

  it('reports Asana\'s own refusal with exit code 1', async () => {
    const run = await cli(['webhooks', 'create', '--project', stack.project.gid]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Duplicated webhook/);
    const unreachable = await cli(['webhooks', 'create', '--project', stack.project.gid, '--target', 'http://127.0.0.1:9/webhooks/asana/x']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Could not complete activation handshake/);
  });

  it('rotates: a second registration may replace the secret through the CLI only', async () => {
    const before = (await readFile(secretFile(), 'utf8')).trim();
    const run = await cli(['webhooks', 'create', '--project', stack.project.gid, '--target', `${stack.webhook.url}/webhooks/asana/${stack.project.gid}?v=2`, '--filter', 'task:added']);
    assert.equal(run.code, 0, run.stderr);
    const after = (await readFile(secretFile(), 'utf8')).trim();
    assert.notEqual(after, before);
    assert.equal(stack.webhook.counts.handshake_refused, 0);
  });

  it('lists webhooks as a table and as JSON', async () => {
    const table = await cli(['webhooks', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^gid\s+resource\s+target\s+active\s+last_success_at\s+last_failure_at\s+last_failure_content/);
    assert.equal(table.stdout.trim().split('\n').length, 4, table.stdout);
    const json = await cli(['webhooks', 'list', '--project', stack.project.gid, '--json']);
    const hooks = JSON.parse(json.stdout) as { gid: string; active: boolean }[];
    assert.equal(hooks.length, 2);
    assert.ok(hooks.every((h) => h.active));
  });

  it('deletes by gid and by project, forgetting the secret', async () => {
    const [first] = [...stack.asana.webhooks.keys()];
    const one = await cli(['webhooks', 'delete', first]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(stack.asana.webhooks.has(first), false);
    assert.equal(existsSync(secretFile()), false);
    const all = await cli(['webhooks', 'delete', '--project', stack.project.gid]);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(stack.asana.webhooks.size, 0);
    const missing = await cli(['webhooks', 'delete', '123456']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Unknown object/);
  });

  it('exits 2 with a message that says what to do on bad usage or config', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['webhooks', 'create'], {}, /--project <gid> is required/],
      [['webhooks', 'create', '--project', 'abc'], {}, /must be a numeric Asana gid/],
      [['webhooks', 'create', '--project', '1', '--filter', 'a:b:c'], {}, /--filter takes resource_type\[:action\]/],
      [['webhooks', 'create', '--project', '1', '--bogus'], {}, /Unknown option/],
      [['webhooks', 'create', '--project', '1'], { PUBLIC_URL: '' }, /set PUBLIC_URL/],
      [['webhooks', 'list'], { ASANA_WORKSPACE_GID: '' }, /set ASANA_WORKSPACE_GID/],
      [['webhooks', 'delete'], {}, /either a webhook gid or --project/],
      [['webhooks', 'list'], { ASANA_ACCESS_TOKEN: '' }, /ASANA_ACCESS_TOKEN is required/],
      [['nonsense'], {}, /unknown command/],
    ];
    for (const [args, extraEnv, message] of cases) {
      const run = await cli(args, extraEnv);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.ok(!run.stderr.includes(stack.asana.token), 'no token in messages');
    }
  });
});
