/**
 * The webhook's write-ahead journal. A delivery is answered 200 once its task events are written
 * to the journal file, not once Temporal has them, so Asana hears back in milliseconds however
 * busy Temporal is. A forwarder then hands the events to Temporal (signalWithStart) and forgets
 * them once Temporal has them. The waiting events of one task go as one signal: Asana sends
 * several for one change, and a signal costs Temporal about as much as the sync it asks for.
 * After a crash or a restart the journal is replayed: a repeated signal costs one more sync of the
 * task, never a wrong or second row.
 *
 * Durability: the write reaches the kernel before the answer, so a crash, kill or restart of the
 * webhook loses nothing. The fdatasync follows in the background, right away, one at a time
 * (writes made meanwhile share the next one), because on a busy disk it takes tens of
 * milliseconds and would hold every answer behind it. Only a crash of the machine in that millisecond window can lose an
 * acknowledged delivery, and the reconcile schedule catches what any webhook missed.
 *
 * A delivery of more than `maxDirectTasks` tasks (Asana's own are far smaller; a leaked secret's
 * can name 13,000 invented gids), and any entry the caller marked `check` (gids of a project that
 * sends more unseen ones than unseen-tasks.ts lets through), starts no run per task: its events
 * wait in a queue of their own and go to Temporal in batches, as check runs that start the sync
 * of each task Asana lists in the project (workflows/check-tasks.ts). That queue has its own
 * bound, so such deliveries never take the room of Asana's ordinary ones, and the check's
 * forwards never take their slots.
 *
 * Deliveries are refused (the caller answers 503, and Asana keeps them) while Temporal is not
 * taking events, or while too many events wait for it: Asana's retries are then the buffer, not us.
 * An event Temporal refuses for a reason a retry cannot fix (Forward rejects with Unforwardable),
 * and a line a replay cannot read, is set aside, not retried: appended to DATA_DIR/journal-rejected.jsonl
 * with the reason, logged and counted, so one bad entry never stops the others.
 *
 * On disk: DATA_DIR/journal/<sequence>.jsonl, one task event a line. A segment is deleted once all
 * of its events are in Temporal; a new one starts when it is drained or past SEGMENT_EVENTS events
 * (a restart replays a surviving segment whole, so segments stay small).
 */
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isGid } from '../config/gid';
import { mergeChanges, type TaskChange } from '../rows/freshness';
import type { Logger } from '../lib/logger';
import { isoTime, TASK_ACTIONS } from './delivery';

/** One task event on its way to Temporal: its change (rows/freshness.ts), when received, for which task. */
export interface JournalEntry extends TaskChange {
  projectGid: string;
  taskGid: string;
  receivedAt: number;
  /** From a delivery over `maxDirectTasks` tasks: Asana must list the task before its run starts. */
  check?: true;
}

/** Hands one entry to Temporal; rejects when Temporal did not take it (with Unforwardable when it never will). */
export type Forward = (entry: JournalEntry) => Promise<void>;

/** Hands entries of one project to Temporal as one check run; rejects as Forward does. */
export type CheckForward = (entries: JournalEntry[]) => Promise<void>;

/** Temporal refused the entry for a reason a retry cannot fix: it is set aside, not retried. */
export class Unforwardable extends Error {}

/** Why entries were set aside. */
export type SetAsideReason = 'refused_by_temporal' | 'unreadable';

export interface JournalOptions {
  /** Events waiting for Temporal beyond which deliveries are refused. */
  maxBacklog?: number;
  /** Forwards the events of deliveries over `maxDirectTasks` tasks; without it every delivery goes direct. */
  check?: CheckForward;
  /** Tasks a delivery may hold and still start or signal a run for each at once. */
  maxDirectTasks?: number;
  /**
   * Whether an entry the caller marked `check` may go to its task's run after all, asked as its
   * check batch is formed (unseen-tasks.ts: checks vouched for its project). Entries of deliveries
   * over `maxDirectTasks` always wait for their check.
   */
  release?: (entry: JournalEntry) => boolean;
  /** The most events of a project one check run takes now (CHECK_BATCH when not given). */
  checkBatch?: (projectGid: string) => number;
  /** Events of such deliveries waiting for Temporal beyond which they are refused (others are not). */
  maxCheckBacklog?: number;
  /** Events forwarded at once. */
  concurrency?: number;
  /** First pause after a failed forward; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Told of every entry set aside (for a metric). */
  onSetAside?: (reason: SetAsideReason, count: number) => void;
}

