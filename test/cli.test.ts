/** The webhook CLI against the Asana emulator, as an operator runs it (a real process, real exit codes). */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import axios from 'axios';
import { signDelivery } from '../sandbox/asana';
import { SecretStore, tokenOf } from '../lib/webhook-secrets';
import { runEntry } from './support/processes';
import { eventually, startStack, type Stack } from './support/stack';

describe('cli: webhooks create | list | delete', function () {
  this.timeout(60_000);
  let stack: Stack;
  let env: Record<string, string>;
  let secrets: SecretStore;

  before(async () => {
    stack = await startStack();
    secrets = new SecretStore(stack.config.dataDir);
    env = {
      ASANA_ACCESS_TOKEN: stack.asana.token,
      ASANA_BASE_URL: stack.asana.baseUrl,
      ASANA_WORKSPACE_GID: stack.asana.workspaceGid,
      ASANA_PROJECT_GIDS: stack.project.gid,
      PUBLIC_URL: stack.webhook.url,
      DATA_DIR: stack.config.dataDir,
    };
  });
  after(() => stack.stop());

  const cli = (args: string[], extraEnv: Record<string, string> = {}) => runEntry('cli/main.ts', args, { ...env, ...extraEnv });
  const hooks = () => stack.asana.webhookList();
  const deliveriesTo = (gid: string) => stack.asana.deliveries.filter((d) => d.webhookGid === gid);

  it('creates a webhook on a URL of its own: the handshake runs and the secret is stored with the webhook it belongs to', async () => {
    const run = await cli(['webhooks', 'create', '--project', stack.project.gid]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Created webhook \d+ for project \d+ .*handshake completed/);
    assert.match(run.stderr, /Asana refuses localhost targets/);
    const [hook] = hooks();
    assert.match(hook.target, new RegExp(`^${stack.webhook.url}/webhooks/asana/${stack.project.gid}/[0-9a-f]{64}$`));
    assert.deepEqual(
      hook.filters.map((f) => f.action),
      ['added', 'changed', 'removed', 'deleted', 'undeleted'],
    );
    assert.deepEqual(await secrets.get(tokenOf(hook.target)!), {
      token: tokenOf(hook.target),
      projectGid: stack.project.gid,
      secret: hook.secret,
    });
    assert.equal(stack.webhook.counts.handshake, 1);
  });

  it("reports Asana's refusal with exit code 1 and leaves no registration or secret behind", async () => {
    const before = await readdir(path.join(stack.config.dataDir, 'webhook-secrets'));
    const unreachable = await cli(['webhooks', 'create', '--project', stack.project.gid, '--public-url', 'http://127.0.0.1:9']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /Could not complete activation handshake/);
    assert.deepEqual(await readdir(path.join(stack.config.dataDir, 'webhook-secrets')), before);
    assert.deepEqual(await readdir(path.join(stack.config.dataDir, 'webhook-registrations')), []);
  });

  it('rotates without losing a delivery: a second webhook, then the first deleted, each delivery of either taken', async () => {
    const [first] = hooks();
    const run = await cli(['webhooks', 'create', '--project', stack.project.gid, '--filter', 'task:added']);
    assert.equal(run.code, 0, run.stderr);
    const second = hooks().find((h) => h.gid !== first.gid)!;
    assert.notEqual(tokenOf(second.target), tokenOf(first.target));
    assert.equal(stack.webhook.counts.handshake_refused, 0);

    const during = stack.asana.createTask(stack.project.gid, { name: 'During the rotation' });
    await eventually(() =>
      assert.ok(
        deliveriesTo(first.gid).some((d) => d.resources.includes(during.gid)) &&
          deliveriesTo(second.gid).some((d) => d.resources.includes(during.gid)),
      ),
    );
    const removed = await cli(['webhooks', 'delete', first.gid]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await secrets.get(tokenOf(first.target)!), undefined);
    const after = stack.asana.createTask(stack.project.gid, { name: 'After the rotation' });
    await eventually(() =>
      assert.ok(stack.rows().some((r) => r['Task ID'] === after.gid) && stack.rows().some((r) => r['Task ID'] === during.gid)),
    );
    const refused = stack.asana.deliveries.filter((d) => d.status !== 200);
    assert.deepEqual(refused, [], 'every delivery of both webhooks was taken');

    // the deleted webhook's secret verifies nothing any more, in the running webhook
    const body = JSON.stringify({ events: [] });
    const late = await axios.post(first.target, body, {
      headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(first.secret, body) },
      validateStatus: () => true,
    });
    assert.equal(late.status, 404);
  });

  it('lists webhooks as a table and as JSON, with whether their secret is stored', async () => {
    const table = await cli(['webhooks', 'list']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^gid\s+resource\s+target\s+active\s+secret\s+last_success_at\s+last_failure_at\s+last_failure_content/);
    assert.equal(table.stdout.trim().split('\n').length, 3, table.stdout);
    assert.match(table.stdout, /\strue\s+stored\s/);
    const json = await cli(['webhooks', 'list', '--project', stack.project.gid, '--json']);
    const listed = JSON.parse(json.stdout) as { gid: string; active: boolean; secret: string }[];
    assert.deepEqual(
      listed.map((h) => h.secret),
      ['stored'],
    );
  });

  it('deletes by gid and by project, forgetting the secrets', async () => {
    assert.equal((await cli(['webhooks', 'create', '--project', stack.project.gid])).code, 0);
    const [one, two] = hooks();
    const byGid = await cli(['webhooks', 'delete', one.gid]);
    assert.equal(byGid.code, 0, byGid.stderr);
    assert.equal(stack.asana.webhook(one.gid), undefined);
    assert.equal(await secrets.get(tokenOf(one.target)!), undefined);
    assert.ok(await secrets.get(tokenOf(two.target)!), 'the other webhook keeps its secret');
    const all = await cli(['webhooks', 'delete', '--project', stack.project.gid]);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(stack.asana.webhookList(), []);
    assert.deepEqual(await secrets.list(), []);
    const missing = await cli(['webhooks', 'delete', '123456']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Unknown object/);
  });

  it('exits 2 with a message that says what to do on bad usage or config', async () => {
    const project = stack.project.gid;
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['webhooks', 'create'], {}, /--project <gid> is required/],
      [['webhooks', 'create', '--project', 'abc'], {}, /must be a numeric Asana gid/],
      [['webhooks', 'create', '--project', '1'], {}, /project 1 is not in ASANA_PROJECT_GIDS/],
      [['webhooks', 'create', '--project', project, '--filter', 'a:b:c'], {}, /--filter takes resource_type\[:action\]/],
      [['webhooks', 'create', '--project', project, '--bogus'], {}, /Unknown option/],
      [['webhooks', 'create', '--project', project], { PUBLIC_URL: '' }, /--public-url <url>, or set PUBLIC_URL/],
      [['webhooks', 'create', '--project', project, '--public-url', 'nope'], {}, /--public-url must be a URL/],
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
