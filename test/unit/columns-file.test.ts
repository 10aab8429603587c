import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AsanaTask } from '../../rows/asana-task';
import { changeRule, rowsEqual, rowAsRead, taskOptFields, toTaskRow, type CustomFieldDefinition } from '../../rows/columns';
import { buildColumns, changeRuleOf, readColumnsFile } from '../../rows/columns-file';

const dir = mkdtempSync(path.join(tmpdir(), 'columns-file-'));
let files = 0;
const file = (text: string): string => {
  const name = path.join(dir, `columns-${(files += 1)}.yml`);
  writeFileSync(name, text);
  return name;
};
const yamlOf = (columns: { name: string; type: string; source: string }[]) =>
  `columns:\n${columns.map((c) => `  - name: ${c.name}\n    type: ${c.type}\n    source: ${c.source}\n`).join('')}`;

const PROJECT = '100';
const CUSTOM_FIELDS: CustomFieldDefinition[] = [
  {
    gid: '201',
    name: 'Client',
    resource_subtype: 'enum',
    enum_options: [{ name: 'Acme' }, { name: 'Globex' }, { name: 'Old', enabled: false }],
  },
  { gid: '202', name: 'Budget', resource_subtype: 'number', precision: 2 },
  { gid: '203', name: 'Channels', resource_subtype: 'multi_enum', enum_options: [{ name: 'Email' }, { name: 'Social' }] },
  { gid: '204', name: 'Launch', resource_subtype: 'date' },
  { gid: '205', name: 'Owners', resource_subtype: 'people' },
  { gid: '206', name: 'Score', resource_subtype: 'formula' },
  { gid: '207', name: 'Dup', resource_subtype: 'text' },
  { gid: '208', name: 'Dup', resource_subtype: 'text' },
];

const TEN = [
  { name: 'Done', type: 'checkbox', source: 'completed' },
  { name: 'Completed At', type: 'dateTime', source: 'completed_at' },
  { name: 'Start', type: 'date', source: 'start_on' },
  { name: 'Link', type: 'url', source: 'permalink_url' },
  { name: 'Tags', type: 'multipleSelects', source: 'tags' },
  { name: 'Parent', type: 'singleLineText', source: 'parent' },
  { name: 'Section', type: 'singleSelect', source: 'section' },
  { name: 'Email', type: 'email', source: 'assignee_email' },
  { name: 'Client', type: 'singleSelect', source: 'custom_field:Client' },
  { name: 'Budget', type: 'number', source: 'custom_field:202' },
  { name: 'Channels', type: 'multipleSelects', source: 'custom_field:Channels' },
  { name: 'Launch', type: 'date', source: 'custom_field:Launch' },
  { name: 'Owners', type: 'singleLineText', source: 'custom_field:Owners' },
  { name: 'Score', type: 'singleLineText', source: 'custom_field:Score' },
];

const task: AsanaTask = {
  gid: '42',
  name: 'Brief',
  notes: '',
  assignee: { gid: '7', name: 'Ana', email: 'ana@example.com' },
  due_on: null,
  due_at: null,
  completed: true,
  completed_at: '2026-11-30T10:00:00.000Z',
  start_on: '2026-11-20',
  permalink_url: 'https://app.asana.com/0/100/42',
  tags: [
    { gid: '1', name: 'urgent' },
    { gid: '2', name: 'q1' },
  ],
  parent: { gid: '41', name: 'Launch plan' },
  memberships: [
    { project: { gid: '999' }, section: { gid: '8', name: 'Elsewhere' } },
    { project: { gid: PROJECT }, section: { gid: '9', name: 'Doing' } },
  ],
  custom_fields: [
    { gid: '201', enum_value: { gid: '1', name: 'Acme' }, display_value: 'Acme' },
    { gid: '202', number_value: 1234.5, display_value: '1234.50' },
    {
      gid: '203',
      multi_enum_values: [
        { gid: '3', name: 'Email' },
        { gid: '4', name: 'Social' },
      ],
      display_value: 'Email, Social',
    },
    { gid: '204', date_value: { date: '2026-12-24' }, display_value: '2026-12-24' },
    { gid: '205', people_value: [{ gid: '7', name: 'Ana' }], display_value: 'Ana' },
    { gid: '206', display_value: '87%' },
  ],
};

