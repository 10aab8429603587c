/** Pure parsing of Asana deliveries: shape checks and picking the task events we sync. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { changeRule, type ChangeRule } from '../rows/columns';
import { isGid } from '../config/gid';
import { mergeChanges, type TaskChange } from '../rows/freshness';

export interface AsanaWebhookEvent {
  action: string;
  resource: { gid: string; resource_type: string; resource_subtype?: string };
  parent?: { gid: string; resource_type: string } | null;
  /** For `changed`: which field. */
  change?: { field?: string; action?: string } | null;
  created_at?: string;
}

/** The five columns' rule: what the webhook goes by when COLUMNS_FILE adds none. */
export const DEFAULT_CHANGE_RULE = changeRule();

/**
 * Whether an event may change the task's row. A task added to or removed from a section (Asana
 * sends it beside the project's own event) cannot unless a column shows the section, and a change
 * of a field no column uses cannot; an event that does not say what it is about may, and syncs.
 */
export function mayChangeRow(event: AsanaWebhookEvent, rule: ChangeRule = DEFAULT_CHANGE_RULE): boolean {
  if ((event.action === 'added' || event.action === 'removed') && event.parent?.resource_type === 'section') return rule.sectionEvents;
  const field = event.action === 'changed' ? event.change?.field : undefined;
  return typeof field !== 'string' || rule.fields === 'any' || rule.fields.has(field);
}

/** Task subtypes that become rows; others (and non-task resources) are skipped, not errors. */
export const SYNCED_TASK_SUBTYPES = new Set(['default_task', 'milestone', 'approval']);
export const TASK_ACTIONS = new Set(['added', 'changed', 'removed', 'deleted', 'undeleted']);

export class DeliveryError extends Error {}

export function signatureMatches(secret: string, body: Buffer, signature: string | undefined): boolean {
  if (signature === undefined || !/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** Deeper than any delivery nests (Asana's go a handful of levels deep): JSON.parse of a 1 MiB body nested 500,000 deep holds the event loop for 0.2 s. */
export const MAX_JSON_DEPTH = 64;

/** The bytes the depth scan acts on (none occurs inside a UTF-8 multi-byte character). */
const [QUOTE, BACKSLASH, OPEN_ARRAY, OPEN_OBJECT, CLOSE_ARRAY, CLOSE_OBJECT] = [...'"\\[{]}'].map((c) => c.charCodeAt(0));

/** Whether JSON text nests arrays and objects deeper than `max`: one pass over the bytes, brackets inside strings not counted. */
function nestsDeeperThan(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i += 1) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) depth -= 1;
  }
  return false;
}

/** Parses a delivery body; throws DeliveryError with what is wrong. */
export function parseDelivery(body: Buffer): AsanaWebhookEvent[] {
  if (nestsDeeperThan(body, MAX_JSON_DEPTH)) throw new DeliveryError(`body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new DeliveryError('body is not valid JSON');
  }
  if (!isObject(parsed) || !Array.isArray(parsed.events)) throw new DeliveryError('body must be an object with an "events" array');
  parsed.events.forEach((event: unknown, i: number) => {
    if (
      !isObject(event) ||
      typeof event.action !== 'string' ||
      !isObject(event.resource) ||
      typeof event.resource.gid !== 'string' ||
      typeof event.resource.resource_type !== 'string'
    ) {
      throw new DeliveryError(`events[${i}] must have an "action" and a "resource" with "gid" and "resource_type"`);
    }
  });
  return parsed.events as AsanaWebhookEvent[];
}

export interface TaskEvents {
  /** Task gid → when this delivery says it changed (merged, rows/freshness.ts). */
  byTask: Map<string, TaskChange>;
  skipped: number;
}

/** A date-time with a time zone, as Asana writes them: Date.parse alone takes "0" or a local time. */
const ISO_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/;

/** A time as Asana writes it (ISO 8601), normalised; undefined for anything else. */
export function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** Whether the event causes a sync of its task: a task we sync, an action we know, and a change that may reach the row. */
export function causesSync(event: AsanaWebhookEvent, rule: ChangeRule = DEFAULT_CHANGE_RULE): boolean {
  const { resource, action } = event;
  return (
    resource.resource_type === 'task' &&
    SYNCED_TASK_SUBTYPES.has(resource.resource_subtype ?? 'default_task') &&
    TASK_ACTIONS.has(action) &&
    isGid(resource.gid) &&
    mayChangeRow(event, rule)
  );
}

export function taskEvents(events: AsanaWebhookEvent[], rule: ChangeRule = DEFAULT_CHANGE_RULE): TaskEvents {
  const changes = new Map<string, TaskChange[]>();
  let skipped = 0;
  for (const event of events) {
    if (!causesSync(event, rule)) {
      skipped += 1;
      continue;
    }
    const time = isoTime(event.created_at);
    const change: TaskChange = time === undefined ? {} : { changedAt: time };
    const list = changes.get(event.resource.gid);
    if (list) list.push(change);
    else changes.set(event.resource.gid, [change]);
  }
  return { byTask: new Map([...changes].map(([gid, list]) => [gid, mergeChanges(list)])), skipped };
}

function isObject(value: unknown): value is Record<string, unknown> & { events?: unknown; resource?: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
