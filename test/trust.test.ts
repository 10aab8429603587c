/** Only Asana can talk to the webhook: strangers register nothing, inject nothing, hijack no rotation. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';
import pino from 'pino';
import { signDelivery } from '../emulators/asana';
import { createWebhookApp } from '../webhook/app';
import { WebhookMetrics } from '../webhook/metrics';
import { SecretStore, tokenOf, webhookUrl } from '../asana/webhook-secrets';
import type { SyncTaskResult } from '../workflows';
import { taskWorkflowId } from '../client';
import { taskEvent } from './support/deliveries';
import { eventually, startStack, type Stack } from './support/stack';

describe('trust: only Asana can talk to the webhook', function () {
  this.timeout(120_000);
  let stack: Stack;
  let hook: { gid: string; target: string };
  let secrets: SecretStore;

  before(async () => {
    stack = await startStack();
    secrets = new SecretStore(stack.config.dataDir);
    hook = await stack.registerWebhook();
  });
  after(() => stack.stop());

  const handshake = (url: string, secret = randomBytes(32).toString('hex')) =>
    axios.post(url, '', { headers: { 'x-hook-secret': secret }, validateStatus: () => true });
  const deliver = (url: string, secret: string, events: unknown[] = []) => {
    const body = JSON.stringify({ events });
    return axios.post(url, body, {
      headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) },
      validateStatus: () => true,
      transformRequest: (d: unknown) => d,
    });
  };
  const stateOnDisk = async () => {
    const list = (dir: string) => readdir(path.join(stack.config.dataDir, dir)).catch(() => []);
    return { secrets: await list('webhook-secrets'), registrations: await list('webhook-registrations') };
  };
  const randomToken = () => randomBytes(32).toString('hex');

  it('refuses a handshake on any URL the CLI did not open, and a flood of them leaves nothing on disk', async () => {
    const before = await stateOnDisk();
    const other = stack.asana.addProject('Not synced');
    const base = stack.webhook.url;
    const cases: [string, string][] = [
      ['a project URL of the form before tokens', `${base}/webhooks/asana/${stack.project.gid}`],
      ['a project that is not synced, in the form before tokens', `${base}/webhooks/asana/999`],
      ['a guessed token for the synced project', webhookUrl(base, stack.project.gid, randomToken())],
      ['a guessed token for a project that is not synced', webhookUrl(base, other.gid, randomToken())],
      ["the synced project's registered token under another project", webhookUrl(base, other.gid, tokenOf(hook.target)!)],
    ];
    for (const [name, url] of cases) assert.equal((await handshake(url)).status, 404, name);

    const flood: Promise<number>[] = [];
    for (let i = 0; i < 3000; i += 1) {
      const gid = String(1_000_000 + i);
      const url = i % 2 ? webhookUrl(base, gid, randomToken()) : webhookUrl(base, stack.project.gid, randomToken());
      flood.push(handshake(url).then((r) => r.status));
      if (flood.length % 100 === 0) await Promise.all(flood.slice(-100));
    }
    const statuses = new Set(await Promise.all(flood));
    assert.deepEqual([...statuses], [404]);
    assert.deepEqual(await stateOnDisk(), before);
  });

  it('writes no row for a task Asana says is in no synced project, and the run says why', async () => {
    const other = stack.asana.addProject('Private');
    const task = stack.asana.createTask(other.gid, { name: 'CONFIDENTIAL salary review', notes: 'private notes of project 2' });
    const event = taskEvent(task.gid, { parent: { gid: stack.project.gid, resource_type: 'project' } });
    assert.equal(await stack.asana.deliver(hook.gid, [event]), 200, 'a validly signed delivery is taken');
    const handle = stack.client.workflow.getHandle(taskWorkflowId(task.gid));
    const result = (await eventually(() => handle.result())) as SyncTaskResult;
    assert.equal(result.status, 'skipped');
    assert.match(result.reason ?? '', /none of the synced projects/);
    assert.ok(!stack.rows().some((r) => r['Task ID'] === task.gid));
  });

  it('writes nothing from an answer about another task than the one asked for, and the run says so', async () => {
    const asked = stack.asana.createTask(stack.project.gid, { name: 'Asked for' });
    const other = stack.asana.createTask(stack.project.gid, { name: 'Real name' });
    const forged = {
      data: {
        gid: other.gid,
        name: 'Forged by the answer',
        modified_at: new Date().toISOString(),
        memberships: [{ project: { gid: stack.project.gid } }],
      },
    };
    stack.asana.inject({ match: new RegExp(`^GET /api/1.0/tasks/${asked.gid}$`), status: 200, body: forged });
    try {
      assert.equal(await stack.asana.deliver(hook.gid, [taskEvent(asked.gid)]), 200);
      const handle = stack.client.workflow.getHandle(taskWorkflowId(asked.gid));
      await eventually(async () => assert.equal((await handle.describe()).status.name, 'FAILED'));
      await assert.rejects(handle.result(), (err: Error) => /about another task/.test(String((err.cause as Error | undefined)?.message)));
    } finally {
      stack.asana.clearFaults();
    }
    assert.ok(!stack.rows().some((r) => r.Name === 'Forged by the answer'));
    assert.ok(!stack.rows().some((r) => r['Task ID'] === asked.gid));
  });

  it("cannot hijack a registration: handshakes polled during `webhooks create` are refused, and the stored secret is Asana's", async () => {
    const guessed = [`${stack.webhook.url}/webhooks/asana/${stack.project.gid}`, hook.target];
    let polling = true;
    const attacker = (async () => {
      const statuses = new Set<number>();
      while (polling) {
        for (const url of [...guessed, webhookUrl(stack.webhook.url, stack.project.gid, randomToken())])
          statuses.add((await handshake(url)).status);
      }
      return statuses;
    })();
    const rotated = await stack.registerWebhook();
    polling = false;
    assert.deepEqual([...(await attacker)].sort(), [404, 409]);
    assert.equal((await secrets.get(tokenOf(rotated.target)!))?.secret, stack.asana.webhook(rotated.gid)!.secret);
    // both webhooks verify their own deliveries
    assert.equal((await deliver(hook.target, stack.asana.webhook(hook.gid)!.secret)).status, 200);
    assert.equal((await deliver(rotated.target, stack.asana.webhook(rotated.gid)!.secret)).status, 200);
    // and the registration's URL takes no second handshake
    assert.equal((await handshake(rotated.target)).status, 409);
  });

  it('accepts exactly one of simultaneous handshakes on a registration URL', async () => {
    const url = webhookUrl(stack.webhook.url, stack.project.gid, await secrets.openRegistration(stack.project.gid, 60_000));
    const offered = Array.from({ length: 8 }, () => randomBytes(32).toString('hex'));
    const answers = await Promise.all(offered.map((secret) => handshake(url, secret)));
    const accepted = answers.filter((a) => a.status === 200);
    assert.equal(accepted.length, 1, answers.map((a) => a.status).join());
    assert.ok(answers.every((a) => a.status === 200 || a.status === 409));
    assert.equal((await secrets.get(tokenOf(url)!))?.secret, accepted[0].headers['x-hook-secret']);
    await secrets.delete(tokenOf(url)!);
  });

  it('takes an empty secret file for no secret: a delivery signed with an empty key is refused', async () => {
    const token = randomToken();
    await writeFile(path.join(stack.config.dataDir, 'webhook-secrets', token), '', { mode: 0o600 });
    const url = webhookUrl(stack.webhook.url, stack.project.gid, token);
    assert.equal((await deliver(url, '')).status, 404);
    await writeFile(
      path.join(stack.config.dataDir, 'webhook-secrets', token),
      JSON.stringify({ projectGid: stack.project.gid, secret: '' }),
    );
    assert.equal((await deliver(url, '')).status, 404);
    await secrets.delete(token);
  });

  it('answers every malformed path and header with a 4xx', async () => {
    const raw = (rawPath: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${stack.webhook.url}/`,
          { method: 'POST', path: rawPath, headers: { 'content-type': 'application/json', ...headers } },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on('error', reject);
        req.end('{"events":[]}');
      });
    const token = tokenOf(hook.target)!;
    const paths = [
      '/webhooks/asana/%E0%A4%A',
      '/webhooks/asana/%',
      `/webhooks/asana/${stack.project.gid}/%`,
      `/webhooks/asana/${stack.project.gid}/${token}%`,
      '/%',
      '/healthz%',
      `/webhooks/asana/%31${stack.project.gid.slice(1)}/${token}`,
    ];
    for (const p of paths) {
      const status = await raw(p);
      assert.ok(status >= 400 && status < 500, `${p} → ${status}`);
    }
    const headerCases: Record<string, string>[] = [
      { 'x-hook-secret': 'short' },
      { 'x-hook-secret': 'é'.repeat(20) },
      { 'x-hook-signature': 'zz' },
      { 'content-length': 'abc' },
      { 'x-request-id': 'x'.repeat(5000) },
    ];
    for (const headers of headerCases) {
      const status = await raw(new URL(hook.target).pathname, headers);
      assert.ok(status >= 400 && status < 500, `${JSON.stringify(headers).slice(0, 60)} → ${status}`);
    }
  });
});

describe('trust: the webhook app on a DATA_DIR of its own', () => {
  let dir: string;
  let lines: string[];
  let secrets: SecretStore;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'trust-app-'));
    lines = [];
    secrets = new SecretStore(dir);
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const app = createWebhookApp({
      secrets,
      projects: new Set(['123']),
      log,
      metrics: new WebhookMetrics(),
      accepting: () => true,
      enqueue: () => undefined,
    });
    server = app.listen(0);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs neither a webhook token nor a secret, for a handshake or a delivery', async () => {
    const token = await secrets.openRegistration('123', 60_000);
    const secret = randomBytes(32).toString('hex');
    const url = webhookUrl(base, '123', token);
    assert.equal((await axios.post(url, '', { headers: { 'x-hook-secret': secret } })).status, 200);
    const body = JSON.stringify({ events: [{ action: 'added', resource: { gid: '42', resource_type: 'task' } }] });
    assert.equal(
      (await axios.post(url, body, { headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) } }))
        .status,
      200,
    );
    assert.ok(
      lines.some((l) => l.includes('/webhooks/asana/123/<token>')),
      lines.join(''),
    );
    for (const line of lines) {
      assert.ok(!line.includes(token), `token in ${line}`);
      assert.ok(!line.includes(secret), `secret in ${line}`);
    }
  });

  it('answers 503, and logs why, when the secrets under DATA_DIR cannot be read', async () => {
    await writeFile(path.join(dir, 'webhook-secrets'), 'a file where the folder should be');
    const response = await axios.post(webhookUrl(base, '123', 'a'.repeat(64)), '{"events":[]}', {
      headers: { 'content-type': 'application/json' },
      validateStatus: () => true,
    });
    assert.equal(response.status, 503);
    assert.ok(
      lines.some((l) => l.includes('cannot read or write the webhook secrets') && l.includes('ENOTDIR')),
      lines.join(''),
    );
  });
});
