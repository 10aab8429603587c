/**
 * `npm start`, the embedded Temporal server included, killed with SIGKILL mid-burst and started
 * again: no task is lost or doubled. No reconcile runs, so every row comes from a delivery the
 * webhook acknowledged or one Asana sent again: what SQLite's `synchronous=normal` must not lose.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AsanaTask } from '../rows/asana-task';
import { AsanaApi } from '../asana/api';
import { rowsEqual, DEFAULT_COLUMNS, TASK_ID, toTaskRow } from '../rows/columns';
import { SecretStore } from '../asana/webhook-secrets';
import { configuredFilters, registerWebhook } from '../asana/webhooks';
import { AirtableEmulator } from '../emulators/airtable';
import { AsanaEmulator } from '../emulators/asana';
import { emulatorEnv } from '../emulators/env';
import { freePort } from './support/ports';
import { spawnEntry } from './support/processes';
import { eventually } from './support/stack';
import { Budgets } from '../budgets';

const BASE = 'appCRASHTEST00001';
const TABLE = 'Asana Tasks';

/** A process and every process under it (the embedded Temporal server is a child of `npm start`'s). */
function processTree(pid: number): number[] {
  const parents = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const under = (parent: number): number[] => parents.filter(([, ppid]) => ppid === parent).flatMap(([child]) => [child, ...under(child)]);
  return [pid, ...under(pid)];
}

describe('npm start killed with SIGKILL mid-burst', function () {
  this.timeout(240_000);
  let dir: string;
  let asana: AsanaEmulator;
  let airtable: AirtableEmulator;
  let service: ChildProcess | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'crash-'));
    asana = new AsanaEmulator({ retryBaseMs: 250, retryMaxMs: 2_000, maxDeliveryAttempts: 60 });
    airtable = new AirtableEmulator({ lockoutMs: 1_000 });
    await Promise.all([asana.listen(), airtable.listen()]);
    airtable.createTable(BASE, TABLE);
  });
  after(async () => {
    if (service?.pid && service.exitCode === null) for (const pid of processTree(service.pid)) process.kill(pid, 'SIGKILL');
    await Promise.all([asana.close(), airtable.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('every process, the embedded Temporal server included: after a restart every task has exactly one exact row', async () => {
    const project = asana.addProject('Crash');
    const port = await freePort();
    const env = {
      ...emulatorEnv(asana, airtable, BASE, project.gid),
      AIRTABLE_LOCKOUT_MS: '1000',
      PORT: String(port),
      DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      WORKER_METRICS_PORT: '0',
      WEBHOOK_METRICS_PORT: '0',
      // schedules fire at multiples of their interval since 1970: none of these within the test
      RECONCILE_INTERVAL: '24h',
      RECONCILE_FULL_INTERVAL: '24h',
    };
    const url = `http://127.0.0.1:${port}`;
    const start = async () => {
      service = spawnEntry('scripts/start.ts', env);
      await eventually(async () => assert.equal((await fetch(`${url}/healthz`)).status, 200), 120_000, 250);
    };
    await start();
    await registerWebhook(
      new AsanaApi({ baseUrl: asana.baseUrl, accessToken: asana.token, requestsPerMinute: 1500 }, new Budgets()),
      new SecretStore(dir),
      project.gid,
      url,
      configuredFilters(undefined),
    );

    const tasks = Array.from({ length: 200 }, (_, i) => asana.createTask(project.gid, { name: `Crash ${i}`, notes: `n${i}` }));
    await eventually(() => assert.ok(airtable.records(BASE, TABLE).length >= 20), 60_000, 20);
    const tree = processTree(service!.pid!);
    assert.ok(tree.length >= 2, 'npm start runs the embedded Temporal server as a child');
    const exited = once(service!, 'exit');
    for (const pid of tree) process.kill(pid, 'SIGKILL');
    await exited;
    const rowsAtKill = airtable.records(BASE, TABLE).length;
    assert.ok(rowsAtKill < tasks.length, `the kill came before the burst was done (${rowsAtKill} rows)`);

    await start();
    const expected = new Map(tasks.map((t) => [t.gid, toTaskRow(asana.taskRecord(t.gid) as unknown as AsanaTask)]));
    await eventually(
      () => {
        const rows = airtable.records(BASE, TABLE);
        assert.equal(rows.length, tasks.length, `${rows.length} rows`);
        for (const row of rows) assert.ok(rowsEqual(expected.get(String(row.fields[TASK_ID]))!, row.fields, DEFAULT_COLUMNS));
      },
      120_000,
      500,
    );
    assert.equal(new Set(airtable.records(BASE, TABLE).map((r) => r.fields[TASK_ID])).size, tasks.length, 'one row a task');
  });
});
