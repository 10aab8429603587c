/**
 * What the activities read from Asana: tasks with everything their row needs, user names, task
 * pages. Fetches of many tasks of one project at once (a burst of new tasks) are served by
 * listing the project's recently modified tasks, 100 a request, instead of one request per task.
 */
import { AsanaApi, type Page } from './api';
import { ApiError } from '../lib/api-error';
import { keepLast } from '../lib/keep-last';
import { BurstGauge } from '../budgets/burst';
import { inSyncedProject, type AsanaTask } from '../rows/asana-task';
import { DEFAULT_COLUMNS, taskOptFields, type Column } from '../rows/columns';
import { readShows, type Freshness } from '../rows/freshness';

/** Fetches arriving within this window share a request. */
const BATCH_WINDOW_MS = 20;
/**
 * While a project's fetches come in a burst (BurstGauge), they gather this long instead: tasks
 * created over seconds then share listings as a burst's do, while a lone task at idle is fetched at once.
 */
const BURST_WINDOW_MS = 250;
/** Below this many pending tasks, single GETs cost no more than a listing. */
const LIST_THRESHOLD = 3;
/** How far back a listing reaches: for events without a time, and at most for those with one. */
const LIST_LOOKBACK_MS = 5 * 60_000;
/** Most listing pages one batch reads looking for its tasks (each page also fills the cache). */
const MAX_LIST_PAGES = 10;
/** A listing that stopped with pages left is continued, not started over, for this long. */
const CURSOR_TTL_MS = 30_000;
/** modified_since is this much before the oldest change sought: Asana may count it exclusive, or stamp an event after its change. */
const SINCE_MARGIN_MS = 100;
/** How long after a 404 a task is looked up again before it counts as gone: one 404 proves nothing. */
export const GONE_RECHECK_MS = 3_000;
/** How long a task read stays in the cache, and how many it holds at most. */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 20_000;

/**
 * Where a listing of recently modified tasks starts to hold changes made at `times` (Asana's clock,
 * ms; undefined where an event cannot say): no further back than LIST_LOOKBACK_MS, since a task
 * last changed before that (a delivery Asana retried for an hour) is not worth pages of others.
 */
function listingStart(times: readonly (number | undefined)[]): number {
  const lookback = Date.now() - LIST_LOOKBACK_MS;
  if (times.some((t) => t === undefined)) return lookback;
  return Math.max((times as number[]).reduce((a, b) => Math.min(a, b), Infinity) - SINCE_MARGIN_MS, lookback);
}

/** null for an object Asana does not have (any more); other errors propagate. */
async function orNull<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

interface Waiter {
  resolve: (task: AsanaTask | null) => void;
  reject: (err: unknown) => void;
  /** The change it waits for, by Asana's clock (ms); undefined when it cannot say. */
  changedAt?: number;
}

/** Where a project's last listing stopped, with pages left. */
interface ListingCursor {
  since: string;
  offset: string;
  at: number;
}

interface CachedTask {
  task: AsanaTask;
  /** When the request that read it started: the task was at least this fresh. */
  readAt: number;
}

interface ProjectQueue {
  /** Fetches waiting for the next flush, by task gid. */
  next?: Map<string, Waiter[]>;
  /** Whether a flush is in flight; fetches arriving meanwhile gather into `next`. */
  busy: boolean;
  /** The flushes' sizes, recorded as each ends. */
  burst: BurstGauge;
  cursor?: ListingCursor;
}

type AssigneeFields = { name?: string | null; email?: string | null };

export class TaskReader {
  private readonly api: AsanaApi;
  /** Each user's read, from its start: the tasks of a burst that share an assignee share one request. */
  private readonly users = new Map<string, Promise<AssigneeFields | null>>();
  /** By project; the synced projects are few, so queues are kept. */
  private readonly queues = new Map<string, ProjectQueue>();
  /** Tasks read by listings and GETs, by gid, oldest first. */
  private readonly cache = new Map<string, CachedTask>();

  /** The opt_fields of every task read: what the columns need. */
  private readonly optFields: string;
  /** Fields of the assignee's user record the columns need beyond the name (a task read cannot bring them). */
  private readonly userFields: string[];
  /** SYNC_SUBTASKS: a subtask counts as in its parent's projects. */
  private readonly subtasks: boolean;

  /** `api`: the process's Asana client, whose budget the reads share with every other Asana call. */
  constructor(api: AsanaApi, columns: readonly Column[] = DEFAULT_COLUMNS, { subtasks = false }: { subtasks?: boolean } = {}) {
    this.api = api;
    this.subtasks = subtasks;
    this.optFields = [...taskOptFields(columns), ...(subtasks ? ['num_subtasks'] : [])].join(',');
    this.userFields = [...new Set(columns.flatMap((c) => c.userFields ?? []))];
  }

  /** The task in one request; null when Asana no longer has it. An answer about another task is refused, never written. */
  async getTask(gid: string): Promise<AsanaTask | null> {
    const task = await orNull(
      this.api.call<AsanaTask>('GET', `/tasks/${encodeURIComponent(gid)}`, { params: { opt_fields: this.optFields } }),
    );
    if (task !== null && task.gid !== gid) throw new ApiError('Asana', 200, `the answer for task ${gid} is about another task`);
    return task;
  }

