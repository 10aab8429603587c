/**
 * Keeps a process's requests to one API (or base) under its rate limit, whichever activity makes
 * them, and holds every caller back while the API has locked us out.
 *
 * The API counts a request when it arrives, somewhere between our grant and its answer; a busy
 * event loop can stretch that gap, so spacing grants alone would let arrivals bunch up into a 429
 * (and Airtable's 30 s lock-out) on a loaded machine. So a request may
 * start only a full window after the answer to the request `perWindow` grants before it: no
 * window can then hold more than `perWindow` arrivals, however late each one was sent. Grants
 * are also spaced evenly, each measured from the moment the previous one was actually granted.
 * SharedPacer (shared-pacer.ts) applies the same rule to the requests of every worker process.
 * No wait is longer than MAX_WAIT_MS (lib/waits.ts) at a time, and a caller may give up its wait
 * at shutdown (`stop`, which the process's Budgets passes).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { boundedWait } from '../lib/waits';

/** Call when the request's answer (or its failure) has arrived; a second call does nothing. */
export type Release = () => void;

/** What the API code asks of a pacer, whether its budget lives in this process (Pacer) or in Redis (SharedPacer). */
export interface Pacing {
  /**
   * Resolves when the caller may send a request of this kind (a budget may cap each kind's
   * requests in flight; this process's pacer has no caps); release it once answered. When `stop`
   * aborts first, rejects with PacingStopped and leaves its place to the requests behind it.
   */
  acquire(kind?: string, stop?: AbortSignal): Promise<Release>;
  /** Runs one request in a paced slot. */
  run<T>(request: () => Promise<T>, kind?: string, stop?: AbortSignal): Promise<T>;
  /** Sends nothing for `ms` (after a 429), MAX_WAIT_MS at most. */
  pause(ms: number): void;
}

/** A request that was still waiting for its paced slot when its caller gave up (shutdown): never sent. */
export class PacingStopped extends Error {
  constructor() {
    super('not sent: the process is shutting down');
    this.name = 'PacingStopped';
  }
}

/** Sleeps `ms`, MAX_WAIT_MS at most; rejects with PacingStopped as soon as `stop` aborts. */
export async function pacedSleep(ms: number, stop?: AbortSignal): Promise<void> {
  try {
    await sleep(boundedWait(ms), undefined, { signal: stop });
  } catch (err) {
    throw stop?.aborted ? new PacingStopped() : err;
  }
}

/** What `work` resolves to, unless `stop` aborts first: then PacingStopped. */
function unlessStopped<T>(work: Promise<T>, stop?: AbortSignal): Promise<T> {
  if (stop === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(new PacingStopped());
    if (stop.aborted) return onStop();
    stop.addEventListener('abort', onStop, { once: true });
    void work.then(resolve, reject).finally(() => stop.removeEventListener('abort', onStop));
  });
}

/**
 * Slack for timer and clock granularity. Little is needed: the earlier request arrived before its
 * answer left the API, and the later one arrives after we send it, so the gap the API sees is
 * already longer than the one we wait.
 */
const WINDOW_MARGIN_MS = 5;

/** The window rule for a rate, in whole requests and milliseconds: every pacer applies the same one. */
export function paceOf(perSecond: number): { perWindow: number; windowMs: number; spacingMs: number } {
  const perWindow = Math.max(1, Math.floor(perSecond));
  return { perWindow, windowMs: (1000 * perWindow) / perSecond + WINDOW_MARGIN_MS, spacingMs: 1000 / perSecond };
}

/** Runs one request in a slot of `pacer`, releasing it however the request ends. */
export async function runPaced<T>(pacer: Pacing, request: () => Promise<T>, kind?: string, stop?: AbortSignal): Promise<T> {
  const release = await pacer.acquire(kind, stop);
  try {
    return await request();
  } finally {
    release();
  }
}

export class Pacer implements Pacing {
  private lastGrant = -Infinity;
  private pausedUntil = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly spacingMs: number;
  private readonly perWindow: number;
  private readonly windowMs: number;
  /** When each of the last `perWindow` granted requests was answered. */
  private readonly answers: Promise<number>[] = [];

  constructor(perSecond: number) {
    ({ perWindow: this.perWindow, windowMs: this.windowMs, spacingMs: this.spacingMs } = paceOf(perSecond));
  }

  acquire(_kind?: string, stop?: AbortSignal): Promise<Release> {
    if (stop?.aborted) return Promise.reject(new PacingStopped());
    const grant = this.queue.then(() => this.grant(stop));
    this.queue = grant.catch(() => undefined); // a request given up leaves its place to the next
    return grant;
  }

  run<T>(request: () => Promise<T>, kind?: string, stop?: AbortSignal): Promise<T> {
    return runPaced(this, request, kind, stop);
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + boundedWait(ms));
  }

  /** Waits for the grant's turn; requests are granted one at a time, in the order they asked. */
  private async grant(stop?: AbortSignal): Promise<Release> {
    // The earliest answer stays counted until this grant is made: one given up leaves it to the next.
    const windowOpens = this.answers.length < this.perWindow ? 0 : (await unlessStopped(this.answers[0], stop)) + this.windowMs;
    for (;;) {
      const wait = Math.max(this.lastGrant + this.spacingMs, this.pausedUntil, windowOpens) - Date.now();
      if (wait <= 0) break;
      await pacedSleep(wait, stop);
    }
    if (this.answers.length >= this.perWindow) void this.answers.shift();
    this.lastGrant = Date.now();
    let release!: Release;
    this.answers.push(new Promise<number>((resolve) => (release = () => resolve(Date.now()))));
    return release;
  }
}