/** Why a delivery was not journaled; the webhook answers 503. */
export class JournalRefusal extends Error {}

/** A segment past this many events ends, so a restart replays little. */
const SEGMENT_EVENTS = 2_000;
/**
 * This many refusals in a row, with no event taken between them, are not bad events but a
 * Temporal that refuses everything (a search attribute missing, say): intake stops instead.
 */
const REFUSALS_MEANING_OUTAGE = 10;
const SEGMENT_NAME = /^\d{12}\.jsonl$/;
/** Events of one project a check run takes at most: its input stays far below Temporal's 2 MB payload limit. */
export const CHECK_BATCH = 2_000;

interface Segment {
  file: string;
  /** Open while entries are appended to it. */
  fd?: number;
  /** Events written to it. */
  events: number;
  /** Entries of this segment not yet in Temporal (or set aside). */
  pending: number;
}

/** A journaled entry and the segment that holds it. */
interface Journaled {
  entry: JournalEntry;
  segment: Segment;
  /** Marked `check` by the caller, not for its delivery's size: `release` may send it direct. */
  releasable?: true;
}

/** The waiting events of one task, forwarded as one. */
type Queued = Journaled[];

const taskKey = ({ entry }: Journaled) => `${entry.projectGid}/${entry.taskGid}`;

/** One event standing for several of one task (mergeChanges): a read that serves it serves them all. */
export function mergedEntry(entries: readonly JournalEntry[]): JournalEntry {
  if (entries.length === 1) return entries[0];
  const { projectGid, taskGid } = entries[0];
  const { changedAt, receivedAt } = mergeChanges(entries);
  return { projectGid, taskGid, receivedAt: receivedAt!, ...(changedAt ? { changedAt } : {}) };
}

