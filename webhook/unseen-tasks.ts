/**
 * Which task events may start or signal their run at once, and which must first be listed by Asana
 * (a check run, journal.ts). A gid nobody vouches for costs a run and two Asana reads on the fast
 * path, and one listing shared by hundreds on the check path; so each project lets only a small
 * rate of gids it has not seen take the fast path, however the events are split into deliveries.
 * Asana's own deliveries name a few tasks, mostly seen already or just created, and stay fast; a
 * burst of new tasks, or a flood of invented ones, goes through listings.
 */
import type { JournalEntry } from './journal';

export interface UnseenTaskBudgetOptions {
  /** Unseen gids a project may send to the fast path at once... */
  burst?: number;
  /** ...and per second after that. */
  perSecond?: number;
  /** How long a gid sent to the fast path counts as seen, and how many are remembered. */
  seenMs?: number;
  maxSeen?: number;
}

export class UnseenTaskBudget {
  private readonly options: Required<UnseenTaskBudgetOptions>;
  /** Per project: fast-path places left, and when they were last counted. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** `<project>/<task>` → when last sent to the fast path, oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(options: UnseenTaskBudgetOptions = {}) {
    this.options = { burst: 10, perSecond: 1, seenMs: 10 * 60_000, maxSeen: 50_000, ...options };
  }

  /** The entries, those over the budget marked for a check run; the others count as seen from now on. */
  route(entries: readonly JournalEntry[], now = Date.now()): JournalEntry[] {
    return entries.map((entry) => {
      if (entry.check) return entry;
      const key = `${entry.projectGid}/${entry.taskGid}`;
      const seenAt = this.seen.get(key);
      const known = seenAt !== undefined && now - seenAt < this.options.seenMs;
      if (!known && !this.take(entry.projectGid, now)) return { ...entry, check: true };
      this.remember(key, now);
      return entry;
    });
  }

  /** Takes one fast-path place of the project, if one is left. */
  private take(projectGid: string, now: number): boolean {
    const { burst, perSecond } = this.options;
    const bucket = this.buckets.get(projectGid) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(projectGid, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private remember(key: string, now: number): void {
    this.seen.delete(key); // re-insert: the Map keeps the newest last
    this.seen.set(key, now);
    if (this.seen.size > this.options.maxSeen) this.seen.delete(this.seen.keys().next().value as string);
  }
}