  /**
   * The task as a second look finds it, GONE_RECHECK_MS after a read answered 404; null only when
   * Asana answers 404 again. Asana's 404s can be transient, and a row is deleted on this answer.
   */
  async lookAgain(gid: string): Promise<AsanaTask | null> {
    await new Promise((resolve) => setTimeout(resolve, GONE_RECHECK_MS));
    return this.getTask(gid);
  }

  /**
   * The task, as fresh as `fresh` asks (as fresh as getTask when it is undefined), batched with
   * other fetches in the same project: while one batch is being fetched the next one gathers, and
   * a batch of many tasks is looked up in pages of recently modified tasks; any task those pages do
   * not hold (older change, deleted, moved) falls back to its own GET. A read that already shows
   * what `fresh` asks for (a listing made for other tasks, say) serves it with no request.
   */
  getProjectTask(gid: string, projectGid: string, fresh?: Freshness): Promise<AsanaTask | null> {
    const cached = this.cache.get(gid);
    const fromCache = cached && fresh !== undefined && Date.now() - cached.readAt < CACHE_TTL_MS;
    if (fromCache && readShows({ readAt: cached.readAt, modifiedAt: cached.task.modified_at }, fresh)) {
      return Promise.resolve(cached.task);
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(projectGid) ?? this.queues.set(projectGid, { busy: false, burst: new BurstGauge() }).get(projectGid)!;
      if (!queue.next) {
        queue.next = new Map();
        if (!queue.busy) setTimeout(() => void this.flush(projectGid), queue.burst.bursting ? BURST_WINDOW_MS : BATCH_WINDOW_MS);
      }
      const changedAt = fresh?.changedAt === undefined || fresh.notBefore !== undefined ? undefined : Date.parse(fresh.changedAt);
      queue.next.set(gid, [...(queue.next.get(gid) ?? []), { resolve, reject, changedAt }]);
    });
  }

  private async flush(projectGid: string): Promise<void> {
    const queue = this.queues.get(projectGid)!;
    const batch = queue.next!;
    queue.next = undefined;
    queue.busy = true;
    try {
      await this.fetchBatch(projectGid, queue, batch);
    } finally {
      queue.busy = false;
      queue.burst.batched(batch.size);
      if (queue.next) void this.flush(projectGid);
    }
  }

  private async fetchBatch(projectGid: string, queue: ProjectQueue, batch: Map<string, Waiter[]>): Promise<void> {
    const pending = new Map(batch);
    const settle = (gid: string, outcome: { task: AsanaTask | null } | { error: unknown }) => {
      for (const waiter of pending.get(gid) ?? []) {
        if ('task' in outcome) waiter.resolve(outcome.task);
        else waiter.reject(outcome.error);
      }
      pending.delete(gid);
    };
    if (pending.size >= LIST_THRESHOLD) {
      try {
        await this.listFor(projectGid, queue, pending, (task) => settle(task.gid, { task }));
      } catch {
        // the single GETs below still serve every task
      }
    }
    await Promise.all(
      [...pending.keys()].map((gid) => {
        const readAt = Date.now();
        return this.getTask(gid).then(
          (task) => {
            if (task) this.remember(task, readAt);
            settle(gid, { task });
          },
          (error: unknown) => settle(gid, { error }),
        );
      }),
    );
  }

  /**
   * Reads pages of the project's tasks modified since the oldest change the batch waits for (Asana's
   * clock; LIST_LOOKBACK_MS back when a waiter cannot say), to the end or MAX_LIST_PAGES: each waiter
   * is served as its page comes, and the rest fill the cache for the events still to come. A listing
   * that stopped with pages left is continued by the next batch when it covers that batch's changes,
   * so a burst's tasks are read about once each, in whatever order Asana lists them.
   */
  private async listFor(
    projectGid: string,
    queue: ProjectQueue,
    pending: Map<string, Waiter[]>,
    found: (task: AsanaTask) => void,
  ): Promise<void> {
    const oldest = listingStart([...pending.values()].flat().map((w) => w.changedAt));
    const since = new Date(oldest).toISOString();
    const cursor = queue.cursor;
    queue.cursor = undefined;
    const continuing = cursor !== undefined && Date.now() - cursor.at < CURSOR_TTL_MS && Date.parse(cursor.since) <= oldest;
    let listing = continuing
      ? { since: cursor.since, offset: cursor.offset as string | undefined }
      : { since, offset: undefined as string | undefined };
    let restarted = !continuing;
    // Pages after the last waiter's are read too: in a burst they hold the tasks whose events come next.
    for (let pages = 0; pages < MAX_LIST_PAGES; pages += 1) {
      const readAt = Date.now();
      const page = await this.listProjectTasks(projectGid, { modifiedSince: listing.since, offset: listing.offset });
      for (const task of page.data) {
        this.remember(task, readAt);
        if (pending.has(task.gid)) found(task);
      }
      if (page.nextOffset) listing = { since: listing.since, offset: page.nextOffset };
      else if (!restarted && pending.size > 0)
        [listing, restarted] = [{ since, offset: undefined }, true]; // a continued listing ended: tasks listed before its cursor may be new
      else return;
    }
    if (listing.offset) queue.cursor = { since: listing.since, offset: listing.offset, at: Date.now() };
  }

  /**
   * Which of `tasks` Asana has: those this client has read before, and those a listing of the
   * project's tasks modified since the oldest of their changes (Asana's clock; LIST_LOOKBACK_MS
   * back where one cannot say) shows, read until all are found or the listing ends, at most one
   * page per 100 of them or MAX_LIST_PAGES. Never a request per gid. What it reads fills the
   * cache, so the syncs that follow read nothing more, and the next check of a burst finds its
   * tasks there.
   */
  async listedAmong(projectGid: string, tasks: readonly { taskGid: string; changedAt?: string }[]): Promise<Set<string>> {
    const gids = new Set(tasks.map((t) => t.taskGid));
    const found = new Set([...gids].filter((gid) => this.cache.has(gid)));
    const times = tasks
      .map((t) => (t.changedAt === undefined ? NaN : Date.parse(t.changedAt)))
      .map((ms) => (Number.isFinite(ms) ? ms : undefined));
    const modifiedSince = new Date(listingStart(times)).toISOString();
    const maxPages = Math.max(MAX_LIST_PAGES, Math.ceil(gids.size / 100));
    let offset: string | undefined;
    for (let pages = 0; pages < maxPages && found.size < gids.size; pages += 1) {
      const readAt = Date.now();
      const page = await this.listProjectTasks(projectGid, { modifiedSince, offset });
      for (const task of page.data) {
        this.remember(task, readAt);
        if (gids.has(task.gid)) found.add(task.gid);
      }
      offset = page.nextOffset;
      if (!offset) break;
    }
    return found;
  }

  private remember(task: AsanaTask, readAt: number): void {
    keepLast(this.cache, task.gid, { task, readAt }, CACHE_MAX);
  }

  /**
   * With SYNC_SUBTASKS, a subtask in no synced project of its own gets its parent's memberships:
   * whether it syncs, and its `projects`, go by them. They come from a read of the last minute
   * (a burst of one parent's subtasks reads it once) unless `rereadParent`, as a proof of leaving needs.
   */
  async withParentProjects(task: AsanaTask, syncedProjects: ReadonlySet<string>, { rereadParent = false } = {}): Promise<AsanaTask> {
    if (!this.subtasks || !task.parent || inSyncedProject(task, syncedProjects)) return task;
    const cached = this.cache.get(task.parent.gid);
    const readAt = Date.now();
    let parent = !rereadParent && cached && readAt - cached.readAt < CACHE_TTL_MS ? cached.task : undefined;
    if (!parent) {
      parent = (await this.getTask(task.parent.gid)) ?? undefined;
      if (parent) this.remember(parent, readAt);
    }
    return { ...task, parent: { ...task.parent, memberships: parent?.memberships ?? [] } };
  }

  /** One page of a task's subtasks, full enough to map (their parent's memberships are the caller's to add). */
  listSubtasks(taskGid: string, offset?: string): Promise<Page<AsanaTask>> {
    return this.api.page<AsanaTask>(`/tasks/${encodeURIComponent(taskGid)}/subtasks`, { opt_fields: this.optFields, offset });
  }

  /** Opens the connection with the cheapest request there is: who the token belongs to. */
  async warmUp(): Promise<void> {
    await this.api.call('GET', '/users/me', { params: { opt_fields: 'name' } });
  }

  /** A user's name (and email, when a column shows it), cached: they rarely change and many tasks share an assignee. */
  private getUser(gid: string): Promise<AssigneeFields | null> {
    const cached = this.users.get(gid);
    if (cached !== undefined) return cached;
    const read = orNull(
      this.api.call<AssigneeFields>('GET', `/users/${encodeURIComponent(gid)}`, {
        params: { opt_fields: ['name', ...this.userFields].join(',') },
      }),
    );
    this.users.set(gid, read);
    // Only a user with a name stays cached: a failed or empty read is asked again by the next task.
    const forget = () => this.users.get(gid) === read && this.users.delete(gid);
    read.then((user) => user?.name || forget(), forget);
    return read;
  }

  /** The task with its assignee's name (and email), asked for only when opt_fields could not bring them. */
  async withAssigneeName(task: AsanaTask): Promise<AsanaTask> {
    const { assignee } = task;
    if (!assignee || (assignee.name && this.userFields.length === 0)) return task;
    const user = await this.getUser(assignee.gid);
    return { ...task, assignee: { ...assignee, name: user?.name ?? assignee.name ?? null, email: user?.email ?? null } };
  }

  /** One page of a project's tasks (all, or those modified since a time), full enough to map. */
  listProjectTasks(projectGid: string, options: { modifiedSince?: string; offset?: string } = {}): Promise<Page<AsanaTask>> {
    return this.api.page<AsanaTask>('/tasks', {
      project: projectGid,
      opt_fields: this.optFields,
      modified_since: options.modifiedSince,
      offset: options.offset,
    });
  }
}
