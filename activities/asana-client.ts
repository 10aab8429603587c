/**
 * What the activities read from Asana: tasks with everything their row needs, user names, task
 * pages. Fetches of many tasks of one project at once (a burst of new tasks) are served by
 * listing the project's recently modified tasks, 100 a request, instead of one request per task.
 */
import type { AsanaConfig } from '../config';
import { AsanaApi, type Page } from '../lib/asana-api';
import { ApiError } from '../lib/api-error';
import { TASK_OPT_FIELDS, type AsanaTask } from './mapping';

const OPT_FIELDS = TASK_OPT_FIELDS.join(',');
/** Fetches arriving within this window share a request. */
const BATCH_WINDOW_MS = 20;
/** Below this many pending tasks, single GETs cost no more than a listing. */
const LIST_THRESHOLD = 3;
/** A task's last change may precede our request by delivery delay; list from this far back. */
const LIST_LOOKBACK_MS = 5 * 60_000;
/** Most listing pages one batch reads looking for its tasks (each page also fills the cache). */
const MAX_LIST_PAGES = 10;
/** Clock difference allowed between the webhook that stamps events and this worker. */
const CLOCK_SKEW_MS = 1_000;
/** How long after a 404 a task is looked up again before it counts as gone: one 404 proves nothing. */
export const GONE_RECHECK_MS = 3_000;
/** How long a task read stays in the cache, and how many it holds at most. */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 20_000;

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
}

interface ProjectBatch {
  since: number;
  waiters: Map<string, Waiter[]>;
}

interface CachedTask {
  task: AsanaTask;
  /** When the request that read it started: the task was at least this fresh. */
  readAt: number;
}

interface ProjectQueue {
  /** Fetches waiting for the next flush. */
  next?: ProjectBatch;
  /** Whether a flush is in flight; fetches arriving meanwhile gather into `next`. */
  busy: boolean;
}

export class AsanaClient {
  private readonly api: AsanaApi;
  private readonly userNames = new Map<string, string>();
  private readonly queues = new Map<string, ProjectQueue>();
  /** Tasks read by listings and GETs, by gid, oldest first. */
  private readonly cache = new Map<string, CachedTask>();

  constructor(config: Pick<AsanaConfig, 'baseUrl' | 'accessToken' | 'requestsPerMinute'>) {
    this.api = new AsanaApi(config);
  }

  /** The task in one request; null when Asana no longer has it. */
  getTask(gid: string): Promise<AsanaTask | null> {
    return orNull(this.api.call<AsanaTask>('GET', `/tasks/${encodeURIComponent(gid)}`, { params: { opt_fields: OPT_FIELDS } }));
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
   * The task, as fresh as getTask, but batched with other fetches in the same project: while one
   * batch is being fetched the next one gathers, and a batch of many tasks is looked up in pages
   * of recently modified tasks; any task a page does not hold (older change, deleted, moved)
   * falls back to its own GET.
   *
   * `notBefore` is when the webhook received the newest event for the task: a task read by a
   * request that started after it (plus clock skew) already shows that change, so it is served
   * from the cache of recent reads. A later change brings a later event, so nothing stale is.
   */
  getProjectTask(gid: string, projectGid: string, notBefore?: number): Promise<AsanaTask | null> {
    const cached = this.cache.get(gid);
    if (cached && notBefore !== undefined && cached.readAt >= notBefore + CLOCK_SKEW_MS && Date.now() - cached.readAt < CACHE_TTL_MS) {
      return Promise.resolve(cached.task);
    }
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(projectGid) ?? this.queues.set(projectGid, { busy: false }).get(projectGid)!;
      if (!queue.next) {
        queue.next = { since: Date.now() - LIST_LOOKBACK_MS, waiters: new Map() };
        if (!queue.busy) setTimeout(() => void this.flush(projectGid), BATCH_WINDOW_MS);
      }
      queue.next.waiters.set(gid, [...(queue.next.waiters.get(gid) ?? []), { resolve, reject }]);
    });
  }

  private async flush(projectGid: string): Promise<void> {
    const queue = this.queues.get(projectGid)!;
    const batch = queue.next!;
    queue.next = undefined;
    queue.busy = true;
    try {
      await this.fetchBatch(projectGid, batch);
    } finally {
      queue.busy = false;
      if (queue.next) void this.flush(projectGid);
      else this.queues.delete(projectGid);
    }
  }

  private async fetchBatch(projectGid: string, batch: ProjectBatch): Promise<void> {
    const pending = new Map(batch.waiters);
    const settle = (gid: string, outcome: { task: AsanaTask | null } | { error: unknown }) => {
      for (const waiter of pending.get(gid) ?? []) {
        if ('task' in outcome) waiter.resolve(outcome.task);
        else waiter.reject(outcome.error);
      }
      pending.delete(gid);
    };
    if (pending.size >= LIST_THRESHOLD) {
      try {
        let pages = MAX_LIST_PAGES;
        let offset: string | undefined;
        do {
          const readAt = Date.now();
          const page = await this.listProjectTasks(projectGid, { modifiedSince: new Date(batch.since).toISOString(), offset });
          for (const task of page.data) {
            this.remember(task, readAt);
            if (pending.has(task.gid)) settle(task.gid, { task });
          }
          offset = page.nextOffset;
        } while (offset && pending.size > 0 && --pages > 0);
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

  private remember(task: AsanaTask, readAt: number): void {
    this.cache.delete(task.gid); // re-insert: the Map keeps the newest last
    this.cache.set(task.gid, { task, readAt });
    if (this.cache.size > CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
  }

  /** A user's name, cached: names rarely change and many tasks share an assignee. */
  async getUserName(gid: string): Promise<string | null> {
    const cached = this.userNames.get(gid);
    if (cached !== undefined) return cached;
    const user = await orNull(this.api.call<{ name?: string | null }>('GET', `/users/${encodeURIComponent(gid)}`, { params: { opt_fields: 'name' } }));
    if (user?.name) this.userNames.set(gid, user.name);
    return user?.name ?? null;
  }

  /** One page of a project's tasks (all, or those modified since a time), full enough to map. */
  listProjectTasks(projectGid: string, options: { modifiedSince?: string; offset?: string } = {}): Promise<Page<AsanaTask>> {
    return this.api.page<AsanaTask>('/tasks', { project: projectGid, opt_fields: OPT_FIELDS, modified_since: options.modifiedSince, offset: options.offset });
  }
}
