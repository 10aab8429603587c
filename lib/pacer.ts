/**
 * Spaces requests so that no window of one second holds more than `perSecond` of them, and holds
 * every caller back while the API has locked us out. Shared by all requests of a process to one
 * API (or base), whichever activity makes them.
 *
 * Slots are granted one after another, each measured from the moment the previous one was
 * actually granted: when the event loop stalls, overdue timers fire together, and spacing by
 * scheduled times would then send their requests in one burst.
 */
export class Pacer {
  private lastGrant = -Infinity;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly spacingMs: number;

  /** `margin` > 1 leaves room for timer and network jitter at the API's exact limit. */
  constructor(perSecond: number, margin = 1.05) {
    this.spacingMs = (1000 * margin) / perSecond;
  }

  /** Resolves when the caller may send its request. */
  acquire(): Promise<void> {
    const grant = this.queue.then(async () => {
      for (;;) {
        const wait = Math.max(this.lastGrant + this.spacingMs, this.pausedUntil) - Date.now();
        if (wait <= 0) break;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      this.lastGrant = Date.now();
    });
    this.queue = grant;
    return grant;
  }

  /** Sends nothing for `ms` (after a 429). */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }
}
