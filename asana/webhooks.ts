/**
 * The service's Asana project webhooks: registering one (with its handshake), telling ours from
 * others', and ensuring each synced project has exactly one active webhook of ours with the filters
 * the columns call for. The one home of this logic: `webhooks create|ensure|list|delete` and the
 * webhook process's health check use it. Needs the webhook's DATA_DIR (the secret store).
 */
import { readColumnsFile, changeRuleOf } from '../rows/columns-file';
import { sameFilters, webhookFilters, type WebhookFilter } from '../rows/webhook-filters';
import { isGid } from '../config/gid';
import { ApiError } from '../lib/api-error';
import type { AsanaApi } from './api';
import { ownTarget, tokenOf, webhookUrl, type SecretStore, type WebhookSecret } from './webhook-secrets';

/** How long a registration's URL accepts its one handshake. */
export const REGISTRATION_WINDOW_MS = 60_000;

/** A webhook registration that did not complete safely; the message says what, if anything, is left behind. */
export class RegistrationError extends Error {}

/** An answer of Asana's not to act on: a gid that is not one, or not the one asked for. */
export class UntrustedAnswer extends Error {}

/** A webhook as Asana lists it, with its health fields (the spec's WebhookResponse). */
export interface Webhook {
  gid: string;
  resource: { gid: string; name?: string };
  target: string;
  active: boolean;
  filters?: WebhookFilter[];
  last_success_at?: string | null;
  last_failure_at?: string | null;
  last_failure_content?: string | null;
  /** Failed attempts since the last success. */
  delivery_retry_count?: number;
  next_attempt_after?: string | null;
  /** When Asana deletes the webhook unless a delivery succeeds first. */
  failure_deletion_timestamp?: string | null;
}

/** Retries climbing or a deletion time set: Asana deletes the webhook unless a delivery succeeds first. */
export const isFailing = (hook: Pick<Webhook, 'delivery_retry_count' | 'failure_deletion_timestamp'>): boolean =>
  (hook.delivery_retry_count ?? 0) > 0 || Boolean(hook.failure_deletion_timestamp);

/** Every field of Webhook, as opt_fields (each one the spec lists for GET /webhooks). */
export const WEBHOOK_FIELDS = [
  'resource',
  'resource.name',
  'target',
  'active',
  'filters',
  'filters.action',
  'filters.fields',
  'filters.resource_subtype',
  'last_success_at',
  'last_failure_at',
  'last_failure_content',
  'delivery_retry_count',
  'next_attempt_after',
  'failure_deletion_timestamp',
].join(',');

/** The filters webhooks are registered with: those the columns of COLUMNS_FILE call for (rows/webhook-filters.ts). */
export function configuredFilters(columnsFile: string | undefined): WebhookFilter[] {
  return webhookFilters(changeRuleOf(readColumnsFile(columnsFile).settings));
}

/** A gid from one of Asana's answers, checked before it goes into a path: `../tasks/777` would name another object. */
export function answeredGid(value: unknown, what: string): string {
  if (typeof value === 'string' && isGid(value)) return value;
  throw new UntrustedAnswer(
    `Asana answered with ${what} gid ${String(JSON.stringify(value))}, which is not a gid; nothing was done with it`,
  );
}

/** The workspace of a project, where Asana lists its webhooks. */
export async function workspaceOf(api: AsanaApi, projectGid: string): Promise<string> {
  const project = await api.call<{ workspace?: { gid?: unknown } }>('GET', `/projects/${projectGid}`, {
    params: { opt_fields: 'workspace' },
  });
  return answeredGid(project.workspace?.gid, 'workspace');
}

/** The webhooks of a workspace (of one project, if given), with every field of Webhook. */
export function listWebhooks(api: AsanaApi, workspace: string, project?: string): Promise<Webhook[]> {
  return api.all<Webhook>('/webhooks', { workspace, resource: project, opt_fields: WEBHOOK_FIELDS });
}

/**
 * The secret this DATA_DIR holds for a webhook (accepted or pending): only when its target is ours
 * (under the public URL, on our path) and the secret is for that target's project. A target
 * elsewhere that carries one of our tokens is not our webhook, so its secret is neither shown as
 * stored nor deleted.
 */
