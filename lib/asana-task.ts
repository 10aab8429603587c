/** An Asana task as the service reads it, and what the sync itself (not a column) needs of it. */

/** The task as fetched with taskOptFields() (lib/columns.ts). */
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

/** Fields every read asks for whatever the columns: freshness and project membership. */
export const SYNC_OPT_FIELDS = ['modified_at', 'memberships.project'] as const;

/** `change.field` values that can move a task into or out of the synced projects, or make it no task. */
export const SYNC_CHANGE_FIELDS = ['memberships', 'projects', 'resource_subtype'] as const;

/** Whether Asana says the task is in one of the synced projects: only those tasks get rows. */
export function inSyncedProject(task: Pick<AsanaTask, 'memberships'>, syncedProjects: ReadonlySet<string>): boolean {
  return (task.memberships ?? []).some((m) => typeof m.project?.gid === 'string' && syncedProjects.has(m.project.gid));
}
