/**
 * The filters a project webhook is registered with, derived from the columns' change rule: Asana
 * then delivers only the events that can change a row. Pure, unit-tested alone.
 */
import type { ChangeRule } from './columns';

/** Asana's WebhookFilter (OpenAPI spec): an event passes a webhook when it matches any of its filters. */
export interface WebhookFilter {
  resource_type: string;
  resource_subtype?: string;
  action?: string;
  /** Only with `action: 'changed'`, and not on workspace, team or portfolio webhooks. */
  fields?: string[];
}

/**
 * Task events only, each action that can change a row or the task's membership: `added` and
 * `removed` (to and from the project, or a section: a filter cannot tell the parent apart),
 * `deleted`, `undeleted`, and `changed` of the fields the rule names (all fields when it says 'any').
 */
export function webhookFilters(rule: ChangeRule): WebhookFilter[] {
  const changed: WebhookFilter =
    rule.fields === 'any'
      ? { resource_type: 'task', action: 'changed' }
      : { resource_type: 'task', action: 'changed', fields: [...rule.fields].sort() };
  return [
    { resource_type: 'task', action: 'added' },
    changed,
    ...['removed', 'deleted', 'undeleted'].map((action) => ({ resource_type: 'task', action })),
  ];
}

/** A filter as one comparable string: Asana may list a filter's keys and fields in any order. */
function canonical(filter: WebhookFilter): string {
  const { resource_type, resource_subtype, action, fields } = filter;
  // no list and an empty one both leave the action's events unrestricted
  return JSON.stringify([resource_type, resource_subtype ?? null, action ?? null, fields?.length ? [...fields].sort() : null]);
}

/** Whether two filter lists let the same events through (order aside): when they do, a webhook needs no update. */
export function sameFilters(a: readonly WebhookFilter[], b: readonly WebhookFilter[]): boolean {
  const [left, right] = [a.map(canonical).sort(), b.map(canonical).sort()];
  return left.length === right.length && left.every((f, i) => f === right[i]);
}
