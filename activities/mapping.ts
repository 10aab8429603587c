/**
 * Pure mapping from an Asana task to its row in "Asana Tasks". No I/O here: unit-tested alone,
 * and shared by the per-task sync and the reconciliation so both write the same row.
 */

/** The task as fetched with TASK_OPT_FIELDS. */
export interface AsanaTask {
  gid: string;
  name: string;
  notes?: string | null;
  assignee: { gid: string; name?: string | null } | null;
  due_on: string | null;
  due_at: string | null;
  modified_at?: string;
  /** The projects (and sections) the task is in. */
  memberships?: { project?: { gid: string } | null }[];
}

export const FIELD = {
  taskId: 'Task ID',
  name: 'Name',
  assignee: 'Assignee',
  dueDate: 'Due Date',
  description: 'Description',
} as const;

/** The five columns, in the table's order; 'Task ID' is what upserts merge on. */
export interface TaskRow {
  'Task ID': string;
  Name: string;
  Assignee: string;
  /** YYYY-MM-DD, or null for no due date (clears the cell). */
  'Due Date': string | null;
  Description: string;
}

/** Fields requested in one GET: the assignee's name comes along, so no second request is needed. */
export const TASK_OPT_FIELDS = ['name', 'notes', 'assignee.name', 'due_on', 'due_at', 'modified_at', 'memberships.project'];

/**
 * The task fields a row depends on, as Asana names them in a `changed` event's `change.field`:
 * a change of any other field (completed, tags, likes...) cannot change the row.
 */
export const ROW_SOURCE_FIELDS = new Set([
  'name',
  'notes',
  'html_notes',
  'assignee',
  'due_on',
  'due_at',
  'memberships',
  'projects',
  'resource_subtype',
]);

/** Whether Asana says the task is in one of the synced projects: only those tasks get rows. */
export function inSyncedProject(task: Pick<AsanaTask, 'memberships'>, syncedProjects: ReadonlySet<string>): boolean {
  return (task.memberships ?? []).some((m) => typeof m.project?.gid === 'string' && syncedProjects.has(m.project.gid));
}

/** Asana sets due_on whenever due_at is set; a record with only due_at gets due_at's UTC date. */
export function dueDateOf(task: Pick<AsanaTask, 'due_on' | 'due_at'>): string | null {
  if (task.due_on) return task.due_on;
  if (task.due_at) return task.due_at.slice(0, 10);
  return null;
}

export function toTaskRow(task: AsanaTask, assigneeName: string | null = task.assignee?.name ?? null): TaskRow {
  return {
    [FIELD.taskId]: task.gid,
    [FIELD.name]: task.name,
    [FIELD.assignee]: assigneeName ?? '',
    [FIELD.dueDate]: dueDateOf(task),
    [FIELD.description]: task.notes ?? '',
  };
}

/**
 * Fields as Airtable returns them on read: empty values are omitted. Normalising both sides
 * this way lets a reconcile tell an unchanged row from a changed one.
 */
export function rowAsRead(row: TaskRow): Record<string, string> {
  const read: Record<string, string> = {};
  for (const [key, value] of Object.entries(row)) {
    if (value !== null && value !== '') read[key] = value;
  }
  return read;
}

export function rowsEqual(row: TaskRow, storedFields: Record<string, unknown>): boolean {
  const wanted = rowAsRead(row);
  const stored = Object.entries(storedFields).filter(([key]) => (Object.values(FIELD) as string[]).includes(key));
  return stored.length === Object.keys(wanted).length && stored.every(([key, value]) => wanted[key] === value);
}
