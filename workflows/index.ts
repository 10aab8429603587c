export { syncTaskWorkflow, taskEventSignal } from './sync-task';
export type { SyncTaskInput, SyncTaskResult } from './sync-task';
export { reconcileProjectWorkflow, progressQuery, reconcileProgressSignal } from './reconcile';
export type { ReconcileInput, ReconcileMode, ReconcileProgress, ReconcileResult } from './reconcile';
export { warmUpWorkflow } from './warm-up';
export { checkTasksWorkflow } from './check-tasks';
export type { CheckTasksInput, CheckTasksResult } from './check-tasks';
export { webhookHealthWorkflow } from './webhook-health';
export type { WebhookHealthInput, WebhookHealthReport } from './webhook-health';
