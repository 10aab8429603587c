/**
 * Tells a burst from work at idle: the last batch held more than one item and ended less than a
 * second ago. The task reader and the row writer both wait a little longer to fill a batch then.
 */
const BURST_GAP_MS = 1_000;

export class BurstGauge {
  private last = { items: 0, at: 0 };

  /** Records a batch of `items`, now. */
  batched(items: number): void {
    this.last = { items, at: Date.now() };
  }

  get bursting(): boolean {
    return this.last.items > 1 && Date.now() - this.last.at < BURST_GAP_MS;
  }
}
