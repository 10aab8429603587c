/**
 * A webhook secret lives exactly as long as its webhook: the secret of a webhook Asana
 * dropped stops verifying, a handshake someone else answered is never accepted, and the health
 * check replaces an inactive webhook instead of piling up new ones, within a daily cap.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import axios from 'axios';
import { signDelivery } from '../emulators/asana';
import { createWebhookHealthActivities, type WebhookHealthActivities } from '../activities/webhook-health';
import { WEBHOOK_COMMANDS } from '../cli/webhooks';
import { configuredFilters } from '../asana/webhooks';
import { SecretStore, tokenOf } from '../asana/webhook-secrets';
import { runEntry } from './support/processes';
import { startStack, type Stack } from './support/stack';

/** Short enough to wait out in a test; the service's own is minutes. */
const GRACE_MS = 500;

/** An Asana in front of the emulator that lets `beforeCreate` act on a create's target (answer its handshake first), then forwards, maybe rewriting the answer. */
async function asanaWithEavesdropper(
  upstream: string,
  conduct: {
    beforeCreate?: (target: string) => Promise<void>;
    rewriteCreated?: (body: Record<string, unknown>) => Record<string, unknown>;
  },
) {
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
    const create = req.method === 'POST' && new URL(req.url ?? '/', 'http://asana').pathname === '/api/1.0/webhooks';
    if (create && body) await conduct.beforeCreate?.((JSON.parse(body.toString()) as { data: { target: string } }).data.target);
    const forwarded = await fetch(`${upstream}${req.url}`, {
      method: req.method,
      headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
      body,
    });
    const text = await forwarded.text();
    const rewrite = create && forwarded.status === 201 ? conduct.rewriteCreated : undefined;
    res
      .writeHead(forwarded.status, { 'content-type': 'application/json' })
      .end(rewrite ? JSON.stringify(rewrite(JSON.parse(text) as Record<string, unknown>)) : text);
  };
  const server = http.createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/1.0`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('secret lifecycle: a webhook secret lives exactly as long as its webhook', function () {
  this.timeout(60_000);
  let stack: Stack;
  /** A project per test, so one test's webhooks, secrets and repairs never meet another's. */
  const projects = { ensured: '', deleted: '', intruded: '', inactive: '', capped: '' };
  let secrets: SecretStore;

  before(async () => {
    const env: Record<string, string> = {};
    stack = await startStack({
      env,
      setUp: (asana, project) => {
        projects.ensured = project.gid;
        for (const name of ['deleted', 'intruded', 'inactive', 'capped'] as const) projects[name] = asana.addProject(name).gid;
        env.ASANA_PROJECT_GIDS = Object.values(projects).join(',');
      },
    });
    secrets = new SecretStore(stack.config.dataDir, { graceMs: GRACE_MS });
  });
  after(() => stack.stop());

  const cliEnv = (asanaBaseUrl = stack.asana.baseUrl) => ({
    ASANA_ACCESS_TOKEN: stack.asana.token,
    ASANA_BASE_URL: asanaBaseUrl,
    ASANA_WORKSPACE_GID: stack.asana.workspaceGid,
    ASANA_PROJECT_GIDS: stack.config.asana.projectGids.join(','),
    PUBLIC_URL: stack.webhook.url,
    DATA_DIR: stack.config.dataDir,
  });
  const deliver = (target: string, secret: string) => {
    const body = JSON.stringify({ events: [] });
    return axios.post(target, body, {
      headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
      validateStatus: () => true,
    });
  };
  const webhooksOf = (projectGid: string) => stack.asana.webhookList().filter((h) => h.resource === projectGid);
  const secretsOf = async (projectGid: string) => (await secrets.list()).filter((s) => s.projectGid === projectGid);
  /** The health check's activity as the webhook process runs it, on this test's store (its short grace). */
  const healthCheck = (projectGid: string): WebhookHealthActivities =>
    createWebhookHealthActivities({
      keeper: {
        api: stack.services.asana,
        secrets,
        publicUrl: stack.webhook.url,
        workspaceGid: stack.asana.workspaceGid,
      },
      projectGids: [projectGid],
      filters: configuredFilters(undefined),
      observe: () => undefined,
    });

  it('refuses the secret of a webhook Asana dropped once `webhooks ensure` has registered its successor and the grace is over', async () => {
    const dropped = await stack.registerWebhook(projects.ensured);
    const droppedSecret = stack.asana.webhook(dropped.gid)!.secret;
    stack.asana.dropWebhook(dropped.gid);
    const lines: string[] = [];
    const config = { ...stack.config, asana: { ...stack.config.asana, projectGids: [projects.ensured] } };
    const output = { out: (line: string) => lines.push(line), err: () => undefined };
    await WEBHOOK_COMMANDS.ensure({ config, api: stack.services.asana, secrets, output }, ['--public-url', stack.webhook.url]);
    assert.equal((await deliver(dropped.target, droppedSecret)).status, 200, 'a delivery on its way is taken within the grace');
    await sleep(GRACE_MS);
    assert.equal((await deliver(dropped.target, droppedSecret)).status, 404);
    assert.match(lines.join('\n'), /no active webhook of ours; created webhook \d+/);
    assert.match(lines.join('\n'), /1 secret\(s\) of webhooks Asana no longer lists retired/);
    const [successor] = webhooksOf(projects.ensured);
    assert.equal((await deliver(successor.target, successor.secret)).status, 200);
    assert.deepEqual(
      (await secretsOf(projects.ensured)).map((s) => s.token),
      [tokenOf(successor.target)],
    );
  });

  it('forgets the secret of a webhook Asana no longer has on `webhooks delete <gid>`, and says so with exit code 0', async () => {
    const hook = await stack.registerWebhook(projects.deleted);
    const secret = stack.asana.webhook(hook.gid)!.secret;
    stack.asana.dropWebhook(hook.gid);
    const run = await runEntry('cli/main.ts', ['webhooks', 'delete', hook.gid], cliEnv());
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Asana no longer has webhook ${hook.gid} \\(it answered 404\\).*forgot its secret`));
    assert.equal(await secrets.get(tokenOf(hook.target)!), undefined);
    assert.equal((await deliver(hook.target, secret)).status, 404);
  });

  describe('a handshake someone else answered', () => {
    let eavesdropper: Awaited<ReturnType<typeof asanaWithEavesdropper>> | undefined;
    afterEach(() => eavesdropper?.close());

    it('is never accepted for deliveries, and the CLI reports it as an attack: the URL leaked, the secret forgotten', async () => {
      const intruderSecret = randomBytes(32).toString('hex');
      let intruderHandshake: number | undefined;
      let intruderDelivery: Promise<number> | undefined;
      eavesdropper = await asanaWithEavesdropper(stack.asana.url, {
        beforeCreate: async (target) => {
          intruderHandshake = (await axios.post(target, '', { headers: { 'x-hook-secret': intruderSecret }, validateStatus: () => true }))
            .status;
          intruderDelivery = deliver(target, intruderSecret).then((r) => r.status);
        },
      });
      const run = await runEntry('cli/main.ts', ['webhooks', 'create', '--project', projects.intruded], cliEnv(eavesdropper.baseUrl));
      assert.equal(intruderHandshake, 200, 'the intruder answered the handshake first');
      assert.equal(await intruderDelivery, 404, "the intruder's delivery was never taken");
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /someone else answered the handshake on the registration URL .*leaked/);
      assert.match(run.stderr, /Asana made no webhook; forgot the secret that handshake stored; no delivery was accepted with it/);
      assert.deepEqual(await secretsOf(projects.intruded), []);
      assert.deepEqual(webhooksOf(projects.intruded), []);
    });

    it("deletes the webhook and forgets the secret when Asana's create answer carries another secret than the handshake stored", async () => {
      eavesdropper = await asanaWithEavesdropper(stack.asana.url, {
        rewriteCreated: (body) => ({ ...body, 'X-Hook-Secret': randomBytes(32).toString('hex') }),
      });
      const run = await runEntry('cli/main.ts', ['webhooks', 'create', '--project', projects.intruded], cliEnv(eavesdropper.baseUrl));
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /someone else answered the handshake .*not the one Asana returned with webhook \d+.*Deleted webhook \d+ and forgot/,
      );
      assert.deepEqual(await secretsOf(projects.intruded), []);
      assert.deepEqual(webhooksOf(projects.intruded), []);
    });
  });

  it('replaces an inactive webhook: three health checks leave one webhook and one accepted secret', async () => {
    const inactive = await stack.registerWebhook(projects.inactive);
    const inactiveSecret = stack.asana.webhook(inactive.gid)!.secret;
    stack.asana.deactivateWebhook(inactive.gid);
    const { checkWebhooks } = healthCheck(projects.inactive);
    const actions: string[] = [];
    for (let run = 0; run < 3; run += 1) actions.push((await checkWebhooks()).projects[0].action);
    assert.deepEqual(actions, ['created', 'unchanged', 'unchanged']);
    await sleep(GRACE_MS);
    const hooks = webhooksOf(projects.inactive);
    assert.equal(hooks.length, 1);
    assert.ok(hooks[0].active && hooks[0].gid !== inactive.gid);
    assert.deepEqual(
      (await secretsOf(projects.inactive)).map((s) => s.token),
      [tokenOf(hooks[0].target)],
    );
    assert.equal((await deliver(inactive.target, inactiveSecret)).status, 404);
  });

  it('registers at most three webhooks a day for a project, then fails saying why instead of registering again', async () => {
    const { checkWebhooks } = healthCheck(projects.capped);
    for (let run = 0; run < 3; run += 1) {
      assert.equal((await checkWebhooks()).projects[0].action, 'created');
      for (const hook of webhooksOf(projects.capped)) stack.asana.dropWebhook(hook.gid);
    }
    await assert.rejects(
      checkWebhooks(),
      (err: ApplicationFailure) =>
        err.nonRetryable &&
        /no active webhook of ours, and 3 were registered for it in the last day already, so no more are/.test(err.message),
    );
    assert.deepEqual(webhooksOf(projects.capped), []);
  });
});
