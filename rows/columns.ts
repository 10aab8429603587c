/**
 * The columns of "Asana Tasks", one entry each. Everything the service knows about a column lives
 * in its entry; the row mapping, the opt_fields read from Asana, the events that cause a sync, the
 * table check and `airtable setup`, the emulator's table and the printed tables all derive from it.
 * Pure: no I/O, unit-tested alone.
 */
import { inSyncedProject, SYNC_CHANGE_FIELDS, SYNC_OPT_FIELDS, syncedProjectsOf, type AsanaTask } from './asana-task';

/** The Airtable field types a column can have. */
export const AIRTABLE_FIELD_TYPES = [
  'singleLineText',
  'multilineText',
  'richText',
  'date',
  'dateTime',
  'number',
  'checkbox',
  'email',
  'url',
  'singleSelect',
  'multipleSelects',
] as const;

export type AirtableFieldType = (typeof AIRTABLE_FIELD_TYPES)[number];

/** A cell as the service writes it: '', null, false or [] clears it. */
export type CellValue = string | number | boolean | readonly string[] | null;

export interface Column {
  /** The Airtable column's name. */
  name: string;
  /** Field types the value can be written to; `airtable setup` creates the first. */
  types: readonly [AirtableFieldType, ...AirtableFieldType[]];
  /** Field options `airtable setup` creates it with. */
  options?: Record<string, unknown>;
  /** The Asana opt_fields its value is computed from. */
  optFields: readonly string[];
  /** The `change.field` names of Asana events that can change its value; 'any' for every change (modified_at). */
  changeFields: readonly string[] | 'any';
  /** Whether a task added to or removed from a section can change it. */
  sectionEvents?: boolean;
  /** Select options Airtable must add as values come (needs AIRTABLE_TYPECAST). */
  openOptions?: boolean;
  /** Fields of the assignee's user record it needs (read with GET /users: a task read brings only the name). */
  userFields?: readonly string[];
  /** Whether it shows which synced projects the task is in, so the row of a task that left them is marked (under ASANA_DELETED_TASKS=keep). */
  showsMembership?: boolean;
  /** Its cell for a task whose assignee's name is resolved. */
  value(task: AsanaTask): CellValue;
}

/** A row: column name → cell. */
export type TaskRow = Readonly<Record<string, CellValue>>;

/** The column upserts merge on: one row per task. */
export const TASK_ID = 'Task ID';

/** Asana sets due_on whenever due_at is set; a record with only due_at gets due_at's UTC date. */
export function dueDateOf(task: Pick<AsanaTask, 'due_on' | 'due_at'>): string | null {
  if (task.due_on) return task.due_on;
  if (task.due_at) return task.due_at.slice(0, 10);
  return null;
}

/** The five columns, in the table's order; Task ID first, so `airtable setup` makes it the primary field. */
export const DEFAULT_COLUMNS: readonly Column[] = [
  { name: TASK_ID, types: ['singleLineText'], optFields: [], changeFields: [], value: (task) => task.gid },
  { name: 'Name', types: ['singleLineText', 'multilineText'], optFields: ['name'], changeFields: ['name'], value: (task) => task.name },
  {
    name: 'Assignee',
    types: ['singleLineText', 'multilineText'],
    optFields: ['assignee.name'],
    changeFields: ['assignee'],
    value: (task) => task.assignee?.name ?? '',
  },
  {
    name: 'Due Date',
    types: ['date'],
    options: { dateFormat: { name: 'iso' } },
    optFields: ['due_on', 'due_at'],
    changeFields: ['due_on', 'due_at'],
    value: dueDateOf,
  },
  {
    name: 'Description',
    types: ['multilineText', 'richText', 'singleLineText'],
    optFields: ['notes'],
    changeFields: ['notes', 'html_notes'],
    value: (task) => task.notes ?? '',
  },
];

export const columnNames = (columns: readonly Column[] = DEFAULT_COLUMNS): string[] => columns.map((c) => c.name);

/** The opt_fields of one task read: what the columns and the sync need, nothing more. */
export function taskOptFields(columns: readonly Column[] = DEFAULT_COLUMNS): string[] {
  return [...new Set([...columns.flatMap((c) => c.optFields), ...SYNC_OPT_FIELDS])];
}

