import { proxyLocalActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CheckTasksInput, CheckTasksResult } from '../activities/check-tasks';

export type { CheckTasksInput, CheckTasksResult };

const { startListedTasks } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  localRetryThreshold: 0, // waits between attempts are durable timers, as for a sync
  summary: "List the project's recent tasks and start the sync of each one listed",
});

/**
 * A delivery too large to start a run per task (webhook/journal.ts) comes here in batches: the
 * tasks Asana lists get their sync, and the gids it does not list stay in this run's result.
 */
export async function checkTasksWorkflow(input: CheckTasksInput): Promise<CheckTasksResult> {
  const result = await startListedTasks(input);
  setCurrentDetails(`${result.started} task events synced; ${result.notListed.length} gids not listed by Asana, no sync started`);
  return result;
}
