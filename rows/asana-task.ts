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
  parent?: Named | null;
  custom_fields?: CustomFieldValue[];
  /** The projects (and sections) the task is in. */
  memberships?: { project?: { gid: string } | null; section?: Named | null }[];
}

/** Fields every read asks for whatever the columns: freshness and project membership. */
export const SYNC_OPT_FIELDS = ['modified_at', 'memberships.project'] as const;

/** `change.field` values that can move a task into or out of the synced projects, or make it no task. */
export const SYNC_CHANGE_FIELDS = ['memberships', 'projects', 'resource_subtype'] as const;

/** Whether Asana says the task is in one of the synced projects: only those tasks get rows. */
export function inSyncedProject(task: Pick<AsanaTask, 'memberships'>, syncedProjects: ReadonlySet<string>): boolean {
  return (task.memberships ?? []).some((m) => typeof m.project?.gid === 'string' && syncedProjects.has(m.project.gid));
}