/** Which Asana events can change a row: `changed` events of these fields (or of any, with 'any'), and section moves when `sectionEvents`. */
export interface ChangeRule {
  fields: ReadonlySet<string> | 'any';
  sectionEvents: boolean;
}

export function changeRule(columns: readonly Pick<Column, 'changeFields' | 'sectionEvents'>[] = DEFAULT_COLUMNS): ChangeRule {
  const any = columns.some((c) => c.changeFields === 'any');
  return {
    fields: any ? 'any' : new Set([...columns.flatMap((c) => c.changeFields as readonly string[]), ...SYNC_CHANGE_FIELDS]),
    sectionEvents: columns.some((c) => c.sectionEvents === true),
  };
}

/** The table's fields as Airtable's Meta API creates them. */
export function tableFields(
  columns: readonly Column[] = DEFAULT_COLUMNS,
): { name: string; type: AirtableFieldType; options?: Record<string, unknown> }[] {
  return columns.map((c) => ({ name: c.name, type: c.types[0], ...(c.options ? { options: c.options } : {}) }));
}

export function toTaskRow(task: AsanaTask, columns: readonly Column[] = DEFAULT_COLUMNS): TaskRow {
  return Object.fromEntries(columns.map((c) => [c.name, c.value(task)]));
}

/** What Airtable omits on read: an empty text, no value, an unticked checkbox, no options. */
const isEmpty = (value: unknown): boolean =>
  value === undefined || value === null || value === '' || value === false || (Array.isArray(value) && value.length === 0);

const sameCell = (wanted: CellValue, stored: unknown): boolean =>
  isEmpty(wanted) ? isEmpty(stored) : Array.isArray(wanted) ? JSON.stringify(wanted) === JSON.stringify(stored) : stored === wanted;

/** The row as Airtable returns it on read, where empty cells are omitted. */
export function rowAsRead(row: TaskRow): Record<string, Exclude<CellValue, null>> {
  return Object.fromEntries(Object.entries(row).filter((entry): entry is [string, Exclude<CellValue, null>] => !isEmpty(entry[1])));
}

/** Whether stored cells (as read) already hold the row in every column; columns we do not own are ignored. */
export function rowsEqual(row: TaskRow, storedFields: Record<string, unknown>, columns: readonly Column[] = DEFAULT_COLUMNS): boolean {
  return columns.every(({ name }) => sameCell(row[name] ?? null, storedFields[name]));
}

/** The task a row is for. */
export const rowTaskId = (row: TaskRow): string => String(row[TASK_ID]);

// ---- Columns the operator adds (COLUMNS_FILE) ----

const TEXT = ['singleLineText', 'multilineText', 'richText'] as const;

/** Where an added column's value comes from: a task field, or a custom field (resolved against Asana). */
export interface SourceSpec extends Pick<
  Column,
  'optFields' | 'changeFields' | 'sectionEvents' | 'openOptions' | 'userFields' | 'showsMembership'
> {
  /** Field types the value can be written to. */
  types: readonly AirtableFieldType[];
  value(task: AsanaTask, type: AirtableFieldType): CellValue;
}

const names = (items: readonly { name?: string | null }[] | null | undefined): string[] =>
  (items ?? []).map((item) => item.name ?? '').filter((name) => name !== '');
const listOrText = (items: string[], type: AirtableFieldType): CellValue => (type === 'multipleSelects' ? items : items.join(', '));

/**
 * The task fields a column can show, by the name the columns file gives them. The record has no
 * prototype, so a file naming `constructor` or `__proto__` finds no source instead of Object's own.
 */
