/**
 * The webhook's write-ahead journal. A delivery is answered 200 once its task events are on disk
 * (written and fsync'd, many deliveries per fsync), not once Temporal has them, so Asana hears
 * back in milliseconds however busy Temporal is. A forwarder then hands the events to Temporal
 * (signalWithStart, as the webhook did itself before) and forgets them once Temporal has them.
 * After a crash or a restart the journal is replayed: a repeated signal costs one more sync of
 * the task, never a wrong or second row.
 *
 * Deliveries are refused (the caller answers 503, and Asana keeps them) while Temporal is not
 * taking events, or while too many wait for it: Asana's retries are then the buffer, not us.
 *
 * On disk: DATA_DIR/journal/<sequence>.jsonl, one JSON entry a line. A segment is deleted once all
 * of its entries are in Temporal; a new one starts with the next delivery.
 */
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
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
  handle?: FileHandle;
  /** Entries of this segment not yet in Temporal. */
  pending: number;
}

interface Queued {
  entry: JournalEntry;
  segment: Segment;
}

interface Waiting {
  entry: JournalEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Journal {
  private readonly dir: string;
  private readonly options: Required<JournalOptions>;
  /** Journaled entries not yet forwarded, oldest first. */
  private readonly queue: Queued[] = [];
  /** Entries waiting for the next write. */
  private waiting: Waiting[] = [];
  private current?: Segment;
  private nextSequence = 0;
  private writing = false;
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

  /** Entries on disk or being written, not yet in Temporal. */
  get backlog(): number {
    return this.queue.length + this.forwarding + this.waiting.length;
  }

  /** Resolves once the entry is on disk; rejects with JournalRefusal when deliveries are not being taken. */
  append(entry: JournalEntry): Promise<void> {
    if (!this.accepting) {
      const why = this.closed ? 'shutting down' : this.failures > 0 ? 'Temporal is not taking events' : `${this.backlog} events already wait for Temporal`;
      return Promise.reject(new JournalRefusal(why));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ entry, resolve, reject });
      void this.write();
    });
  }

  /**
   * Stops forwarding and closes the file; what is still journaled is forwarded by the next run.
   * Forwards under way end on their own (the caller keeps its connection open for them).
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    while (this.writing) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.current?.handle?.close();
  }

  /** Writes every waiting entry with one write and one fsync (group commit). */
  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        let segment: Segment | undefined;
        try {
          segment = this.current ?? (await this.startSegment());
          await segment.handle!.write(batch.map((w) => `${JSON.stringify(w.entry)}\n`).join(''));
          await segment.handle!.datasync();
        } catch (err) {
          // A torn write must not run into later lines: the next batch starts a new segment.
          this.log.error({ err: (err as Error).message }, 'journal write failed');
          if (segment) await this.endSegment(segment);
          batch.forEach((w) => w.reject(err));
          continue;
        }
        segment.pending += batch.length;
        for (const w of batch) {
          this.queue.push({ entry: w.entry, segment });
          w.resolve();
        }
        this.pump();
      }
    } finally {
      this.writing = false;
    }
  }

  private async startSegment(): Promise<Segment> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, `${String(this.nextSequence++).padStart(12, '0')}.jsonl`);
    this.current = { file, handle: await open(file, 'a', 0o600), pending: 0 };
    return this.current;
  }

  private async endSegment(segment: Segment): Promise<void> {
    if (this.current === segment) this.current = undefined;
    await segment.handle?.close().catch(() => undefined);
    segment.handle = undefined;
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
    if (segment.pending === 0 && !(this.writing && this.current === segment)) void this.endSegment(segment);
  }

  /** Queues the entries of segments an earlier run left behind; a torn last line is skipped. */
  private async replay(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
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