export async function secretOf(secrets: SecretStore, publicUrl: string, hook: Pick<Webhook, 'target'>): Promise<WebhookSecret | undefined> {
  const own = ownTarget(publicUrl, hook.target);
  if (own === undefined) return undefined;
  const stored = await secrets.get(own.token);
  return stored?.projectGid === own.projectGid ? stored : undefined;
}

interface CreateAnswer {
  data?: { gid?: unknown };
  'X-Hook-Secret'?: unknown;
}

/** A registered webhook; `found` when Asana's answer was lost or unusable and the webhook was found in Asana's list. */
export interface Registered {
  gid: string;
  target: string;
  found?: true;
}

/**
 * Registers a webhook for the project: opens a registration, asks Asana to create the webhook on
 * that registration's URL (Asana then performs the handshake with our webhook) and confirms the
 * secret our webhook stored, pending, only if it is the one Asana sent. Needs the webhook's DATA_DIR.
 */
export async function registerWebhook(
  api: AsanaApi,
  secrets: SecretStore,
  projectGid: string,
  publicUrl: string,
  filters: WebhookFilter[],
): Promise<Registered> {
  const token = await secrets.openRegistration(projectGid, REGISTRATION_WINDOW_MS, { confirm: true });
  const target = webhookUrl(publicUrl, projectGid, token);
  try {
    let answer: CreateAnswer;
    let gid: string;
    try {
      answer = await api.raw<CreateAnswer>('POST', '/webhooks', { data: { data: { resource: projectGid, target, filters } } });
      gid = answeredGid(answer.data?.gid, 'webhook');
    } catch (err) {
      // the handshake stored a secret, so the webhook likely exists: find it rather than invite a duplicate
      if ((err instanceof ApiError || err instanceof UntrustedAnswer) && (await secrets.get(token)) !== undefined)
        return { gid: await confirmFound(api, secrets, { projectGid, target, token }, err), target, found: true };
      throw err;
    }
    const stored = await secrets.get(token);
    if (stored === undefined || stored.secret !== answer['X-Hook-Secret']) {
      await deleteAtAsana(api, gid).catch(() => undefined);
      await secrets.delete(token);
      throw new RegistrationError(
        stored === undefined
          ? `Asana created webhook ${gid}, but its handshake did not reach a webhook on this DATA_DIR; deleted it. Run the CLI with the webhook's DATA_DIR.`
          : handshakeTaken(projectGid, `the secret it stored is not the one Asana returned with webhook ${gid}`, gid),
      );
    }
    await secrets.confirm(token, gid);
    return { gid, target };
  } finally {
    await secrets.closeRegistration(token);
  }
}

/** What is said of a registration whose handshake someone other than Asana answered: the attack, and what was done. */
function handshakeTaken(projectGid: string, evidence: string, deletedGid?: string): string {
  const undone = deletedGid === undefined ? 'Asana made no webhook; forgot' : `Deleted webhook ${deletedGid} and forgot`;
  return `someone else answered the handshake on the registration URL of a new webhook for project ${projectGid} (${evidence}): that URL, known only to this process and Asana, leaked while the webhook was being registered. ${undone} the secret that handshake stored; no delivery was accepted with it. Find who can read the webhook's URLs (a proxy's or tunnel's logs) before registering again.`;
}

/**
 * The gid of the webhook a create made whose handshake stored a secret but whose answer was lost
 * or unusable: the one Asana lists on the registration's target, whose secret is then confirmed
 * (Asana made a webhook on the URL, so the handshake taken there was Asana's own). When Asana
 * lists none, the secret is forgotten, and reported as an attack when a second handshake had come.
 */