const context = { syncedProjects: new Set([PROJECT]), customFields: CUSTOM_FIELDS, typecast: true };

describe('columns file: the columns an operator adds', () => {
  it('needs no file: the five columns', () => {
    assert.deepEqual(readColumnsFile(undefined), { settings: [], problems: [] });
  });

  it('maps every source to its cell, reads only what the columns need, and syncs on their changes', () => {
    const { settings, problems } = readColumnsFile(file(yamlOf(TEN)));
    assert.deepEqual(problems, []);
    const built = buildColumns(settings, context);
    assert.deepEqual(built.problems, []);
    const row = toTaskRow(task, built.columns);
    assert.deepEqual(Object.fromEntries(TEN.map((c) => [c.name, row[c.name]])), {
      Done: true,
      'Completed At': '2026-11-30T10:00:00.000Z',
      Start: '2026-11-20',
      Link: 'https://app.asana.com/0/100/42',
      Tags: ['urgent', 'q1'],
      Parent: 'Launch plan',
      Section: 'Doing',
      Email: 'ana@example.com',
      Client: 'Acme',
      Budget: 1234.5,
      Channels: ['Email', 'Social'],
      Launch: '2026-12-24',
      Owners: 'Ana',
      Score: '87%',
    });
    assert.equal(rowsEqual(row, rowAsRead(row), built.columns), true, 'a row reads back as itself');
    assert.equal(rowsEqual(row, { ...rowAsRead(row), Tags: ['q1', 'urgent'] }, built.columns), false);
    const fields = taskOptFields(built.columns);
    for (const f of ['completed', 'tags.name', 'parent.name', 'memberships.section.name', 'custom_fields.enum_value.name'])
      assert.ok(fields.includes(f), f);
    assert.equal(new Set(fields).size, fields.length, 'each opt_field once');
    const rule = changeRuleOf(settings);
    assert.ok(
      rule.fields !== 'any' &&
        ['completed', 'tags', 'parent', 'custom_fields', 'start_on'].every((f) => (rule.fields as Set<string>).has(f)),
    );
    assert.equal(rule.sectionEvents, true, 'a section column makes section moves count');
    assert.equal(changeRule(built.columns).sectionEvents, true);
  });

  it("shows membership: the synced projects' names, and a box ticked only in one, for a subtask through its parent", () => {
    const settings = [
      { name: 'Projects', type: 'multipleSelects', source: 'projects' },
      { name: 'Synced', type: 'checkbox', source: 'in_synced_project' },
    ] as const;
    const { columns, problems } = buildColumns(settings, { ...context, syncedProjects: new Set([PROJECT, '300']) });
    assert.deepEqual(problems, []);
    assert.ok(taskOptFields(columns).includes('memberships.project.name'));
    assert.ok(columns.slice(-2).every((c) => c.showsMembership === true));
    const cells = (t: AsanaTask) => {
      const row = toTaskRow(t, columns);
      return [row.Projects, row.Synced];
    };
    const named = (gid: string, name: string) => ({ project: { gid, name } });
    const homes = [named('999', 'Private'), named(PROJECT, 'Campaigns'), named('300', 'Launches')];
    assert.deepEqual(cells({ ...task, memberships: homes }), [['Campaigns', 'Launches'], true], 'multi-homed: one row, both projects');
    assert.deepEqual(cells({ ...task, memberships: [named('999', 'Private')] }), [[], false], 'a leaver');
    const subtask = { ...task, memberships: [], parent: { gid: '41', name: 'Launch plan', memberships: [named('300', 'Launches')] } };
    assert.deepEqual(cells(subtask), [['Launches'], true]);
    const asText = buildColumns([{ name: 'Projects', type: 'singleLineText', source: 'projects' }], context).columns;
    assert.equal(toTaskRow({ ...task, memberships: homes }, asText).Projects, 'Campaigns');
  });

  it('gives a select of an enum custom field its enabled options, and a number its precision', () => {
    const { columns } = buildColumns(readColumnsFile(file(yamlOf(TEN))).settings, context);
    assert.deepEqual(columns.find((c) => c.name === 'Client')?.options, { choices: [{ name: 'Acme' }, { name: 'Globex' }] });
    assert.deepEqual(columns.find((c) => c.name === 'Budget')?.options, { precision: 2 });
  });

  it('a modified_at column syncs on every change', () => {
    assert.equal(changeRuleOf([{ name: 'Modified', type: 'dateTime', source: 'modified_at' }]).fields, 'any');
  });

  it('lists every problem of a bad file at once', () => {
    const { problems } = readColumnsFile(
      file(
        yamlOf([
          { name: 'Done', type: 'checkbox', source: 'completed' },
          { name: 'done', type: 'checkbox', source: 'completed' },
          { name: 'Name', type: 'singleLineText', source: 'parent' },
          { name: 'Mood', type: 'singleLineText', source: 'mood' },
          { name: 'Flag', type: 'checkbox', source: 'permalink_url' },
          { name: 'Odd', type: 'barcode', source: 'tags' },
        ]) + '    colour: red\n',
      ),
    );
    assert.deepEqual(problems, [
      'COLUMNS_FILE columns[1] "done": the name is taken by columns[0]',
      'COLUMNS_FILE columns[2] "Name": the name is taken by one of the five default columns',
      'COLUMNS_FILE columns[3] "Mood": unknown source "mood" (one of completed, completed_at, created_at, modified_at, start_on, permalink_url, tags, parent, section, assignee_email, in_synced_project, projects, or custom_field:<name or gid>)',
      'COLUMNS_FILE columns[4] "Flag": a checkbox column cannot hold permalink_url (use url or singleLineText or multilineText or richText)',
      'COLUMNS_FILE columns[5]: unknown key "colour"',
      'COLUMNS_FILE columns[5] "Odd": unknown type "barcode" (one of singleLineText, multilineText, richText, date, dateTime, number, checkbox, email, url, singleSelect, multipleSelects)',
    ]);
  });

  it("refuses sources named after an object's built-in properties as unknown, not with a TypeError", () => {
    const builtIns = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
    const settings = builtIns.map((source, i) => ({ name: `Odd ${i}`, type: 'singleLineText', source }));
    const { problems } = readColumnsFile(file(yamlOf(settings)));
    assert.deepEqual(
      problems.map((p) => /unknown source "([^"]+)"/.exec(p)?.[1]),
      builtIns,
    );
    assert.doesNotThrow(() => changeRuleOf(settings.map((s) => ({ ...s, type: 'singleLineText' as const }))));
  });

  it('refuses a file that is not YAML, or has no columns list', () => {
    assert.match(readColumnsFile(file('columns: [\n')).problems[0], /^COLUMNS_FILE .*columns-\d+\.yml: /);
    assert.deepEqual(readColumnsFile(file('- name: Done\n')).problems.length, 1);
  });

  it('refuses custom fields it cannot find or tell apart, types they cannot fill, and selects Airtable must add options to without typecast', () => {
    const { settings } = readColumnsFile(
      file(
        yamlOf([
          { name: 'Missing', type: 'singleLineText', source: 'custom_field:Nope' },
          { name: 'Twice', type: 'singleLineText', source: 'custom_field:Dup' },
          { name: 'Client', type: 'checkbox', source: 'custom_field:Client' },
          { name: 'Tags', type: 'multipleSelects', source: 'tags' },
        ]),
      ),
    );
    assert.deepEqual(buildColumns(settings, { ...context, typecast: false }).problems, [
      'COLUMNS_FILE "Missing": no custom field "Nope" in the synced projects',
      'COLUMNS_FILE "Twice": 2 custom fields are named "Dup": name it by gid (207, 208)',
      'COLUMNS_FILE "Client": a checkbox column cannot hold the enum custom field "Client" (use singleSelect or singleLineText or multilineText or richText)',
      'COLUMNS_FILE "Tags": a multipleSelects of tags needs AIRTABLE_TYPECAST=true (Airtable then adds options as values come), or a text type',
    ]);
  });
});
