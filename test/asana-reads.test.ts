/** How many requests a burst's task reads cost, against the Asana emulator over loopback (no Temporal). */
import assert from 'node:assert/strict';
import { TaskReader } from '../asana/task-reader';
import { AsanaEmulator, type EmulatedTask } from '../emulators/asana';
import { buildColumns } from '../rows/columns-file';
import { Budgets } from '../budgets';
import { AsanaApi } from '../asana/api';

describe('reading a burst of tasks from Asana', function () {
  this.timeout(30_000);
  let asana: AsanaEmulator;
  afterEach(() => asana.close());

  /** The emulator with `count` tasks created at once, and a client on it. */
  async function burstOf(count: number, listOrder: 'project' | 'newest-first') {
    asana = new AsanaEmulator({ listOrder });
    await asana.listen();
    const project = asana.addProject('Burst');
    const tasks = Array.from({ length: count }, (_, i) => asana.createTask(project.gid, { name: `Task ${i}` }));
    const client = new TaskReader(
      new AsanaApi({ baseUrl: asana.baseUrl, accessToken: asana.token, requestsPerMinute: 1500 }, new Budgets()),
    );
    return { project, tasks, client };
  }

  /** Reads every task as the syncs of its events would, `perWave` at a time, in the order the events came. */
  async function readAsEventsArrive(client: TaskReader, projectGid: string, tasks: EmulatedTask[], perWave: number) {
    const read: (string | undefined)[] = [];
    for (let i = 0; i < tasks.length; i += perWave) {
      const wave = tasks.slice(i, i + perWave);
      read.push(
        ...(await Promise.all(wave.map(async (t) => (await client.getProjectTask(t.gid, projectGid, { changedAt: t.modified_at }))?.name))),
      );
    }
    return read;
  }

  for (const listOrder of ['project', 'newest-first'] as const) {
    it(`reads each task of a 1,000-task burst about once, listed in ${listOrder} order`, async () => {
      const { project, tasks, client } = await burstOf(1000, listOrder);
      const before = asana.requests.length;
      const names = await readAsEventsArrive(client, project.gid, tasks, 40);
      assert.deepEqual(
        names,
        tasks.map((t) => t.name),
      );
      const requests = asana.requests.length - before;
      assert.ok(requests <= 30, `${requests} requests for 1,000 tasks: ten pages of 100 read them all`);
    });
  }

  it("reads an assignee's email once for all the tasks of a burst that ask at once", async () => {
    asana = new AsanaEmulator();
    await asana.listen();
    const project = asana.addProject('Burst');
    const users = [asana.addUser('Ana Lima'), asana.addUser('Bo Chen')];
    const tasks = Array.from({ length: 10 }, (_, i) => asana.createTask(project.gid, { assignee: users[i % 2].gid }));
    const { columns, problems } = buildColumns([{ name: 'Email', type: 'email', source: 'assignee_email' }], {
      syncedProjects: new Set([project.gid]),
      customFields: [],
      typecast: false,
    });
    assert.deepEqual(problems, []);
    const client = new TaskReader(
      new AsanaApi({ baseUrl: asana.baseUrl, accessToken: asana.token, requestsPerMinute: 1500 }, new Budgets()),
      columns,
    );
    const before = asana.requests.length;
    const read = await Promise.all(tasks.map(async (t) => client.withAssigneeName((await client.getTask(t.gid))!)));
    assert.deepEqual(
      read.map((t) => t.assignee?.email),
      tasks.map((_, i) => users[i % 2].email),
    );
    const userReads = asana.requests.slice(before).filter((r) => r.path.includes('/users/'));
    assert.equal(userReads.length, 2, `${userReads.length} reads of 2 users`);
  });

  it('serves a second event of one change from the first read, and reads again for a later change', async () => {
    const { project, tasks, client } = await burstOf(1, 'project');
    const [task] = tasks;
    await client.getProjectTask(task.gid, project.gid, { changedAt: task.modified_at });
    const before = asana.requests.length;
    assert.equal((await client.getProjectTask(task.gid, project.gid, { changedAt: task.modified_at }))?.name, 'Task 0');
    assert.equal(asana.requests.length, before, 'the same change: no request');
    await new Promise((resolve) => setTimeout(resolve, 5));
    asana.updateTask(task.gid, { name: 'Renamed' });
    assert.equal((await client.getProjectTask(task.gid, project.gid, { changedAt: task.modified_at }))?.name, 'Renamed');
    assert.equal(asana.requests.length, before + 1, 'a later change: one read');
    assert.equal((await client.getProjectTask(task.gid, project.gid, undefined))?.name, 'Renamed');
    assert.equal(asana.requests.length, before + 2, 'no freshness given: always a read');
  });
});
