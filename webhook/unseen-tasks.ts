/**
 * Which task events may start or signal their run at once, and which must first be listed by Asana
 * (a check run, journal.ts). A gid nobody vouches for costs a run and two Asana reads on the fast
 * path, and one listing shared by hundreds on the check path; so each project lets only a small
 * rate of gids it has not seen take the fast path, however the events are split into deliveries.
 * Asana's own deliveries name a few tasks, mostly seen already or just created, and stay fast.
 *
 * A burst of real new tasks would then wait for listings too. So checks bring a verdict: once a
 * project's checks were given TRUST_SAMPLE gids, Asana listing nearly all of them opens the
 * project's fast path to every gid for a while (the events still waiting for a check go direct),
 * and fewer keeps it closed as long. While a project has no verdict, its check lane waits for the
 * result of the check under way, so a burst's later events wait for the verdict, not for listings.
 * Only Asana can vouch for gids, so invented ones never open the path; a leaked secret's flood timed
 * during a real burst rides it until the window ends (docs/security.md).
 */
import { keepLast } from '../lib/keep-last';
import { CHECK_BATCH, type JournalEntry } from './journal';

export interface UnseenTaskBudgetOptions {
  /** Unseen gids a project may send to the fast path at once... */
  burst?: number;
  /** ...and per second after that. */
  perSecond?: number;
  /** How long a gid sent to the fast path or listed by a check counts as seen, and how many are remembered. */
  seenMs?: number;
  maxSeen?: number;
  /** How long a verdict of the checks holds. */
  verdictMs?: number;
}

/** Checks vouch for a project once they were given this many gids, if Asana listed this share of them. */
const TRUST_SAMPLE = 10;
const TRUST_SHARE = 0.9;
/** Events a check takes while its project awaits a verdict. */
const VERDICT_PROBE = 50;

interface ProjectBudget {
  /** Fast-path places left, and when they were last counted. */
  tokens: number;
  at: number;
  /** The checks' last verdict (whether Asana listed the gids they were given), and until when it holds. */
  trusted: boolean;
  verdictUntil: number;
  /** Gids given to and listed by the checks since the last verdict: small checks add up to one. */
  asked: number;
  listed: number;
}

export class UnseenTaskBudget {
  private readonly options: Required<UnseenTaskBudgetOptions>;
  private readonly projects = new Map<string, ProjectBudget>();
  /** `<project>/<task>` → when last seen, oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(options: UnseenTaskBudgetOptions = {}) {
    this.options = { burst: 10, perSecond: 1, seenMs: 10 * 60_000, maxSeen: 50_000, verdictMs: 30_000, ...options };
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

  /**
   * What a check run of the project found: the gids Asana listed count as seen. Once checks were
   * given TRUST_SAMPLE gids, a verdict for verdictMs: nearly all listed opens the fast path, fewer
   * keeps it closed.
   */
  checked(projectGid: string, asked: readonly string[], notListed: readonly string[], now = Date.now()): void {
    const missing = new Set(notListed);
    const gids = new Set(asked);
    for (const gid of gids) if (!missing.has(gid)) this.remember(`${projectGid}/${gid}`, now);
    const budget = this.budget(projectGid, now);
    budget.asked += gids.size;
    budget.listed += gids.size - missing.size;
    if (budget.asked < TRUST_SAMPLE) return;
    budget.trusted = budget.listed >= TRUST_SHARE * budget.asked;
    budget.verdictUntil = now + this.options.verdictMs;
    budget.asked = budget.listed = 0;
  }

  /** Whether the project's checks owe a verdict: its check lane then waits for each check's result. */
  awaitsVerdict(projectGid: string, now = Date.now()): boolean {
    return now >= (this.projects.get(projectGid)?.verdictUntil ?? 0);
  }

  /**
   * The most events one check of the project takes now: while it awaits a verdict, a small probe,
   * whose result comes back in a fraction of a second where a check of thousands takes seconds.
   */
  checkBatch(projectGid: string, now = Date.now()): number {
    return this.awaitsVerdict(projectGid, now) ? VERDICT_PROBE : CHECK_BATCH;
  }

  /** Whether an event that waits for a check may go to its task's run now: checks vouched for its project. */
  vouchedFor(projectGid: string, now = Date.now()): boolean {
    const budget = this.projects.get(projectGid);
    return budget !== undefined && budget.trusted && now < budget.verdictUntil;
  }

  private budget(projectGid: string, now: number): ProjectBudget {
    const { burst, perSecond } = this.options;
    const budget = this.projects.get(projectGid) ?? { tokens: burst, at: now, trusted: false, verdictUntil: 0, asked: 0, listed: 0 };
    budget.tokens = Math.min(burst, budget.tokens + (Math.max(0, now - budget.at) / 1000) * perSecond);
    budget.at = now;
    this.projects.set(projectGid, budget);
    return budget;
  }

  /** Takes one fast-path place of the project, if one is left or checks vouched for the project. */
  private take(projectGid: string, now: number): boolean {
    if (this.vouchedFor(projectGid, now)) return true;
    const budget = this.budget(projectGid, now);
    if (budget.tokens < 1) return false;
    budget.tokens -= 1;
    return true;
  }

  private remember(key: string, now: number): void {
    keepLast(this.seen, key, now, this.options.maxSeen);
  }
}
