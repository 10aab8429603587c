/**
 * The Asana emulator's webhooks as Asana's spec and guide describe them: filters (with `fields`)
 * keep events from being sent at all, the update request replaces them, a duplicate is refused with
 * 403, and a webhook whose deliveries fail long enough is deleted, its health fields showing it
 * on the way. Against a bare HTTP target: no service, no Temporal.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { AsanaEmulator, type AsanaEvent } from '../emulators/asana';
import { changeRule, DEFAULT_COLUMNS } from '../rows/columns';
import { webhookFilters } from '../rows/webhook-filters';
import { AsanaSpec } from './support/asana-spec';

/** A webhook target: it completes any handshake, and answers deliveries with `status`. */
async function target() {
  const received: AsanaEvent[][] = [];
  const state = { status: 200 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const secret = req.headers['x-hook-secret'];
      if (typeof secret === 'string') return void res.writeHead(200, { 'x-hook-secret': secret }).end();
      const { events } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: AsanaEvent[] };
      if (state.status === 200 && events.length > 0) received.push(events);
      res.writeHead(state.status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Asana emulator: webhooks as Asana runs them', function () {
  this.timeout(20_000);
  let asana: AsanaEmulator;
  let hook: Awaited<ReturnType<typeof target>>;
  let spec: AsanaSpec;
  const api = () =>
    axios.create({ baseURL: asana.baseUrl, headers: { authorization: `Bearer ${asana.token}` }, validateStatus: () => true });
  const create = (resource: string, url: string, filters?: unknown) =>
    api().post<{ data: { gid: string }; errors?: { message: string }[] }>('/webhooks', { data: { resource, target: url, filters } });

  before(async () => (spec = await AsanaSpec.load()));
  beforeEach(async () => {
    asana = new AsanaEmulator({ deliveryBatchMs: 5, retryBaseMs: 50, retryMaxMs: 100, failureDeletionMs: 800, maxDeliveryAttempts: 100 });
    await asana.listen();
    hook = await target();
    asana.exchanges = [];
  });
  afterEach(async () => {
    await asana.close();
    await hook.close();
  });

  it('delivers no event its filters exclude, and counts it as filtered: only name and assignee changes pass', async () => {
    const project = asana.addProject('Campaigns');
    const filters = webhookFilters(changeRule(DEFAULT_COLUMNS.filter((c) => ['Task ID', 'Name', 'Assignee'].includes(c.name))));
    assert.equal((await create(project.gid, `${hook.url}/a`, filters)).status, 201);
    const task = asana.createTask(project.gid, { name: 'Brief' }); // added (project), added (section), changed (assignee)
    await asana.drainDeliveries();
    assert.equal(asana.filteredEvents, 0);
    asana.updateTask(task.gid, { notes: 'not read by any column' });
    asana.updateTask(task.gid, { due_on: '2027-01-01' });
    asana.updateTask(task.gid, { name: 'Brief v2' });
    await asana.drainDeliveries();
    assert.equal(asana.filteredEvents, 2);
    const delivered = hook.received.flat();
    assert.deepEqual(
      delivered.filter((e) => e.action === 'changed').map((e) => e.change?.field),
      ['assignee', 'name'],
    );
    assert.equal(delivered.filter((e) => e.action === 'added').length, 2);
  });

  it('replaces the filters whole on the update request, and refuses filters the spec does not allow', async () => {
    const project = asana.addProject('Campaigns');
    const { data } = (await create(project.gid, `${hook.url}/a`, [{ resource_type: 'task', action: 'changed', fields: ['name'] }])).data;
    const task = asana.createTask(project.gid, { name: 'Brief' });
    const update = await api().put<{ data: { filters: unknown } }>(`/webhooks/${data.gid}`, {
      data: { filters: [{ resource_type: 'task', action: 'changed', fields: ['notes'] }] },
    });
    assert.equal(update.status, 200);
    assert.deepEqual(update.data.data.filters, [{ resource_type: 'task', action: 'changed', fields: ['notes'] }]);
    asana.updateTask(task.gid, { name: 'Renamed' });
    asana.updateTask(task.gid, { notes: 'Noted' });
    await asana.drainDeliveries();
    assert.deepEqual(
      hook.received.flat().map((e) => e.change?.field),
      ['notes'],
    );
    for (const filters of [
      [{ resource_type: 'task', action: 'added', fields: ['name'] }],
      [{ action: 'changed' }],
      [{ resource_type: 'task', action: 'edited' }],
    ]) {
      const refused = await api().put<{ errors: { message: string }[] }>(`/webhooks/${data.gid}`, { data: { filters } });
      assert.equal(refused.status, 400, JSON.stringify(filters));
      assert.equal((await create(project.gid, `${hook.url}/b`, filters)).status, 400, JSON.stringify(filters));
    }
    assert.equal((await api().put(`/webhooks/404404`, { data: { filters: [] } })).status, 404);
    assert.deepEqual(
      asana.webhook(data.gid)?.filters,
      [{ resource_type: 'task', action: 'changed', fields: ['notes'] }],
      'a refused update changes nothing',
    );
    assert.deepEqual(
      asana.exchanges!.flatMap((e) => spec.problems(e)),
      [],
    );
  });

  it('answers 403 to a second webhook on the same resource and target; another target is a webhook of its own', async () => {
    const project = asana.addProject('Campaigns');
    assert.equal((await create(project.gid, `${hook.url}/a`)).status, 201);
    const duplicate = await create(project.gid, `${hook.url}/a`);
    assert.equal(duplicate.status, 403);
    assert.match(duplicate.data.errors?.[0].message ?? '', /Duplicated webhook/);
    assert.equal((await create(project.gid, `${hook.url}/b`)).status, 201);
    assert.equal(asana.webhookList().length, 2);
  });

  it('deletes a webhook whose deliveries fail for failureDeletionMs, showing the health fields on the way', async () => {
    const project = asana.addProject('Campaigns');
    const { data } = (await create(project.gid, `${hook.url}/a`)).data;
    await asana.drainDeliveries(); // the first heartbeat
    hook.state.status = 500;
    const failingSince = Date.now();
    asana.createTask(project.gid, { name: 'During the outage' });
    await until(() => (asana.webhook(data.gid)?.delivery_retry_count ?? 0) >= 2, 'retries');
    const read = await api().get<{ data: Record<string, unknown> }>(`/webhooks/${data.gid}`);
    const health = read.data.data;
    assert.equal(health.active, true);
    assert.equal(health.last_failure_content, 'Received status 500');
    assert.ok((health.delivery_retry_count as number) >= 2);
    assert.ok(Date.parse(health.next_attempt_after as string) > Date.parse(health.last_failure_at as string));
    const deletion = Date.parse(health.failure_deletion_timestamp as string);
    assert.ok(Math.abs(deletion - (failingSince + 800)) < 200, `deletion ${deletion - failingSince} ms after the first failure`);
    assert.ok(typeof health.last_success_at === 'string', 'the heartbeat succeeded');
    await until(() => asana.webhook(data.gid) === undefined, 'the deletion');
    assert.ok(Date.now() >= deletion - 20, 'not before its deletion timestamp');
    assert.equal((await api().get(`/webhooks/${data.gid}`)).status, 404);
    assert.deepEqual(
      asana.exchanges!.flatMap((e) => spec.problems(e)),
      [],
    );
  });

  it('keeps a webhook whose delivery succeeds before the deadline, and clears its failure fields', async () => {
    const project = asana.addProject('Campaigns');
    const { data } = (await create(project.gid, `${hook.url}/a`)).data;
    await asana.drainDeliveries();
    hook.state.status = 503;
    asana.createTask(project.gid, { name: 'Retried' });
    await until(() => asana.webhook(data.gid)?.failure_deletion_timestamp !== null, 'a failure');
    hook.state.status = 200;
    await asana.drainDeliveries();
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // past the deadline the failure set
    const kept = asana.webhook(data.gid);
    assert.ok(kept, 'not deleted');
    assert.deepEqual([kept.delivery_retry_count, kept.next_attempt_after, kept.failure_deletion_timestamp], [0, null, null]);
    assert.equal(hook.received.flat()[0].action, 'added');
  });
});
