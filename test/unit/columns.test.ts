import assert from 'node:assert/strict';
import { escapeMarkdown } from '../../lib/markdown';
import { inSyncedProject, type AsanaTask } from '../../rows/asana-task';
import {
  DEFAULT_COLUMNS,
  dueDateOf,
  rowAsRead,
  changeRule,
  rowsEqual,
  tableFields,
  taskOptFields,
  toTaskRow,
  type Column,
} from '../../rows/columns';

const task = (over: Partial<AsanaTask> = {}): AsanaTask => ({
  gid: '42',
  name: 'Brief',
  notes: 'Two pages',
  assignee: { gid: '7', name: 'Ana' },
  due_on: '2026-12-01',
  due_at: null,
  ...over,
});

describe('columns: Asana task → "Asana Tasks" row', () => {
  it('maps every column', () => {
    assert.deepEqual(toTaskRow(task()), {
      'Task ID': '42',
      Name: 'Brief',
      Assignee: 'Ana',
      'Due Date': '2026-12-01',
      Description: 'Two pages',
    });
  });

  it('writes empty cells for no assignee, no due date and no notes, so a change can clear them', () => {
    assert.deepEqual(toTaskRow(task({ assignee: null, due_on: null, notes: null })), {
      'Task ID': '42',
      Name: 'Brief',
      Assignee: '',
      'Due Date': null,
      Description: '',
    });
  });

  it('reads only the fields the columns and the sync need', () => {
    assert.deepEqual(taskOptFields(), [
      'name',
      'assignee.name',
      'due_on',
      'due_at',
      'notes',
      'modified_at',
      'memberships.project',
      'parent',
    ]);
  });

  it('syncs on changes of the fields a column reads, or of the project membership, and no others', () => {
    const { fields, sectionEvents } = changeRule();
    assert.ok(fields !== 'any');
    for (const field of ['name', 'notes', 'assignee', 'due_on', 'due_at', 'memberships']) assert.ok(fields.has(field), field);
    for (const field of ['completed', 'tags', 'liked', 'custom_fields']) assert.equal(fields.has(field), false, field);
    assert.equal(sectionEvents, false, 'no column shows the section');
  });

  it('adds a column with one entry: the row, the opt_fields, the table setup and the comparison follow', () => {
    const link: Column = {
      name: 'Link',
      types: ['url'],
      optFields: ['permalink_url'],
      changeFields: [],
      value: (t) => (t as AsanaTask & { permalink_url?: string }).permalink_url ?? null,
    };
    const columns = [...DEFAULT_COLUMNS, link];
    const row = toTaskRow({ ...task(), permalink_url: 'https://app.asana.com/0/1/42' } as AsanaTask, columns);
    assert.equal(row.Link, 'https://app.asana.com/0/1/42');
    assert.ok(taskOptFields(columns).includes('permalink_url'));
    assert.deepEqual(tableFields(columns).at(-1), { name: 'Link', type: 'url' });
    assert.equal(rowsEqual(row, rowAsRead(toTaskRow(task(), columns)), columns), false, 'a stored row without it is out of date');
    assert.equal(rowsEqual(row, { ...rowAsRead(row) }, columns), true);
  });

  it('uses due_on, else the UTC date of due_at', () => {
    assert.equal(dueDateOf({ due_on: '2026-12-01', due_at: '2026-12-02T01:00:00Z' }), '2026-12-01');
    assert.equal(dueDateOf({ due_on: null, due_at: '2026-12-24T23:30:00.000Z' }), '2026-12-24');
    assert.equal(dueDateOf({ due_on: null, due_at: null }), null);
  });

  it('compares a row with what Airtable returns, where empty cells are omitted', () => {
    const row = toTaskRow(task({ assignee: null, notes: '' }));
    assert.deepEqual(rowAsRead(row), { 'Task ID': '42', Name: 'Brief', 'Due Date': '2026-12-01' });
    assert.equal(rowsEqual(row, { 'Task ID': '42', Name: 'Brief', 'Due Date': '2026-12-01' }), true);
    assert.equal(rowsEqual(row, { 'Task ID': '42', Name: 'Brief', 'Due Date': '2026-12-01', Assignee: 'Old' }), false);
    assert.equal(rowsEqual(row, { 'Task ID': '42', Name: 'Brief' }), false);
    assert.equal(rowsEqual(row, { 'Task ID': '42', Name: 'Brief', 'Due Date': '2026-12-01', Notes: 'a column we do not own' }), true);
  });

  it('finds a task in the synced projects only through its memberships', () => {
    const synced = new Set(['1', '2']);
    assert.equal(inSyncedProject(task({ memberships: [{ project: { gid: '9' } }, { project: { gid: '2' } }] }), synced), true);
    assert.equal(inSyncedProject(task({ memberships: [{ project: { gid: '9' } }] }), synced), false);
    assert.equal(inSyncedProject(task({ memberships: [{ project: null }, {}] }), synced), false);
    assert.equal(inSyncedProject(task({ memberships: [] }), synced), false, 'a subtask, or a task in no project');
    assert.equal(inSyncedProject(task(), synced), false, 'memberships not read: not proven');
  });

  it("counts a subtask in its parent's synced projects only once the reader has added them (SYNC_SUBTASKS), one level deep", () => {
    const synced = new Set(['1']);
    const subtask = (parentMemberships?: { project: { gid: string } }[]) =>
      task({ memberships: [], parent: { gid: '41', name: 'Launch plan', memberships: parentMemberships } });
    assert.equal(inSyncedProject(subtask(), synced), false, 'the parent as Asana reads it: no memberships');
    assert.equal(inSyncedProject(subtask([{ project: { gid: '1' } }]), synced), true);
    assert.equal(inSyncedProject(subtask([{ project: { gid: '9' } }]), synced), false);
    assert.equal(inSyncedProject(subtask([]), synced), false, "a subtask's subtask: its parent is in no project");
  });
});

describe('markdown for the Web UI', () => {
  it('escapes what markdown would render, so a name shows as written', () => {
    assert.equal(escapeMarkdown('Launch brief «spring»'), 'Launch brief «spring»');
    assert.equal(
      escapeMarkdown('[click](https://evil.example) ![x](y) **b** _i_'),
      '\\[click\\]\\(https://evil\\.example\\) \\!\\[x\\]\\(y\\) \\*\\*b\\*\\* \\_i\\_',
    );
  });
});
