/** `sync --task <gid> [--project <gid>]`: syncs one task now, as its webhook event would; the way to retry a failed one. */
import { parseArgs } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { isGid } from '../config/gid';
import { signalTask } from '../client';
import type { SyncTaskResult } from '../workflows';
import { UsageError } from './errors';
import type { Output } from './output';

export async function syncCommand(config: Config, connect: () => Promise<Client>, output: Output, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { task: { type: 'string' }, project: { type: 'string' } } });
  if (values.task === undefined || !isGid(values.task)) throw new UsageError('--task <gid> is required (a numeric Asana gid)');
  if (values.project !== undefined && !isGid(values.project)) throw new UsageError('--project must be a numeric Asana gid');
  const client = await connect();
  try {
    const handle = await signalTask(client, config.temporal.taskQueue, {
      taskGid: values.task,
      projectGid: values.project,
    });
    const result = (await handle.result()) as SyncTaskResult;
    const outcomes: Record<SyncTaskResult['status'], string> = {
      synced: `Task ${values.task} synced (workflow ${handle.workflowId}).`,
      gone: `Task ${values.task} no longer exists in Asana; its row was ${result.row}.`,
      left: `Task ${values.task} is in none of the synced projects any more; its row was ${result.row}.`,
      skipped: `Task ${values.task} not synced: ${result.reason}.`,
    };
    output.out(outcomes[result.status]);
    return 0;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    output.err(`Sync of task ${values.task} failed: ${err.cause?.message ?? err.message}`);
    return 1;
  }
}
