/**
 * The webhook's write-ahead journal. A delivery is answered 200 once its task events are written
 * to the journal file, not once Temporal has them, so Asana hears back in milliseconds however
 * busy Temporal is. A forwarder then hands the events to Temporal (signalWithStart, as the webhook
 * did itself before) and forgets them once Temporal has them. After a crash or a restart the
 * journal is replayed: a repeated signal costs one more sync of the task, never a wrong or second
 * row.
 *
 * Durability: the write reaches the kernel before the answer, so a crash, kill or restart of the
 * webhook loses nothing. The fdatasync follows in the background, right away, one at a time
 * (writes made meanwhile share the next one), because on a busy disk it took up to 40 ms and held
 * every answer behind it. Only a crash of the machine in that millisecond window can lose an
 * acknowledged delivery, and the reconcile schedule catches what any webhook missed.
 *
 * Deliveries are refused (the caller answers 503, and Asana keeps them) while Temporal is not
 * taking events, or while too many wait for it: Asana's retries are then the buffer, not us.
 *
 * On disk: DATA_DIR/journal/<sequence>.jsonl, one JSON entry a line. A segment is deleted once all
 * of its entries are in Temporal; a new one starts with the next delivery.
 */
import { closeSync, fdatasync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/logger';

export interface JournalEntry {
  projectGid: string;
  /** Each task of the delivery with its actions, in order. */
  tasks: [string, string[]][];
  /** When the webhook received the delivery (ms since the epoch). */
  receivedAt: number;
}

/** Hands one entry to Temporal; rejects when Temporal did not take it. */
export type Forward = (entry: JournalEntry) => Promise<void>;

export interface JournalOptions {
  /** Entries waiting for Temporal beyond which deliveries are refused. */
  maxBacklog?: number;
  /** Entries forwarded at once. */
  concurrency?: number;
  /** First pause after a failed forward; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** Why a delivery was not journaled; the webhook answers 503. */
export class JournalRefusal extends Error {}

interface Segment {
  file: string;
  /** Open while entries are appended to it. */
  fd?: number;
  /** Entries of this segment not yet in Temporal. */
  pending: number;
}

interface Queued {
  entry: JournalEntry;
  segment: Segment;
}

export class Journal {
  private readonly dir: string;
  private readonly options: Required<JournalOptions>;
  /** Journaled entries not yet forwarded, oldest first. */
  private readonly queue: Queued[] = [];
  private current?: Segment;
  private nextSequence = 0;
  /** The fdatasync under way, if any, and whether writes since it began need another. */
  private syncing?: { fd: number; done: Promise<void> };
  private syncAgain = false;
  private forwarding = 0;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;

  private constructor(
    dataDir: string,
    private readonly forward: Forward,
    private readonly log: Logger,
    options: JournalOptions,
  ) {
    this.dir = path.join(dataDir, 'journal');
    this.options = { maxBacklog: 20_000, concurrency: 32, retryMs: 500, maxRetryMs: 10_000, ...options };
  }

  /** Opens the journal under DATA_DIR and starts forwarding what an earlier run left in it. */
  static async open(dataDir: string, forward: Forward, log: Logger, options: JournalOptions = {}): Promise<Journal> {
    const journal = new Journal(dataDir, forward, log, options);
    await journal.replay();
    return journal;
  }

  /** Whether deliveries are being taken: Temporal takes events, and the backlog has room. */
  get accepting(): boolean {
    return this.failures === 0 && this.backlog < this.options.maxBacklog && !this.closed;
  }

  /** Entries journaled, not yet in Temporal. */
  get backlog(): number {
    return this.queue.length + this.forwarding;
  }

  /**
   * Writes the entry to the journal file and queues it for Temporal; throws JournalRefusal when
   * deliveries are not being taken. Synchronous: a line of a few hundred bytes into the page
   * cache costs microseconds, less than handing it to a thread and back.
   */
  append(entry: JournalEntry): void {
    if (!this.accepting) {
      const why = this.closed ? 'shutting down' : this.failures > 0 ? 'Temporal is not taking events' : `${this.backlog} events already wait for Temporal`;
      throw new JournalRefusal(why);
    }
    const segment = this.current ?? this.startSegment();
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    try {
      if (writeSync(segment.fd!, line) !== line.length) throw new Error('short write to the journal');
    } catch (err) {
      // A torn line must not run into later ones: the next entry starts a new segment.
      this.log.error({ err: (err as Error).message }, 'journal write failed');
      void this.endSegment(segment);
      throw err;
    }
    segment.pending += 1;
    this.queue.push({ entry, segment });
    this.pump();
    this.sync();
  }

  /**
   * Stops forwarding and closes the file, synced; what is still journaled is forwarded by the next
   * run. Forwards under way end on their own (the caller keeps its connection open for them).
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
    this.current = { file, fd: openSync(file, 'a', 0o600), pending: 0 };
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

  /** Forwards queued entries, a few at once; after a failure, waits and tries the oldest again. */
  private pump(): void {
    while (!this.closed && this.retryTimer === undefined && this.forwarding < this.options.concurrency && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.forwarding += 1;
      void this.forward(item.entry).then(
        () => {
          this.failures = 0;
          this.forwarded(item.segment);
        },
        (err: unknown) => {
          this.queue.unshift(item);
          this.failures += 1;
          const pause = Math.min(this.options.retryMs * 2 ** (this.failures - 1), this.options.maxRetryMs);
          if (this.failures === 1) this.log.warn({ err: (err as Error).message }, 'Temporal did not take journaled events; refusing deliveries until it does');
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            this.pump();
          }, pause);
        },
      ).finally(() => {
        this.forwarding -= 1;
        this.pump();
      });
    }
  }

  private forwarded(segment: Segment): void {
    segment.pending -= 1;
    // The segment being written to ends as soon as it is drained, so a restart replays little.
    if (segment.pending === 0) void this.endSegment(segment);
  }

  /** Queues the entries of segments an earlier run left behind; a torn last line is skipped. */
  private async replay(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const files = (await readdir(this.dir)).filter((f) => /^\d{12}\.jsonl$/.test(f)).sort();
    for (const name of files) {
      const segment: Segment = { file: path.join(this.dir, name), pending: 0 };
      for (const line of (await readFile(segment.file, 'utf8')).split('\n')) {
        const entry = parseEntry(line);
        if (entry === undefined) continue;
        segment.pending += 1;
        this.queue.push({ entry, segment });
      }
      if (segment.pending === 0) await unlink(segment.file);
      this.nextSequence = Number(name.slice(0, 12)) + 1;
    }
    if (this.queue.length > 0) this.log.info({ entries: this.queue.length }, 'replaying journaled events into Temporal');
    this.pump();
  }
}

function parseEntry(line: string): JournalEntry | undefined {
  if (line.trim() === '') return undefined;
  try {
    const entry = JSON.parse(line) as JournalEntry;
    return typeof entry.projectGid === 'string' && Array.isArray(entry.tasks) && typeof entry.receivedAt === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}
