/**
 * The row writer: the narrow Airtable client the activities need, on airtable.js. Rows are written with
 * performUpsert merging on "Task ID", so a task can never get two rows however writes race.
 * Every request goes through the base's pacer, under AIRTABLE_RPS (shared by every worker process
 * with REDIS_URL); airtable.js's own 429 retries (which fire inside the 30 s lock-out) are off:
 * after a 429 the pacer holds every request back for the lock-out, and the caller's retry comes
 * after it.
 */
import { createHash } from 'node:crypto';
import Airtable from 'airtable';
import type { FieldSet, Records } from 'airtable';
import type { AirtableConfig } from '../config';
import { ApiError, retryingServerErrors } from '../lib/api-error';
import { keepLast } from '../lib/keep-last';
import { boundedBase } from './http';
import { airtableBudget, type Budgets } from '../budgets';
import type { Pacing, Release } from '../budgets/pacer';
import { columnNames, DEFAULT_COLUMNS, rowTaskId, TASK_ID, type Column, type TaskRow } from '../rows/columns';

export const MAX_RECORDS_PER_REQUEST = 10;
const PAGE_SIZE = 100;
const REQUEST_TIMEOUT_MS = 30_000;
/** How long, and for how many tasks, this process remembers the row it last wrote. */
const WRITTEN_TTL_MS = 60_000;
const WRITTEN_MAX = 20_000;
/** How long, and for how many tasks, this process remembers the newest modification it queued: longer than any read waits for its write. */
const NEWEST_TTL_MS = 10 * 60_000;
const NEWEST_MAX = 50_000;

/** A request short of 10 rows waits for rows on their way (see `waitWhileFillPays`) until its oldest row has waited this long. */
const FILL_MAX_MS = 1_000;
/** A full request this recent says Airtable's rate is what holds rows back: a short one then waits for rows that keep coming... */
const FULL_RECENTLY_MS = 1_000;
/** ...each within this long of the one before. */
const FILL_GAP_MS = 150;

const fingerprint = (row: TaskRow, asOf?: string): string =>
  createHash('sha256')
    .update(JSON.stringify([asOf, row]))
    .digest('base64');

export interface StoredRow {
  recordId: string;
  createdTime: string;
  fields: Record<string, unknown>;
}

type Table = Airtable.Table<FieldSet>;
/** airtable.js types do not know performUpsert; it spreads options into the body, which is all it takes. */
type UpsertOptions = { performUpsert: { fieldsToMergeOn: string[] }; typecast?: boolean };
type UpsertCall = (records: { fields: FieldSet }[], options: UpsertOptions) => Promise<Records<FieldSet>>;