export function taskSources(syncedProjects: ReadonlySet<string>): Record<string, SourceSpec> {
  const sources: Record<string, SourceSpec> = {
    completed: { types: ['checkbox'], optFields: ['completed'], changeFields: ['completed'], value: (t) => t.completed === true },
    completed_at: {
      types: ['dateTime', ...TEXT],
      optFields: ['completed_at'],
      changeFields: ['completed'],
      value: (t) => t.completed_at ?? null,
    },
    created_at: { types: ['dateTime', ...TEXT], optFields: ['created_at'], changeFields: [], value: (t) => t.created_at ?? null },
    modified_at: { types: ['dateTime', ...TEXT], optFields: ['modified_at'], changeFields: 'any', value: (t) => t.modified_at ?? null },
    start_on: { types: ['date', ...TEXT], optFields: ['start_on'], changeFields: ['start_on'], value: (t) => t.start_on ?? null },
    permalink_url: { types: ['url', ...TEXT], optFields: ['permalink_url'], changeFields: [], value: (t) => t.permalink_url ?? null },
    tags: {
      types: ['multipleSelects', ...TEXT],
      optFields: ['tags.name'],
      changeFields: ['tags'],
      openOptions: true,
      value: (t, type) => listOrText(names(t.tags), type),
    },
    parent: { types: [...TEXT], optFields: ['parent.name'], changeFields: ['parent'], value: (t) => t.parent?.name ?? '' },
    section: {
      types: ['singleSelect', ...TEXT],
      optFields: ['memberships.section.name'],
      changeFields: ['memberships'],
      sectionEvents: true,
      openOptions: true,
      value: (t) => t.memberships?.find((m) => m.project && syncedProjects.has(m.project.gid))?.section?.name ?? null,
    },
    assignee_email: {
      types: ['email', ...TEXT],
      optFields: ['assignee.name'],
      userFields: ['email'],
      changeFields: ['assignee'],
      value: (t) => t.assignee?.email ?? null,
    },
    in_synced_project: {
      types: ['checkbox'],
      optFields: [],
      changeFields: [],
      showsMembership: true,
      value: (t) => inSyncedProject(t, syncedProjects),
    },
    projects: {
      types: ['multipleSelects', ...TEXT],
      optFields: ['memberships.project.name'],
      changeFields: [],
      openOptions: true,
      showsMembership: true,
      value: (t, type) => listOrText(names(syncedProjectsOf(t, syncedProjects)), type),
    },
  };
  return Object.assign(Object.create(null) as Record<string, SourceSpec>, sources);
}

/** A custom field's definition, as Asana gives it for a project (custom_field_settings). */
export interface CustomFieldDefinition {
  gid: string;
  name: string;
  /** text, number, enum, multi_enum, date, people; anything else (formula, custom_id, reference) shows as text. */
  resource_subtype: string;
  precision?: number;
  enum_options?: { name: string; enabled?: boolean }[];
}

/** A custom field as a source: its value by its subtype, or its display value as text. */
export function customFieldSource(field: CustomFieldDefinition): SourceSpec {
  const valueOf = (t: AsanaTask) => t.custom_fields?.find((f) => f.gid === field.gid);
  const typed: Record<string, Pick<SourceSpec, 'types' | 'optFields' | 'value'>> = {
    number: { types: ['number'], optFields: ['number_value'], value: (t) => valueOf(t)?.number_value ?? null },
    enum: { types: ['singleSelect'], optFields: ['enum_value.name'], value: (t) => valueOf(t)?.enum_value?.name ?? null },
    multi_enum: {
      types: ['multipleSelects'],
      optFields: ['multi_enum_values.name'],
      value: (t) => names(valueOf(t)?.multi_enum_values),
    },
    date: { types: ['date'], optFields: ['date_value.date'], value: (t) => valueOf(t)?.date_value?.date ?? null },
  };
  const own = typed[field.resource_subtype];
  return {
    types: [...(own?.types ?? []), ...TEXT],
    optFields: ['display_value', ...(own?.optFields ?? [])].map((f) => `custom_fields.${f}`),
    changeFields: ['custom_fields'],
    value: (t, type) => ((TEXT as readonly string[]).includes(type) || !own ? (valueOf(t)?.display_value ?? '') : own.value(t, type)),
  };
}

/** Field options `airtable setup` creates a column of this type with. */
export function fieldOptions(type: AirtableFieldType, field?: CustomFieldDefinition): Record<string, unknown> | undefined {
  switch (type) {
    case 'checkbox':
      return { icon: 'check', color: 'greenBright' };
    case 'number':
      return { precision: field?.precision ?? 0 };
    case 'date':
      return { dateFormat: { name: 'iso' } };
    case 'dateTime':
      return { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' }, timeZone: 'utc' };
    case 'singleSelect':
    case 'multipleSelects':
      return { choices: (field?.enum_options ?? []).filter((o) => o.enabled !== false).map((o) => ({ name: o.name })) };
    default:
      return undefined;
  }
}
