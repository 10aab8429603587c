/** The webhook CLI against the Asana emulator, as an operator runs it (a real process, real exit codes). */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import axios from 'axios';
import { signDelivery } from '../emulators/asana';
import { SecretStore, tokenOf } from '../asana/webhook-secrets';
import { runEntry } from './support/processes';
import { eventually, startStack, type Stack } from './support/stack';

/** What a broken or hostile Asana does with a request: answers it with crafted JSON, or passes it to the emulator, maybe losing the emulator's answer. */
type Conduct = { status: number; body: unknown } | 'forward' | 'lose';

interface HostileAsana {
  /** For ASANA_BASE_URL. */
  baseUrl: string;
  /** Every request it got, as "METHOD /path". */
  seen: string[];
  close(): Promise<void>;
}

/** A node:http server at ASANA_BASE_URL that answers as `conduct` says, in front of the emulator at `upstream`. */
async function hostileAsana(upstream: string, conduct: (request: string) => Conduct): Promise<HostileAsana> {
  const seen: string[] = [];
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = `${req.method} ${new URL(req.url ?? '/', 'http://asana').pathname}`;
    seen.push(request);
    const how = conduct(request);
    if (how === 'forward' || how === 'lose') {
      const forwarded = await fetch(`${upstream}${req.url}`, {
        method: req.method,
        headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const body = await forwarded.text();
      if (how === 'lose') {
        req.socket.destroy();
        return;
      }
      res.writeHead(forwarded.status, { 'content-type': 'application/json' }).end(body);
      return;
    }
    res.writeHead(how.status, { 'content-type': 'application/json' }).end(JSON.stringify(how.body));
  };
  const server = http.createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/1.0`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const data = (value: unknown): Conduct => ({ status: 200, body: { data: value, next_page: null } });
/** A hostile Asana says yes to whatever else it is sent. */
const OK = data({});
/** A C0 or C1 control character or DEL, other than a line break. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/; // eslint-disable-line no-control-regex -- what reaches a terminal must have none
/** What any Asana editor can name a project: retitle the window, erase the line, overwrite it. */
const HOSTILE_TEXT = '\x1b]0;pwned\x07\x1b[2K\rOverwritten\x9b2J\x07';

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
      [['webhooks', 'delete', '123'], { PUBLIC_URL: '' }, /--public-url <url>, or set PUBLIC_URL/],
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

  describe("against a broken or hostile Asana: the CLI trusts none of Asana's answers", () => {
    let hostile: HostileAsana | undefined;
    let live: { gid: string; target: string; token: string };
    /** Targets that carry the live webhook's token but are not ours: another host, scheme, port or path. */
    let foreignTargets: string[];
    const hookAt = (gid: string, target: string, extra: Record<string, unknown> = {}) => ({
      gid,
      resource: { gid: stack.project.gid, name: 'Campaigns' },
      target,
      active: true,
      last_failure_content: '',
      ...extra,
    });
    const against = async (conduct: (request: string) => Conduct, args: string[]) => {
      hostile = await hostileAsana(stack.asana.url, conduct);
      return cli(args, { ASANA_BASE_URL: hostile.baseUrl });
    };

    before(async () => {
      const hook = await stack.registerWebhook();
      live = { ...hook, token: tokenOf(hook.target)! };
      const ours = new URL(stack.webhook.url);
      const tail = `/webhooks/asana/${stack.project.gid}/${live.token}`;
      foreignTargets = [
        `https://attacker.example${tail}`,
        `https://${ours.host}${tail}`,
        `http://${ours.hostname}:${Number(ours.port) + 1}${tail}`,
        `${stack.webhook.url}/elsewhere${tail}`,
      ];
    });
    afterEach(() => hostile?.close());

    it('deletes only the webhook named: an answer naming another gid (or a path) sends nothing and forgets nothing', async () => {
      for (const gid of ['../tasks/777', '222']) {
        const run = await against(
          (r) => (r === 'GET /api/1.0/webhooks/111' ? data(hookAt(gid, foreignTargets[0])) : OK),
          ['webhooks', 'delete', '111'],
        );
        assert.equal(run.code, 1, run.stderr);
        assert.match(run.stderr, gid === '222' ? /webhook 222 .*not one the command named; nothing was deleted/ : /not a gid/);
        assert.deepEqual(hostile!.seen, ['GET /api/1.0/webhooks/111']);
        assert.ok(await secrets.get(live.token), "the live webhook's secret is kept");
        await hostile!.close();
      }
    });

    it('deletes by project only webhooks of that project', async () => {
      const other = hookAt('333', foreignTargets[0], { resource: { gid: '444' } });
      const run = await against(
        (r) => (r === 'GET /api/1.0/webhooks' ? data([other]) : OK),
        ['webhooks', 'delete', '--project', stack.project.gid],
      );
      assert.equal(run.code, 1, run.stderr);
      assert.deepEqual(hostile!.seen, ['GET /api/1.0/webhooks']);
    });

    it("never forgets the secret of a webhook on a URL that is not ours, though it carries our live webhook's token", async () => {
      for (const target of foreignTargets) {
        const run = await against(
          (r) => (r === 'GET /api/1.0/webhooks/111' ? data(hookAt('111', target)) : OK),
          ['webhooks', 'delete', '111'],
        );
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /Deleted webhook 111 .*no secret was forgotten/);
        assert.deepEqual(hostile!.seen, ['GET /api/1.0/webhooks/111', 'DELETE /api/1.0/webhooks/111'], target);
        assert.ok(await secrets.get(live.token), `the live webhook's secret is kept (${target})`);
        await hostile!.close();
      }
    });

    it('creates: an answer naming a path instead of a webhook gid sends nothing there', async () => {
      const before = await secrets.list();
      const run = await against(
        (r) =>
          r === 'POST /api/1.0/webhooks' ? { status: 201, body: { data: { gid: '../tasks/777' }, 'X-Hook-Secret': 'x'.repeat(40) } } : OK,
        ['webhooks', 'create', '--project', stack.project.gid],
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /not a gid/);
      assert.deepEqual(hostile!.seen, ['POST /api/1.0/webhooks']);
      assert.deepEqual(await secrets.list(), before);
      assert.deepEqual(await readdir(path.join(stack.config.dataDir, 'webhook-registrations')), []);
    });

    it("lists a webhook on a foreign URL as secret none, and prints Asana's names and messages without control characters", async () => {
      const listed = [
        hookAt(live.gid, live.target, { resource: { gid: stack.project.gid, name: `${HOSTILE_TEXT}\n999  forged  stored` } }),
        ...foreignTargets.map((target, i) => hookAt(`${900 + i}`, target, { last_failure_content: HOSTILE_TEXT })),
      ];
      const table = await against((r) => (r === 'GET /api/1.0/webhooks' ? data(listed) : OK), ['webhooks', 'list']);
      assert.equal(table.code, 0, table.stderr);
      assert.doesNotMatch(table.stdout, CONTROL);
      const rows = table.stdout.trim().split('\n').slice(2);
      assert.equal(rows.length, listed.length, table.stdout);
      assert.deepEqual(
        rows.map((row) => /\s(stored|none)\s/.exec(row)?.[1]),
        ['stored', ...foreignTargets.map(() => 'none')],
      );
      assert.match(rows[0], /Overwritten 999 {2}forged {2}stored/, 'the name shows, on its own row');
      await hostile!.close();

      const json = await against((r) => (r === 'GET /api/1.0/webhooks' ? data(listed) : OK), ['webhooks', 'list', '--json']);
      assert.equal(json.code, 0, json.stderr);
      assert.doesNotMatch(json.stdout, CONTROL);
      const parsed = JSON.parse(json.stdout) as { secret: string; resource: { name: string }; last_failure_content: string }[];
      assert.deepEqual(
        parsed.map((h) => h.secret),
        ['stored', ...foreignTargets.map(() => 'none')],
      );
      assert.equal(parsed[0].resource.name, listed[0].resource.name, 'JSON escapes the text, whole');
      assert.equal(parsed[1].last_failure_content, HOSTILE_TEXT);
      await hostile!.close();

      const refused = await against(() => ({ status: 400, body: { errors: [{ message: HOSTILE_TEXT }] } }), ['webhooks', 'delete', '222']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /Asana answered 400: +Overwritten/);
      assert.doesNotMatch(refused.stderr, CONTROL);
    });

    it("reports the webhook a create made when Asana's answer is lost after the handshake, instead of inviting a duplicate", async () => {
      const before = new Set(hooks().map((h) => h.gid));
      const run = await against(
        (r) => (r === 'POST /api/1.0/webhooks' ? 'lose' : 'forward'),
        ['webhooks', 'create', '--project', stack.project.gid],
      );
      assert.equal(run.code, 0, run.stderr);
      const created = hooks().filter((h) => !before.has(h.gid));
      assert.equal(created.length, 1);
      assert.match(run.stdout, new RegExp(`^Created webhook ${created[0].gid} for project ${stack.project.gid} .*answer was lost`));
      assert.equal((await secrets.get(tokenOf(created[0].target)!))?.secret, created[0].secret);
      assert.deepEqual(hostile!.seen, ['POST /api/1.0/webhooks', `GET /api/1.0/projects/${stack.project.gid}`, 'GET /api/1.0/webhooks']);
      assert.deepEqual(await readdir(path.join(stack.config.dataDir, 'webhook-registrations')), []);
    });

    it('forgets the secret when the answer is lost and Asana lists no webhook on its URL', async () => {
      const before = await secrets.list();
      const run = await against(
        (r) => (r === 'POST /api/1.0/webhooks' ? 'lose' : r === 'GET /api/1.0/webhooks' ? data([]) : 'forward'),
        ['webhooks', 'create', '--project', stack.project.gid],
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /Asana unreachable: .*Asana lists no webhook on its URL, so the secret is forgotten/);
      assert.deepEqual(await secrets.list(), before);
      for (const hook of hooks().filter((h) => h.gid !== live.gid)) stack.asana.dropWebhook(hook.gid);
    });
  });
});