/** A FIFO whose shift is O(1): the backlog can hold tens of thousands of events. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Puts an item back at the front (a forward to try again first). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }
}

export class Journal {
  private readonly dir: string;
  private readonly rejectedFile: string;
  private readonly options: Required<Omit<JournalOptions, 'onSetAside' | 'check' | 'release' | 'checkBatch'>> &
    Pick<JournalOptions, 'onSetAside' | 'check' | 'release' | 'checkBatch'>;
  /** Journaled entries not yet forwarded, by task, oldest task first. */
  private readonly queue = new Fifo<Queued>();
  /** Entries of deliveries over maxDirectTasks, for check runs; a batch that failed goes first. */
  private readonly toCheck = new Fifo<Journaled>();
  private checkAgain?: Journaled[];
  /** Such entries queued or being forwarded, and whether a check forward is under way. */
  private checkEntries = 0;
  private checking = false;
  /** The queue's item of each task that has one, for later events of the task to join. */
  private readonly queuedByTask = new Map<string, Queued>();
  /** Entries in the queue, and in forwards under way. */
  private queuedEntries = 0;
  private forwardingEntries = 0;
  private current?: Segment;
  private nextSequence = 0;
  /** The fdatasync under way, if any, and whether writes since it began need another. */
  private syncing?: { fd: number; done: Promise<void> };
  private syncAgain = false;
  private forwarding = 0;
  private failures = 0;
  /** Events set aside as refused since Temporal last took one. */
  private refusedInARow = 0;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;

  private constructor(
    dataDir: string,
    private readonly forward: Forward,
    private readonly log: Logger,
    options: JournalOptions,
  ) {
    this.dir = path.join(dataDir, 'journal');
    this.rejectedFile = path.join(dataDir, 'journal-rejected.jsonl');
    this.options = {
      maxBacklog: 20_000,
      maxDirectTasks: options.check ? 100 : Infinity,
      maxCheckBacklog: 50_000,
      concurrency: 4,
      retryMs: 500,
      maxRetryMs: 10_000,
      ...options,
    };
  }

  /** Opens the journal under DATA_DIR and starts forwarding what an earlier run left in it. */
  static async open(dataDir: string, forward: Forward, log: Logger, options: JournalOptions = {}): Promise<Journal> {
    const journal = new Journal(dataDir, forward, log, options);
    await journal.replay();
    return journal;
  }

  /** Whether deliveries are being taken: Temporal takes events, and the backlog has room. */
  get accepting(): boolean {
    return this.failures === 0 && this.directBacklog < this.options.maxBacklog && !this.closed;
  }

  private get directBacklog(): number {
    return this.queuedEntries + this.forwardingEntries;
  }

  /** Events journaled, not yet in Temporal (those waiting for a check run too). */
  get backlog(): number {
    return this.directBacklog + this.checkEntries;
  }

  /**
   * Writes one delivery's events to the journal file and queues them for Temporal; throws
   * JournalRefusal when deliveries are not being taken. Synchronous: a few lines into the page
   * cache cost microseconds, less than handing them to a thread and back.
   */
  append(entries: JournalEntry[]): void {
    const large = entries.length > this.options.maxDirectTasks;
    const journaled = large ? entries.map((e): JournalEntry => ({ ...e, check: true })) : entries;
    const refusal = this.refusal(journaled);
    if (refusal !== undefined) throw new JournalRefusal(refusal);
    if (entries.length === 0) return;
    const segment = this.current ?? this.startSegment();
    const lines = Buffer.from(journaled.map((e) => `${JSON.stringify(e)}\n`).join(''));
    try {
      if (writeSync(segment.fd!, lines) !== lines.length) throw new Error('short write to the journal');
    } catch (err) {
      // A torn line must not run into later ones: the next delivery starts a new segment.
      this.log.error({ err: (err as Error).message }, 'journal write failed');
      void this.endSegment(segment);
      throw err;
    }
    segment.events += journaled.length;
    segment.pending += journaled.length;
    for (const entry of journaled) this.enqueue(entry, segment, !large && entry.check);
    if (large)
      this.log.info({ projectGid: entries[0].projectGid, tasks: entries.length }, 'delivery of many tasks: Asana must list them first');
    if (segment.events >= SEGMENT_EVENTS) void this.endSegment(segment);
    else this.sync();
    this.pump();
  }

  /** Why a delivery is refused now, by the queues its entries go to (check runs, or their own); undefined when it is taken. */
  private refusal(entries: readonly JournalEntry[]): string | undefined {
    if (this.closed) return 'shutting down';
    if (this.failures > 0) return 'Temporal is not taking events';
    const checked = entries.some((e) => e.check);
    if (checked && this.checkEntries >= this.options.maxCheckBacklog) return `${this.checkEntries} events already wait for a check`;
    if (entries.some((e) => !e.check) && this.directBacklog >= this.options.maxBacklog)
      return `${this.directBacklog} events already wait for Temporal`;
    return undefined;
  }

  /**
   * Stops forwarding and closes the file, synced; what is still journaled is forwarded by the next
   * run. At most `concurrency` forwards are under way, and each ends by its own deadline.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.current) await this.endSegment(this.current);
  }

  /** Starts an fdatasync of the current segment, or asks for one more after the one under way. */
  private sync(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const fd = this.current?.fd;
    if (fd === undefined) return;
    this.syncAgain = false;
    const done = this.datasync(fd).then(() => {
      this.syncing = undefined;
      if (this.syncAgain) this.sync();
    });
    this.syncing = { fd, done };
  }

  private datasync(fd: number): Promise<void> {
    return new Promise((resolve) => {
      fdatasync(fd, (err) => {
        if (err) this.log.error({ err: err.message }, 'journal fdatasync failed');
        resolve();
      });
    });
  }

  private startSegment(): Segment {
    const file = path.join(this.dir, `${String(this.nextSequence++).padStart(12, '0')}.jsonl`);
    this.current = { file, fd: openSync(file, 'a', 0o600), events: 0, pending: 0 };
    return this.current;
  }

  /** Closes a segment, synced while it still holds entries; deletes it once it holds none. */
  private async endSegment(segment: Segment): Promise<void> {
    if (this.current === segment) this.current = undefined;
    const { fd } = segment;
    segment.fd = undefined;
    if (fd !== undefined) {
      // Not under a background fdatasync of the same descriptor; later ones sync other segments.
      while (this.syncing?.fd === fd) await this.syncing.done;
      if (segment.pending > 0) await this.datasync(fd);
      closeSync(fd);
    }
    if (segment.pending === 0) await unlink(segment.file).catch(() => undefined);
  }

  /** Queues an entry, with the waiting ones of its task if there are any (or for a check run). */
  private enqueue(entry: JournalEntry, segment: Segment, releasable?: boolean): void {
    const journaled: Journaled = { entry, segment, ...(releasable ? { releasable } : {}) };
    if (entry.check && this.options.check) {
      this.toCheck.push(journaled);
      this.checkEntries += 1;
      return;
    }
    this.enqueueDirect(journaled);
  }

  /** Queues an entry to start or signal its task's run, with the waiting ones of its task if any. */
  private enqueueDirect(journaled: Journaled): void {
    const waiting = this.queuedByTask.get(taskKey(journaled));
    if (waiting) waiting.push(journaled);
    else {
      const item = [journaled];
      this.queue.push(item);
      this.queuedByTask.set(taskKey(journaled), item);
    }
    this.queuedEntries += 1;
  }

  /**
   * Forwards queued tasks, a few at once, and one check batch beside them; after a failure, waits
   * and tries the oldest again.
   */
  private pump(): void {
    while (!this.closed && this.retryTimer === undefined) {
      if (!this.checking && this.options.check && (this.checkAgain || this.toCheck.length > 0)) this.forwardCheck(this.options.check);
      else if (this.forwarding < this.options.concurrency && this.queue.length > 0) this.forwardTask();
      else return;
    }
  }

  private forwardTask(): void {
    const item = this.queue.shift()!;
    const key = taskKey(item[0]);
    this.queuedByTask.delete(key);
    const count = item.length;
    this.queuedEntries -= count;
    this.forwardingEntries += count;
    this.forwarding += 1;
    void this.send(item, this.forward(mergedEntry(item.map((j) => j.entry))), () => {
      // First again; the task's events that came meanwhile wait behind it, or join it if none do.
      this.queue.unshift(item);
      this.queuedEntries += count;
      if (!this.queuedByTask.has(key)) this.queuedByTask.set(key, item);
    }).finally(() => {
      this.forwarding -= 1;
      this.forwardingEntries -= count;
      this.pump();
    });
  }

  /** Sends the oldest check entries of one project, up to its check batch, as one check run. */
  private forwardCheck(check: CheckForward): void {
    let batch = this.checkAgain;
    this.checkAgain = undefined;
    if (!batch) {
      batch = [];
      let limit = CHECK_BATCH;
      while (batch.length < limit && this.toCheck.length > 0) {
        const next = this.toCheck.shift()!;
        if (next.releasable && this.options.release?.(next.entry)) {
          this.checkEntries -= 1;
          this.enqueueDirect(next);
        } else if (batch.length > 0 && next.entry.projectGid !== batch[0].entry.projectGid) {
          this.toCheck.unshift(next);
          break;
        } else {
          if (batch.length === 0) limit = this.options.checkBatch?.(next.entry.projectGid) ?? CHECK_BATCH;
          batch.push(next);
        }
      }
      if (batch.length === 0) return; // all released: pump forwards them
    }
    const sent = batch;
    this.checking = true;
    void this.send(
      sent,
      check(sent.map((j) => j.entry)),
      () => (this.checkAgain = sent),
      (count) => (this.checkEntries -= count),
    ).finally(() => {
      this.checking = false;
      this.pump();
    });
  }

  /**
   * Settles one forward: its entries are done once Temporal has them, or set aside when it never
   * will; otherwise `putBack` queues them first again and forwarding pauses, longer each time.
   */
  private async send(item: Journaled[], forwarded: Promise<void>, putBack: () => void, settled?: (count: number) => void): Promise<void> {
    try {
      await forwarded;
      this.failures = 0;
      this.refusedInARow = 0;
    } catch (err) {
      const lines = item.map((j) => JSON.stringify(j.entry));
      if (
        !(err instanceof Unforwardable) ||
        this.refusedInARow + 1 >= REFUSALS_MEANING_OUTAGE ||
        !this.setAside('refused_by_temporal', lines, err.message)
      ) {
        putBack();
        this.failures += 1;
        const pause = Math.min(this.options.retryMs * 2 ** (this.failures - 1), this.options.maxRetryMs);
        if (this.failures === 1)
          this.log.warn({ err: (err as Error).message }, 'Temporal did not take journaled events; refusing deliveries until it does');
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, pause);
        return;
      }
      this.refusedInARow += 1;
    }
    settled?.(item.length);
    this.releaseFromSegments(item);
  }

  /** Entries are in Temporal, or set aside: their segments hold fewer. */
  private releaseFromSegments(item: Journaled[]): void {
    for (const { segment } of item) {
      segment.pending -= 1;
      // A segment ends as soon as it is drained, so a restart replays little.
      if (segment.pending === 0) void this.endSegment(segment);
    }
  }

  /**
   * Keeps lines that will not be forwarded, with why, for an operator to inspect (appended and
   * fsynced before the lines leave the journal); logs and counts them. False when they could not
   * be kept: the caller then keeps them in the journal.
   */
  private setAside(reason: SetAsideReason, lines: string[], detail: string): boolean {
    const at = new Date().toISOString();
    let fd: number | undefined;
    try {
      fd = openSync(this.rejectedFile, 'a', 0o600);
      writeSync(fd, lines.map((line) => `${JSON.stringify({ at, reason, detail, line })}\n`).join(''));
      fsyncSync(fd);
    } catch (err) {
      this.log.error(
        { err: (err as Error).message, reason, detail, lines },
        'could not keep journal entries aside; they stay in the journal',
      );
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.log.error({ reason, detail, count: lines.length, file: this.rejectedFile }, 'journal entries set aside, not forwarded');
    this.options.onSetAside?.(reason, lines.length);
    return true;
  }

  /** Queues the entries of segments an earlier run left behind; unreadable lines are set aside. */
  private async replay(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const found = (await readdir(this.dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const item of found) {
      if (SEGMENT_NAME.test(item.name)) this.nextSequence = Math.max(this.nextSequence, Number(item.name.slice(0, 12)) + 1);
      if (!SEGMENT_NAME.test(item.name) || !item.isFile()) {
        this.log.warn({ segment: item.name }, 'not a journal segment; left alone');
        continue;
      }
      const segment: Segment = { file: path.join(this.dir, item.name), events: 0, pending: 0 };
      let text: string;
      try {
        text = await readFile(segment.file, 'utf8');
      } catch (err) {
        this.log.error({ err: (err as Error).message, segment: item.name }, 'cannot read a journal segment; left alone');
        continue;
      }
      const readable: string[] = [];
      const unreadable: string[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        const entries = parseLine(line);
        if (entries === undefined) {
          unreadable.push(line);
          continue;
        }
        readable.push(line);
        segment.pending += entries.length;
        for (const entry of entries) this.enqueue(entry, segment);
      }
      // Set aside once: the segment is rewritten without them, so a later restart does not again.
      if (unreadable.length > 0 && this.setAside('unreadable', unreadable, `segment ${item.name}`)) {
        await rewrite(segment.file, readable).catch((err: Error) =>
          this.log.error({ err: err.message, segment: item.name }, 'could not rewrite a journal segment'),
        );
      }
      if (segment.pending === 0) await unlink(segment.file).catch(() => undefined);
    }
    if (this.queuedEntries > 0) this.log.info({ entries: this.queuedEntries }, 'replaying journaled events into Temporal');
    this.pump();
  }
}

/** Replaces a file's lines, whole or not at all. */
async function rewrite(file: string, lines: string[]): Promise<void> {
  const temp = `${file}.rewrite`;
  await writeFile(temp, lines.map((line) => `${line}\n`).join(''), { mode: 0o600 });
  await rename(temp, file);
}

/** A journal line's events, checked as the webhook checks a delivery's; undefined for a line that is not one. */
function parseLine(line: string): JournalEntry[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { projectGid, taskGid, action, receivedAt, changedAt, tasks, check } = value as Record<string, unknown>;
  if (typeof projectGid !== 'string' || !isGid(projectGid) || typeof receivedAt !== 'number' || !Number.isFinite(receivedAt))
    return undefined;
  if (check !== undefined && check !== true) return undefined;
  // A time that does not parse is left out: the sync then falls back to the receipt time.
  const time = isoTime(changedAt);
  // Lines of earlier versions carry the event's action: not needed any more, but still checked.
  const knownAction = (act: unknown) => act === undefined || (typeof act === 'string' && TASK_ACTIONS.has(act));
  const event = (gid: unknown, act: unknown): JournalEntry | undefined =>
    typeof gid === 'string' && isGid(gid) && knownAction(act)
      ? { projectGid, taskGid: gid, receivedAt, ...(time ? { changedAt: time } : {}), ...(check ? { check } : {}) }
      : undefined;
  // A line of a version that journaled a whole delivery: {"projectGid","tasks":[[gid,[actions]]],"receivedAt"}.
  const events = Array.isArray(tasks)
    ? tasks.map((t: unknown) => (Array.isArray(t) && Array.isArray(t[1]) ? event(t[0], t[1][t[1].length - 1]) : undefined))
    : [event(taskGid, action)];
  return events.every((e) => e !== undefined) ? events : undefined;
}
