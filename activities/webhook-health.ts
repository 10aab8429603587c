/**
 * The webhook health check's one activity, run by the webhook process (it holds DATA_DIR's secrets
 * and answers the handshake a repair needs): each synced project's webhooks and their health, and
 * `ensureWebhook` (asana/webhooks.ts, as `webhooks ensure` runs it) to repair what is missing,
 * at most REPAIRS_PER_DAY times a day per project.
 */
import { ApplicationFailure } from '@temporalio/common';
import { describeEnsured, ensureWebhook, isFailing, RegistrationError, type EnsuredWebhook, type WebhookKeeper } from '../asana/webhooks';
import { escapeMarkdown } from '../lib/markdown';
import type { WebhookFilter } from '../rows/webhook-filters';
import { classified } from './failures';

/** One webhook of ours, as the check saw it: Asana's health fields. */
export interface WebhookHealth {
  gid: string;
  active: boolean;
  lastSuccessAt?: string;
  lastFailureAt?: string;
  lastFailureContent?: string;
  deliveryRetryCount: number;
  nextAttemptAfter?: string;
  failureDeletionAt?: string;
  /** Asana deletes it unless a delivery succeeds first (isFailing). */
  failing: boolean;
}

/** A synced project, as the check found it and left it. */
export interface ProjectHealth {
  projectGid: string;
  /** Our webhooks as listed before any repair. */
  webhooks: WebhookHealth[];
  /** `created`: no active webhook of ours was there (the alarm), and a new one was registered. */
  action: EnsuredWebhook['action'];
  /** What the check found and did, in a sentence (markdown-escaped: Asana's failure text is in it). */
  report: string;
}

export interface WebhookHealthReport {
  projects: ProjectHealth[];
}

/** New webhooks the check registers per project in a day: past that, a webhook Asana keeps dropping needs an operator, not another. */
export const REPAIRS_PER_DAY = 3;

export interface WebhookHealthDeps {
  /** Its `repairsPerDay` is REPAIRS_PER_DAY unless set. */
  keeper: WebhookKeeper;
  projectGids: readonly string[];
  /** The filters the columns call for (rows/webhook-filters.ts). */
  filters: WebhookFilter[];
  /** Metrics and the log: the webhook process's. */
  observe(report: ProjectHealth): void;
}

function healthOf(hook: EnsuredWebhook['ours'][number]): WebhookHealth {
  return {
    gid: hook.gid,
    active: hook.active,
    lastSuccessAt: hook.last_success_at ?? undefined,
    lastFailureAt: hook.last_failure_at ?? undefined,
    lastFailureContent: hook.last_failure_content || undefined,
    deliveryRetryCount: hook.delivery_retry_count ?? 0,
    nextAttemptAfter: hook.next_attempt_after ?? undefined,
    failureDeletionAt: hook.failure_deletion_timestamp ?? undefined,
    failing: isFailing(hook),
  };
}

export function createWebhookHealthActivities({ keeper, projectGids, filters, observe }: WebhookHealthDeps) {
  return {
    /**
     * Reads every synced project's webhooks, repairs a missing or inactive one or stale filters,
     * and reports each project. Fails, saying why, when a project is left without an active webhook
     * (its repairs capped) or a registration was attacked; the other projects are checked first.
     */
    async checkWebhooks(): Promise<WebhookHealthReport> {
      return classified(async () => {
        const capped = { ...keeper, repairsPerDay: keeper.repairsPerDay ?? REPAIRS_PER_DAY };
        const projects: ProjectHealth[] = [];
        const unrepaired: string[] = [];
        for (const projectGid of projectGids) {
          let ensured: EnsuredWebhook;
          try {
            ensured = await ensureWebhook(capped, projectGid, filters);
          } catch (err) {
            if (!(err instanceof RegistrationError)) throw err;
            unrepaired.push(`Project ${projectGid}: ${err.message}`);
            continue;
          }
          if (ensured.action === 'repairs_capped') {
            unrepaired.push(describeEnsured(ensured));
            continue;
          }
          const project = {
            projectGid,
            webhooks: ensured.ours.map(healthOf),
            action: ensured.action,
            report: escapeMarkdown(describeEnsured(ensured)),
          };
          observe(project);
          projects.push(project);
        }
        // not retried: another attempt would register again, which is what the cap and the attack refuse
        if (unrepaired.length > 0) throw ApplicationFailure.nonRetryable(unrepaired.join('\n'), 'WebhookNotRepaired');
        return { projects };
      });
    },
  };
}

export type WebhookHealthActivities = ReturnType<typeof createWebhookHealthActivities>;
