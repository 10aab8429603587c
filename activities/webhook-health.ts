/**
 * The webhook health check's one activity, run by the webhook process (it holds DATA_DIR's secrets
 * and answers the handshake a repair needs): each synced project's webhooks and their health, and
 * `ensureWebhook` (lib/asana-webhooks.ts, as `webhooks ensure` runs it) to repair what is missing.
 */
import { describeEnsured, ensureWebhook, isFailing, type EnsuredWebhook, type WebhookKeeper } from '../lib/asana-webhooks';
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

export interface WebhookHealthDeps {
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
    /** Reads every synced project's webhooks, repairs a missing one or stale filters, and reports each project. */
    async checkWebhooks(): Promise<WebhookHealthReport> {
      return classified(async () => {
        const projects: ProjectHealth[] = [];
        for (const projectGid of projectGids) {
          const ensured = await ensureWebhook(keeper, projectGid, filters);
          const project = {
            projectGid,
            webhooks: ensured.ours.map(healthOf),
            action: ensured.action,
            report: escapeMarkdown(describeEnsured(ensured)),
          };
          observe(project);
          projects.push(project);
        }
        return { projects };
      });
    },
  };
}

export type WebhookHealthActivities = ReturnType<typeof createWebhookHealthActivities>;
