/**
 * The service's Asana project webhooks: registering one (with its handshake), telling ours from
 * others', and ensuring each synced project has exactly one active webhook of ours with the filters
 * the columns call for. The one home of this logic: `webhooks create|ensure|list|delete` and the
 * webhook process's health check use it. Needs the webhook's DATA_DIR (the secret store).
 */
import { readColumnsFile, changeRuleOf } from '../rows/columns-file';
import { sameFilters, webhookFilters, type WebhookFilter } from '../rows/webhook-filters';
import { isGid } from '../config/gid';
import { ApiError } from './api-error';
import type { AsanaApi } from './asana-api';
import { ownTarget, webhookUrl, type SecretStore, type WebhookSecret } from './webhook-secrets';

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
 * The secret this DATA_DIR holds for a webhook: only when its target is ours (under the public URL,
 * on our path) and the secret is for that target's project. A target elsewhere that carries one of
 * our tokens is not our webhook, so its secret is neither shown as stored nor deleted.
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
 * that registration's URL (Asana then performs the handshake with our webhook) and checks that the
 * secret our webhook stored is the one Asana sent. Needs the webhook's DATA_DIR.
 */
export async function registerWebhook(
  api: AsanaApi,
  secrets: SecretStore,
  projectGid: string,
  publicUrl: string,
  filters: WebhookFilter[],
): Promise<Registered> {
  const token = await secrets.openRegistration(projectGid, REGISTRATION_WINDOW_MS);
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
        return { gid: await findCreated(api, secrets, { projectGid, target, token }, err), target, found: true };
      throw err;
    }
    const stored = await secrets.get(token);
    if (stored === undefined || stored.secret !== answer['X-Hook-Secret']) {
      await api.call('DELETE', `/webhooks/${gid}`).catch(() => undefined);
      await secrets.delete(token);
      throw new RegistrationError(
        stored === undefined
          ? `Asana created webhook ${gid}, but its handshake did not reach a webhook on this DATA_DIR; deleted it. Run the CLI with the webhook's DATA_DIR.`
          : `the secret stored by the handshake of webhook ${gid} is not the one Asana returned; deleted the webhook.`,
      );
    }
    return { gid, target };
  } finally {
    await secrets.closeRegistration(token);
  }
}

/**
 * The gid of the webhook a create made whose handshake stored our secret but whose answer was lost
 * or unusable: the one Asana lists on the registration's target. When Asana lists none, the secret
 * verifies nothing and is forgotten.
 */
async function findCreated(
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
      `${failure.message}; the handshake completed and its secret is stored, but Asana's webhooks could not be listed (${err.message}). Run \`webhooks list --project ${projectGid}\` before creating another: a webhook there whose secret is stored is this one.`,
    );
  }
  const hook = listed.find((h) => h.target === target);
  if (hook !== undefined) return answeredGid(hook.gid, 'webhook');
  await secrets.delete(token);
  throw new RegistrationError(
    `${failure.message}; the handshake had stored a secret, but Asana lists no webhook on its URL, so the secret is forgotten. Create the webhook again.`,
  );
}

/** What `ensureWebhook` found on a project and did. */
export interface EnsuredWebhook {
  projectGid: string;
  /** `created`: no active webhook of ours was there (an alarm, now repaired); `filters_updated`: ours had other filters. */
  action: 'unchanged' | 'created' | 'filters_updated';
  /** Our webhooks on the project as Asana listed them (before any change), with their health. */
  ours: Webhook[];
  /** The gid of the webhook a create made, or of those whose filters were updated. */
  changed: string[];
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
}

/**
 * Makes sure the project has an active webhook of ours with these filters: registers one (handshake
 * included) when it has none, updates the filters of ours that differ (Asana's update request,
 * not a delete and a new create), and otherwise changes nothing. A create only ever follows a list
 * with no active webhook of ours, on a new URL, so it never meets Asana's "duplicated webhook" 403.
 */
export async function ensureWebhook(keeper: WebhookKeeper, projectGid: string, filters: WebhookFilter[]): Promise<EnsuredWebhook> {
  const { api, secrets, publicUrl } = keeper;
  const listed = await listWebhooks(api, keeper.workspaceGid ?? (await workspaceOf(api, projectGid)), projectGid);
  const owned = await Promise.all(listed.map(async (hook) => (await secretOf(secrets, publicUrl, hook)) !== undefined));
  const ours = listed.filter((_, i) => owned[i]);
  const found = { projectGid, ours, others: listed.length - ours.length };
  const active = ours.filter((hook) => hook.active);
  if (active.length === 0) {
    const created = await registerWebhook(api, secrets, projectGid, publicUrl, filters);
    return { ...found, action: 'created', changed: [created.gid] };
  }
  const stale = active.filter((hook) => !sameFilters(hook.filters ?? [], filters));
  for (const hook of stale) await api.call('PUT', `/webhooks/${answeredGid(hook.gid, 'webhook')}`, { data: { data: { filters } } });
  return { ...found, action: stale.length > 0 ? 'filters_updated' : 'unchanged', changed: stale.map((hook) => hook.gid) };
}

/** What `ensure` says of a project: what it found, what it did, and a failing webhook's health. */
export function describeEnsured({ projectGid, action, ours, changed, others }: EnsuredWebhook): string {
  const active = ours.filter((hook) => hook.active);
  const did = {
    created: `no active webhook of ours; created webhook ${changed[0]} (handshake completed, secret stored)`,
    filters_updated: `updated the filters of webhook ${changed.join(', ')} to those the columns call for`,
    unchanged: `webhook ${active.map((hook) => hook.gid).join(', ')} active, with the filters the columns call for; nothing to do`,
  }[action];
  const notes = [
    ...(active.length > 1 ? [`${active.length} active webhooks of ours: delete all but one with \`webhooks delete <gid>\``] : []),
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
