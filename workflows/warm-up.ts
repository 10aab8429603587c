import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { warmUp } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
  summary: 'Open the connections to Asana and Airtable',
});

/**
 * Run once by each worker as it starts: the first workflow task, the loaded workflow code and the
 * first connections to Asana and Airtable are then paid by this run, not by a user's first task.
 */
export async function warmUpWorkflow(): Promise<void> {
  await warmUp();
}
