import { ApplicationFailure, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { WebhookHealthActivities, WebhookHealthReport } from '../activities/webhook-health';
import { escapeMarkdown } from '../lib/markdown';

export type { WebhookHealthReport };

export interface WebhookHealthInput {
  /** The task queue the webhook process takes the check on (client/index.ts's webhookTaskQueue). */
  taskQueue: string;
}

/** The report as the Web UI shows it: a line per project, an alarm or a failing webhook first in its line. */
function describeReport(report: WebhookHealthReport): string {
  return report.projects
    .map((p) => {
      const alarm = p.action === 'created' ? '**Alarm, repaired**: ' : p.webhooks.some((w) => w.failing) ? '**Failing**: ' : '';
      return `${alarm}${p.report}`;
    })
    .join('\n\n');
}

/**
 * Run by the webhook health schedule: the webhook process reads each synced project's webhooks and
 * registers one where none of ours is active (checkWebhooks). When no webhook process takes the
 * check within a minute, the run fails saying so, rather than waiting for one.
 */
export async function webhookHealthWorkflow(input: WebhookHealthInput): Promise<WebhookHealthReport> {
  if (typeof input?.taskQueue !== 'string' || input.taskQueue === '')
    throw ApplicationFailure.nonRetryable(`Invalid input ${JSON.stringify(input)}: taskQueue must name a task queue`, 'InvalidInput');
  const { checkWebhooks } = proxyActivities<WebhookHealthActivities>({
    taskQueue: input.taskQueue,
    scheduleToStartTimeout: '1 minute',
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
    summary: "Read each synced project's webhooks; register one where none of ours is active",
  });
  setCurrentDetails('Checking the webhooks of the synced projects…');
  try {
    const report = await checkWebhooks();
    setCurrentDetails(describeReport(report));
    return report;
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    // The causes carry Asana's error text: escaped, so it shows as written and cannot add a link.
    if (cause instanceof ApplicationFailure && cause.type === 'WebhookNotRepaired') {
      setCurrentDetails(`**Alarm, not repaired**: ${escapeMarkdown(cause.message)}`);
    } else {
      const why = [err as Error, cause].map((e) => e?.message).filter(Boolean);
      setCurrentDetails(
        `**Alarm**: the check did not complete (${escapeMarkdown(why.join(': '))}). Is the webhook process running, with PUBLIC_URL and ASANA_ACCESS_TOKEN?`,
      );
    }
    throw err;
  }
}
