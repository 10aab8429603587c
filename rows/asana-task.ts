/** An Asana task as the service reads it, and what the sync itself (not a column) needs of it. */

interface Named {
  gid: string;
  name?: string | null;
}

/** A custom field's value on a task, as opt_fields bring it. */
export interface CustomFieldValue {
  gid: string;
  display_value?: string | null;
  text_value?: string | null;
  number_value?: number | null;
  enum_value?: Named | null;
  multi_enum_values?: Named[] | null;
  date_value?: { date: string } | null;
  people_value?: Named[] | null;
}

/** The task as fetched with taskOptFields() (rows/columns.ts): only the fields the columns ask for are present. */
export interface AsanaTask {
  gid: string;
  name: string;
  notes?: string | null;
  assignee: (Named & { email?: string | null }) | null;
  due_on: string | null;
  due_at: string | null;
  modified_at?: string;
  created_at?: string;
  completed?: boolean;
  completed_at?: string | null;
  start_on?: string | null;
  permalink_url?: string;
  tags?: Named[];
  /** The parent, for a subtask; its memberships only as the reader adds them (SYNC_SUBTASKS), never from Asana's read of the subtask. */
  parent?: (Named & { memberships?: Membership[] }) | null;
  custom_fields?: CustomFieldValue[];
  /** The projects (and sections) the task is in. */
  memberships?: Membership[];
  /** How many subtasks it has (read only with SYNC_SUBTASKS, when a reconcile lists them). */
  num_subtasks?: number;
}

/** A project the task is in, and its section there. */
export interface Membership {
  project?: Named | null;
  section?: Named | null;
}

/** Fields every read asks for whatever the columns: freshness and project membership (a subtask's through its parent). */
export const SYNC_OPT_FIELDS = ['modified_at', 'memberships.project', 'parent'] as const;

/** `change.field` values that can move a task into or out of the synced projects, or make it no task. */
export const SYNC_CHANGE_FIELDS = ['memberships', 'projects', 'resource_subtype'] as const;

const syncedIn = (memberships: readonly Membership[] | undefined, syncedProjects: ReadonlySet<string>): Named[] =>
  (memberships ?? []).flatMap((m) => (m.project && syncedProjects.has(m.project.gid) ? [m.project] : []));

/**
 * The synced projects the task is in; for a subtask in none, those of its parent when the reader
 * added them (SYNC_SUBTASKS: one level, a subtask of a subtask counts only if added to a project itself).
 */
export function syncedProjectsOf(task: Pick<AsanaTask, 'memberships' | 'parent'>, syncedProjects: ReadonlySet<string>): Named[] {
  const own = syncedIn(task.memberships, syncedProjects);
  return own.length > 0 ? own : syncedIn(task.parent?.memberships, syncedProjects);
}

/** Whether the task is in one of the synced projects (a subtask through its parent, see syncedProjectsOf): only those tasks get rows. */
export function inSyncedProject(task: Pick<AsanaTask, 'memberships' | 'parent'>, syncedProjects: ReadonlySet<string>): boolean {
  return syncedProjectsOf(task, syncedProjects).length > 0;
}