/** A formula string literal: escape backslashes and quotes, then quote. */
export const formulaString = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Which of two modifications of a task (Asana's modified_at) is later: by time, or as text when either is not one. */
function compareModifications(a: string, b: string): number {
  const [x, y] = [Date.parse(a), Date.parse(b)];
  if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface RowWriteOptions {
  /** The modification of its task each row shows (Asana's modified_at): one for every row, or by task gid. */
  asOf?: string | ReadonlyMap<string, string>;
  /** Writes a row even when this process wrote it exactly so lately: a reconcile repairs a row edited by hand. */
  rewrite?: boolean;
}

interface PendingRow {
  row: TaskRow;
  /** The row with the modification it shows (see `upsert`'s `asOf`). */
  fingerprint: string;
  /** When it was queued: the fill wait ends once the oldest row has waited FILL_MAX_MS. */
  queuedAt: number;
  settle: (error?: unknown) => void;
}

export class RowWriter {
  private readonly table: Table;
  private readonly pacer: Pacing;
  private readonly lockoutMs: number;
  /** Rows waiting for a write, from every activity of this process. */
  private readonly queue: PendingRow[] = [];
  private draining = false;
  /** Rows on their way: syncs reading their task, whose row will follow (see `rowComing`). */
  private coming = 0;
  /** When the last request of 10 rows went out, and when the last row was queued. */
  private lastFullAt = 0;
  private lastRowAt = 0;
  /** Called when a row is queued, or one on its way will not come, while `waitWhileFillPays` waits. */
  private onRow?: () => void;
  /** Task ID → the row this process last wrote for it, oldest first. */
  private readonly written = new Map<string, { fingerprint: string; at: number }>();
  /**
   * Task ID → its rows queued or in flight, and whether two overlapped: then which one Airtable
   * applied last is unknown, and nothing is remembered.
   */
  private readonly writing = new Map<string, { rows: number; overlapped: boolean }>();
  /** Task ID → the newest modification of the task queued here, oldest entry first: an older one is never written after it. */
  private readonly newest = new Map<string, { asOf: string; at: number }>();
  /** Tasks with a request in flight: their next row waits for its answer, so a task's requests reach Airtable in order. */
  private readonly inFlight = new Set<string>();

  /** The columns this service writes and reads back. */
  private readonly columns: readonly Column[];
  private readonly typecast: boolean;

  constructor(
    config: Pick<AirtableConfig, 'token' | 'baseId' | 'tableName' | 'endpointUrl' | 'lockoutMs' | 'requestsPerSecond'> & {
      typecast?: boolean;
    },
    /** The process's budgets: the base's pacer, whose waits end at shutdown (the rows still queued then fail, and their syncs are retried). */
    budgets: Budgets,
    columns: readonly Column[] = DEFAULT_COLUMNS,
  ) {
    this.columns = columns;
    this.typecast = config.typecast ?? false;
    const airtable = new Airtable({
      apiKey: config.token,
      endpointUrl: config.endpointUrl,
      noRetryIfRateLimited: true,
      requestTimeout: REQUEST_TIMEOUT_MS,
    });
    this.table = boundedBase(airtable, config.baseId).table(config.tableName);
    this.pacer = budgets.pacer(airtableBudget(config));
    this.lockoutMs = config.lockoutMs;
  }

  /**
   * Creates or updates each row by its Task ID. Rows from all callers share requests: each paced
   * slot carries up to 10 rows that are ready, so a burst fills its requests and a lone row at
   * idle goes out at once. Resolves when the caller's rows are written.
   *
   * `asOf` (the task's modified_at) orders the writes of a task: a row showing an older
   * modification than one already queued here is not written, whoever asks (a retried attempt, a
   * reconcile that read the task before a sync did). Without `rewrite` (a sync), it also skips a
   * row this process wrote exactly so, for the same modification, in the last minute and with no
   * other write of the task since: a second event of one change. Reconciles rewrite: they write a
   * row because the stored one differs, and must, even if it is what we wrote (edited by hand since).
   */
  async upsert(rows: TaskRow[], { asOf, rewrite = false }: RowWriteOptions = {}): Promise<void> {
    const versionOf = (taskGid: string) => (typeof asOf === 'string' ? asOf : asOf?.get(taskGid));
    const pending = rows.map((row) => ({ row, taskGid: rowTaskId(row), asOf: versionOf(rowTaskId(row)) }));
    const due = pending
      .filter((p) => p.asOf === undefined || this.isCurrent(p.taskGid, p.asOf))
      .map((p) => ({ ...p, fingerprint: fingerprint(p.row, p.asOf) }))
      .filter((p) => rewrite || p.asOf === undefined || !this.wroteLately(p.taskGid, p.fingerprint));
    await Promise.all(
      due
        .map(
          ({ row, taskGid, asOf: version, fingerprint }) =>
            new Promise<void>((resolve, reject) => {
              if (version !== undefined) this.noteNewest(taskGid, version);
              this.written.delete(taskGid);
              const writing = this.writing.get(taskGid);
              this.writing.set(taskGid, { rows: (writing?.rows ?? 0) + 1, overlapped: writing !== undefined });
              this.queue.push({
                row,
                fingerprint,
                queuedAt: Date.now(),
                settle: (error) => (error === undefined ? resolve() : reject(error)),
              });
              this.lastRowAt = Date.now();
              this.onRow?.();
            }),
        )
        .concat(this.drain()),
    );
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.some((p) => !this.inFlight.has(rowTaskId(p.row)))) {
        // The wait for rows comes before the slot: a slot held while filling would be lost to the
        // other workers sharing the base's budget, which may have full requests ready.
        if (this.fillPays()) await this.waitWhileFillPays();
        let slot: Release;
        try {
          slot = await this.pacer.acquire(); // rows keep arriving while we wait for the slot
        } catch (err) {
          for (const pending of this.queue.splice(0)) pending.settle(err);
          return;
        }
        const batch = this.takeBatch();
        if (batch.length === 0) {
          slot();
          continue;
        }
        if (batch.length === MAX_RECORDS_PER_REQUEST) this.lastFullAt = Date.now();
        void this.write(batch, slot);
      }
    } finally {
      this.draining = false;
    }
  }

  /** Takes up to 10 queued rows, oldest first, of tasks with no request in flight; marks their tasks in flight. */
  private takeBatch(): PendingRow[] {
    const batch: PendingRow[] = [];
    const left: PendingRow[] = [];
    for (const pending of this.queue) {
      if (batch.length < MAX_RECORDS_PER_REQUEST && !this.inFlight.has(rowTaskId(pending.row))) batch.push(pending);
      else left.push(pending);
    }
    this.queue.splice(0, this.queue.length, ...left);
    for (const pending of batch) this.inFlight.add(rowTaskId(pending.row));
    return batch;
  }

  /**
   * Says a row is on its way: a sync has begun to read its task. Call what it returns once the row
   * is queued, or will not come (the task is gone, an error); more calls do nothing.
   */
  rowComing(): () => void {
    this.coming += 1;
    let arrived = false;
    return () => {
      if (arrived) return;
      arrived = true;
      this.coming -= 1;
      this.onRow?.();
    };
  }

  /**
   * Whether a request short of 10 rows should wait for more: only while Airtable's rate holds rows
   * back, in a burst: enough rows are on their way to fill it, or the last full request went out
   * under a second ago. A short request then would spend a fifth of a second of that rate, which
   * the burst's last row waits for; at a steady pace, with few syncs under way and requests short
   * of 10, a row goes out in the first free slot.
   */
  private fillPays(): boolean {
    if (this.queue.length >= MAX_RECORDS_PER_REQUEST) return false;
    const now = Date.now();
    const stillComing = now - this.lastFullAt < FULL_RECENTLY_MS && now - this.lastRowAt < FILL_GAP_MS;
    return this.queue.length + this.coming >= MAX_RECORDS_PER_REQUEST || stillComing;
  }

  /** Waits while filling pays, until the oldest queued row has waited FILL_MAX_MS. */
  private waitWhileFillPays(): Promise<void> {
    return new Promise((resolve) => {
      let gap: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(limit);
        clearTimeout(gap);
        this.onRow = undefined;
        resolve();
      };
      const check = () => {
        if (!this.fillPays()) done();
      };
      // With no row for FILL_GAP_MS, a wait that only a recent full request kept going ends.
      const renewGap = () => {
        clearTimeout(gap);
        gap = setTimeout(check, FILL_GAP_MS);
      };
      const limit = setTimeout(done, Math.max(0, this.queue[0].queuedAt + FILL_MAX_MS - Date.now()));
      renewGap();
      this.onRow = () => {
        renewGap();
        check();
      };
    });
  }

  /** One request for a batch, in the paced slot already taken. */
  private async write(batch: PendingRow[], slot: Release): Promise<void> {
    // Two rows of one task in a request would be refused; the later one is the fresher.
    const byTask = new Map(batch.map((p) => [rowTaskId(p.row), p]));
    const settle = (taskGid: string, error?: unknown) => {
      const rows = batch.filter((p) => rowTaskId(p.row) === taskGid);
      const writing = this.writing.get(taskGid) ?? { rows: rows.length, overlapped: true };
      writing.rows -= rows.length;
      if (writing.rows <= 0) {
        this.writing.delete(taskGid);
        if (error === undefined && !writing.overlapped) this.remember(taskGid, byTask.get(taskGid)!.fingerprint);
      }
      this.inFlight.delete(taskGid);
      if (this.queue.length > 0) void this.drain(); // a row of this task may have waited for this answer
      rows.forEach((p) => p.settle(error));
    };
    try {
      await this.send(
        [...byTask.values()].map((p) => p.row),
        slot,
      );
      byTask.forEach((_, taskGid) => settle(taskGid));
    } catch (err) {
      if (err instanceof ApiError && err.status === 422 && byTask.size > 1) {
        // One row Airtable refuses must not fail the others: write each task's row alone.
        await Promise.all(
          [...byTask].map(([taskGid, p]) =>
            this.send([p.row]).then(
              () => settle(taskGid),
              (error: unknown) => settle(taskGid, error),
            ),
          ),
        );
        return;
      }
      byTask.forEach((_, taskGid) => settle(taskGid, err));
    }
  }

  /** Whether no newer modification of the task than `asOf` is queued or written here. */
  private isCurrent(taskGid: string, asOf: string): boolean {
    const newest = this.newest.get(taskGid);
    return newest === undefined || Date.now() - newest.at >= NEWEST_TTL_MS || compareModifications(asOf, newest.asOf) >= 0;
  }

  private noteNewest(taskGid: string, asOf: string): void {
    if (this.isCurrent(taskGid, asOf)) keepLast(this.newest, taskGid, { asOf, at: Date.now() }, NEWEST_MAX);
  }

  private wroteLately(taskGid: string, rowFingerprint: string): boolean {
    const last = this.written.get(taskGid);
    return last !== undefined && Date.now() - last.at < WRITTEN_TTL_MS && last.fingerprint === rowFingerprint;
  }

  private remember(taskGid: string, rowFingerprint: string): void {
    keepLast(this.written, taskGid, { fingerprint: rowFingerprint, at: Date.now() }, WRITTEN_MAX);
  }

  /**
   * The upsert request itself: performUpsert merging on Task ID, so re-sending it after a 5xx is
   * safe. Each re-send takes a paced slot of its own; the first may use one taken already.
   */
  private send(rows: TaskRow[], slot?: Release): Promise<Records<FieldSet>> {
    const upsert = this.table.update.bind(this.table) as unknown as UpsertCall;
    const request = () =>
      upsert(
        rows.map((row) => ({ fields: row as unknown as FieldSet })),
        { performUpsert: { fieldsToMergeOn: [TASK_ID] }, ...(this.typecast ? { typecast: true } : {}) },
      );
    return retryingServerErrors((attempt) => (attempt === 0 && slot ? this.unpaced(request).finally(slot) : this.call(request)));
  }

  /** Opens the connection with one paced request for one cell. */
  async warmUp(): Promise<void> {
    await this.call(() => this.table.select({ maxRecords: 1, fields: [TASK_ID] }).firstPage());
  }

  /** Every row of the table (our five columns), 100 a request. */
  allRows(onPage?: (rowsSoFar: number) => void): Promise<StoredRow[]> {
    return this.list({}, onPage);
  }

  /** The rows of these tasks, in requests of up to 100 ids. */
  async findByTaskIds(taskGids: string[]): Promise<StoredRow[]> {
    const rows: StoredRow[] = [];
    for (let i = 0; i < taskGids.length; i += PAGE_SIZE) {
      const terms = taskGids.slice(i, i + PAGE_SIZE).map((gid) => `{${TASK_ID}} = ${formulaString(gid)}`);
      rows.push(...(await this.list({ filterByFormula: terms.length === 1 ? terms[0] : `OR(${terms.join(', ')})` })));
    }
    return rows;
  }

  /** Deletes these rows; a task whose row is deleted is written in full when it next syncs. */
  async delete(rows: StoredRow[]): Promise<void> {
    for (const row of rows) this.written.delete(String(row.fields[TASK_ID]));
    for (let i = 0; i < rows.length; i += MAX_RECORDS_PER_REQUEST) {
      await this.call(() => this.table.destroy(rows.slice(i, i + MAX_RECORDS_PER_REQUEST).map((r) => r.recordId)));
    }
  }

  /** Pages through a query, each page's request in a paced slot of its own; `onPage` hears of each page. */
  private async list(params: { filterByFormula?: string }, onPage?: (rowsSoFar: number) => void): Promise<StoredRow[]> {
    const rows: StoredRow[] = [];
    const query = this.table.select({ ...params, pageSize: PAGE_SIZE, fields: columnNames(this.columns) });
    let slot = await this.pacer.acquire();
    try {
      await this.unpaced(
        () =>
          new Promise<void>((resolve, reject) => {
            query.eachPage(
              (records, fetchNextPage) => {
                slot();
                rows.push(...records.map((r) => ({ recordId: r.id, createdTime: r._rawJson.createdTime, fields: r.fields })));
                onPage?.(rows.length);
                this.pacer.acquire().then((next) => {
                  slot = next;
                  fetchNextPage();
                }, reject);
              },
              (err) => (err ? reject(err) : resolve()),
            );
          }),
      );
    } finally {
      slot(); // after unpaced has paused the pacer for a 429
    }
    return rows;
  }

  private call<T>(work: () => Promise<T>): Promise<T> {
    return this.pacer.run(() => this.unpaced(work));
  }

  private async unpaced<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const apiError = asApiError(err, this.lockoutMs);
      if (apiError.status === 429) this.pacer.pause(this.lockoutMs);
      throw apiError;
    }
  }
}

interface AirtableErrorShape {
  error?: string;
  message?: string;
  statusCode?: number | null;
}

/** airtable.js rejects with AirtableError, which is not an Error subclass: normalise it. */
function asApiError(err: unknown, lockoutMs: number): ApiError {
  if (err instanceof ApiError) return err;
  const shape = (typeof err === 'object' && err !== null ? err : {}) as AirtableErrorShape;
  const status = typeof shape.statusCode === 'number' ? shape.statusCode : undefined;
  const message = [shape.error, shape.message].filter(Boolean).join(': ') || String(err);
  return new ApiError('Airtable', status, message, status === 429 ? lockoutMs : undefined);
}