async function confirmFound(
  api: AsanaApi,
  secrets: SecretStore,
  registration: { projectGid: string; target: string; token: string },
  failure: Error,
): Promise<string> {
  const { projectGid, target, token } = registration;
  let listed: Webhook[];
  try {
    listed = await listWebhooks(api, await workspaceOf(api, projectGid), projectGid);
  } catch (err) {
    if (!(err instanceof ApiError || err instanceof UntrustedAnswer)) throw err;
    throw new RegistrationError(
      `${failure.message}; the handshake completed and its secret is stored, but Asana's webhooks could not be listed (${err.message}). Run \`webhooks list --project ${projectGid}\` before creating another: a webhook there whose secret is pending is this one, and the health check (or \`webhooks ensure\`) accepts its secret once Asana lists it and this registration is abandoned.`,
    );
  }
  const hook = listed.find((h) => h.target === target);
  if (hook !== undefined) {
    const gid = answeredGid(hook.gid, 'webhook');
    await secrets.confirm(token, gid);
    return gid;
  }
  const contested = await secrets.contested(token);
  await secrets.delete(token);
  throw new RegistrationError(
    contested
      ? handshakeTaken(projectGid, `two handshakes came on it, and Asana answered the create with: ${failure.message}`)
      : `${failure.message}; the handshake had stored a secret, but Asana lists no webhook on its URL, so the secret is forgotten. Create the webhook again.`,
  );
}

/** Deletes a webhook at Asana; true if Asana had it, false if it no longer does (a 404). */
export async function deleteAtAsana(api: AsanaApi, gid: string): Promise<boolean> {
  try {
    await api.call('DELETE', `/webhooks/${gid}`);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  }
}

/** What `ensureWebhook` found on a project and did. */
export interface EnsuredWebhook {
  projectGid: string;
  /**
   * `created`: no active webhook of ours was there (an alarm, now repaired); `filters_updated`:
   * ours had other filters; `repairs_capped`: none of ours was active, but the project had as many
   * repairs in the last day as the keeper allows, so none was registered.
   */
  action: 'unchanged' | 'created' | 'filters_updated' | 'repairs_capped';
  /** Our webhooks on the project as Asana listed them (before any change), with their health. */
  ours: Webhook[];
  /** The gid of the webhook a create made, or of those whose filters were updated. */
  changed: string[];
  /** Inactive webhooks of ours, deleted at Asana now that an active one takes their place; their secrets retired. */
  retired: string[];
  /** How many secrets were retired because Asana no longer lists their webhooks. */
  unlisted: number;
  /** The project's repairs in the last day, when they reached the cap. */
  repairs?: number;
  /** Webhooks on the project that are not ours (another target, or no secret in this DATA_DIR): never touched. */
  others: number;
}

export interface WebhookKeeper {
  api: AsanaApi;
  secrets: SecretStore;
  /** The webhook's address as Asana reaches it: a target is ours only under it. */
  publicUrl: string;
  /** ASANA_WORKSPACE_GID; each project's own workspace when unset. */
  workspaceGid?: string;
  /** Webhooks `ensureWebhook` may register per project in a day (the health check's cap); no cap when unset. */
  repairsPerDay?: number;
}

/** The token of each listed target that carries one (on any host: a live webhook's secret is never retired), with its webhook's gid. */
function listedTokens(listed: Webhook[]): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const hook of listed) {
    const token = tokenOf(hook.target);
    if (token !== undefined) tokens.set(token, hook.gid);
  }
  return tokens;
}

/** Deletes superseded webhooks of ours at Asana (one already gone is fine) and retires their secrets. */
async function retireWebhooks({ api, secrets, publicUrl }: WebhookKeeper, hooks: Webhook[]): Promise<string[]> {
  for (const hook of hooks) {
    await deleteAtAsana(api, answeredGid(hook.gid, 'webhook'));
    const secret = await secretOf(secrets, publicUrl, hook);
    if (secret !== undefined) await secrets.retire(secret.token);
  }
  return hooks.map((hook) => hook.gid);
}

/**
 * Makes sure the project has one active webhook of ours with these filters: registers one
 * (handshake included) when it has none, deletes ours that Asana lists as inactive once another
 * is active, updates the filters of ours that differ (Asana's update request, not a delete and a
 * new create), and otherwise changes nothing at Asana. A create only ever follows a list with no
 * active webhook of ours, on a new URL, so it never meets Asana's "duplicated webhook" 403. The
 * secrets of webhooks Asana no longer lists are retired first.
 */
