/**
 * The columns of "Asana Tasks", one entry each. Everything the service knows about a column lives
 * in its entry; the row mapping, the opt_fields read from Asana, the events that cause a sync, the
 * table check and `airtable setup`, the emulator's table and the printed tables all derive from it.
 * Pure: no I/O, unit-tested alone.
 */
import { SYNC_CHANGE_FIELDS, SYNC_OPT_FIELDS, type AsanaTask } from './asana-task';

export type AirtableFieldType = 'singleLineText' | 'multilineText' | 'richText' | 'date' | 'number' | 'checkbox' | 'email' | 'url';

/** A cell as the service writes it: '' or null clears it. */
export type CellValue = string | null;

export interface Column {
  /** The Airtable column's name. */
  name: string;
  /** Field types the value can be written to; `airtable setup` creates the first. */
  types: readonly [AirtableFieldType, ...AirtableFieldType[]];
  /** Field options `airtable setup` creates it with. */
  options?: Record<string, unknown>;
  /** The Asana opt_fields its value is computed from. */
  optFields: readonly string[];
  /** The `change.field` names of Asana events that can change its value. */
  changeFields: readonly string[];
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

/** The `change.field` values that can change a row: a change of any other field causes no sync. */
export function rowChangeFields(columns: readonly Column[] = DEFAULT_COLUMNS): ReadonlySet<string> {
  return new Set([...columns.flatMap((c) => c.changeFields), ...SYNC_CHANGE_FIELDS]);
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

const isEmpty = (value: unknown): boolean => value === undefined || value === null || value === '';

/** The row as Airtable returns it on read, where empty cells are omitted. */
export function rowAsRead(row: TaskRow): Record<string, string> {
  return Object.fromEntries(Object.entries(row).filter((entry): entry is [string, string] => !isEmpty(entry[1])));
}

/** Whether stored cells (as read) already hold the row in every column; columns we do not own are ignored. */
export function rowsEqual(row: TaskRow, storedFields: Record<string, unknown>, columns: readonly Column[] = DEFAULT_COLUMNS): boolean {
  return columns.every(({ name }) => (isEmpty(row[name]) ? isEmpty(storedFields[name]) : storedFields[name] === row[name]));
}

/** The task a row is for. */
export const rowTaskId = (row: TaskRow): string => String(row[TASK_ID]);