export async function ensureWebhook(keeper: WebhookKeeper, projectGid: string, filters: WebhookFilter[]): Promise<EnsuredWebhook> {
  const { api, secrets, publicUrl } = keeper;
  const workspace = keeper.workspaceGid ?? (await workspaceOf(api, projectGid));
  const listedAt = Date.now();
  const listed = await listWebhooks(api, workspace, projectGid);
  const unlisted = await secrets.settle(projectGid, listedTokens(listed), listedAt);
  const owned = await Promise.all(listed.map(async (hook) => (await secretOf(secrets, publicUrl, hook)) !== undefined));
  const ours = listed.filter((_, i) => owned[i]);
  const found = { projectGid, ours, others: listed.length - ours.length, unlisted };
  const active = ours.filter((hook) => hook.active);
  const inactive = ours.filter((hook) => !hook.active);
  if (active.length === 0) {
    const repairs = await secrets.repairsInLastDay(projectGid);
    if (keeper.repairsPerDay !== undefined && repairs >= keeper.repairsPerDay)
      return { ...found, action: 'repairs_capped', changed: [], retired: [], repairs };
    // recorded before the attempt, so a registration that keeps failing is capped too
    await secrets.recordRepair(projectGid);
    const created = await registerWebhook(api, secrets, projectGid, publicUrl, filters);
    return { ...found, action: 'created', changed: [created.gid], retired: await retireWebhooks(keeper, inactive) };
  }
  const retired = await retireWebhooks(keeper, inactive);
  const stale = active.filter((hook) => !sameFilters(hook.filters ?? [], filters));
  for (const hook of stale) await api.call('PUT', `/webhooks/${answeredGid(hook.gid, 'webhook')}`, { data: { data: { filters } } });
  return { ...found, action: stale.length > 0 ? 'filters_updated' : 'unchanged', changed: stale.map((hook) => hook.gid), retired };
}

/** What `ensure` says of a project: what it found, what it did, and a failing webhook's health. */
export function describeEnsured({ projectGid, action, ours, changed, retired, unlisted, repairs, others }: EnsuredWebhook): string {
  const active = ours.filter((hook) => hook.active);
  const did = {
    created: `no active webhook of ours; created webhook ${changed[0]} (handshake completed, secret stored)`,
    filters_updated: `updated the filters of webhook ${changed.join(', ')} to those the columns call for`,
    unchanged: `webhook ${active.map((hook) => hook.gid).join(', ')} active, with the filters the columns call for; nothing ${retired.length > 0 ? 'else ' : ''}to do`,
    repairs_capped: `no active webhook of ours, and ${repairs} were registered for it in the last day already, so no more are: find out why Asana drops or disables them (\`webhooks list --project ${projectGid}\`), then run \`webhooks ensure\``,
  }[action];
  const notes = [
    ...(active.length > 1 ? [`${active.length} active webhooks of ours: delete all but one with \`webhooks delete <gid>\``] : []),
    ...(retired.length > 0
      ? [`deleted inactive webhook ${retired.join(', ')} at Asana; its secret verifies deliveries for a grace period, then is forgotten`]
      : []),
    ...(unlisted > 0
      ? [`${unlisted} secret(s) of webhooks Asana no longer lists retired: they verify deliveries for a grace period, then are forgotten`]
      : []),
    ...ours.filter(isFailing).map(describeFailing),
    ...(others > 0 ? [`${others} webhook(s) not ours (another URL, or no secret here) left alone`] : []),
  ];
  return `Project ${projectGid}: ${did}.${notes.map((note) => `\n  ${note}`).join('')}`;
}

/** A failing webhook as an operator needs to hear it: before Asana deletes it. */
function describeFailing(hook: Webhook): string {
  const deletion = hook.failure_deletion_timestamp
    ? `; Asana deletes it at ${hook.failure_deletion_timestamp} unless a delivery succeeds`
    : '';
  return `webhook ${hook.gid} is failing: ${hook.delivery_retry_count ?? 0} retries, last failure ${hook.last_failure_at ?? '-'} (${hook.last_failure_content || 'no content'})${deletion}`;
}
