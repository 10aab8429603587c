/** `webhooks create|list|delete`: the service's Asana webhooks, and the secrets that go with them. */
import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { isGid } from '../config/gid';
import { ApiError } from '../lib/api-error';
import type { AsanaApi } from '../lib/asana-api';
import { ownTarget, SecretStore, webhookUrl, type WebhookSecret } from '../lib/webhook-secrets';
import { formatTable } from '../lib/text-table';
import { terminalJson } from '../lib/terminal-text';
import { RegistrationError, UntrustedAnswer, UsageError } from './errors';
import type { Output } from './output';

export const DEFAULT_ACTIONS = ['added', 'changed', 'removed', 'deleted', 'undeleted'];
/** How long a registration's URL accepts its one handshake. */
export const REGISTRATION_WINDOW_MS = 60_000;

interface Filter {
  resource_type: string;
  action?: string;
}

interface Webhook {
  gid: string;
  resource: { gid: string; name?: string };
  target: string;
  active: boolean;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_failure_content: string | null;
}

const WEBHOOK_FIELDS = 'resource,resource.name,target,active,last_success_at,last_failure_at,last_failure_content';

export interface WebhookCommandContext {
  config: Config;
  api: AsanaApi;
  secrets: SecretStore;
  output: Output;
}

function gidOption(value: string | undefined, name: string): string {
  if (value === undefined) throw new UsageError(`--${name} <gid> is required`);
  if (!isGid(value)) throw new UsageError(`--${name} must be a numeric Asana gid, got "${value}"`);
  return value;
}

/** A gid from one of Asana's answers, checked before it goes into a path: `../tasks/777` would name another object. */
function answeredGid(value: unknown, what: string): string {
  if (typeof value === 'string' && isGid(value)) return value;
  throw new UntrustedAnswer(
    `Asana answered with ${what} gid ${String(JSON.stringify(value))}, which is not a gid; nothing was done with it`,
  );
}

/** The webhook's address as Asana reaches it (--public-url, or PUBLIC_URL): a target is ours only under it. */
function publicUrlOption(ctx: WebhookCommandContext, value: string | undefined): string {
  const publicUrl = value ?? ctx.config.publicUrl;
  if (publicUrl === undefined)
    throw new UsageError("give --public-url <url>, or set PUBLIC_URL: the webhook's address as Asana reaches it");
  if (!URL.canParse(publicUrl)) throw new UsageError(`--public-url must be a URL, got "${publicUrl}"`);
  return publicUrl;
}

/** `--filter task:added` (resource_type[:action]), repeatable; defaults to task added/changed/removed/deleted/undeleted. */
function parseFilters(values: string[] | undefined): Filter[] {
  if (!values || values.length === 0) return DEFAULT_ACTIONS.map((action) => ({ resource_type: 'task', action }));
  return values.map((value) => {
    const [resourceType, action, extra] = value.split(':');
    if (!resourceType || extra !== undefined)
      throw new UsageError(`--filter takes resource_type[:action], e.g. task:added; got "${value}"`);
    return action ? { resource_type: resourceType, action } : { resource_type: resourceType };
  });
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
  filters = parseFilters(undefined),
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
  let listed: Pick<Webhook, 'gid' | 'target'>[];
  try {
    const project = await api.call<{ workspace?: { gid?: unknown } }>('GET', `/projects/${projectGid}`, {
      params: { opt_fields: 'workspace' },
    });
    const workspace = answeredGid(project.workspace?.gid, 'workspace');
    listed = await api.all('/webhooks', { workspace, resource: projectGid, opt_fields: 'target' });
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

async function create(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { project: { type: 'string' }, 'public-url': { type: 'string' }, filter: { type: 'string', multiple: true } },
  });
  const project = gidOption(values.project, 'project');
  if (!ctx.config.asana.projectGids.includes(project)) {
    throw new UsageError(
      `project ${project} is not in ASANA_PROJECT_GIDS: the webhook serves only the synced projects; add it there first`,
    );
  }
  const filters = parseFilters(values.filter);
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(new URL(publicUrl).hostname)) {
    ctx.output.err('warning: Asana refuses localhost targets; give a public https URL (a tunnel, for development).');
  }
  const hook = await registerWebhook(ctx.api, ctx.secrets, project, publicUrl, filters);
  const found = hook.found ? "; Asana's answer was lost or unusable, so the webhook was found by its URL in Asana's list" : '';
  ctx.output.out(`Created webhook ${hook.gid} for project ${project} → ${hook.target} (handshake completed, secret stored${found}).`);
}

function workspace(ctx: WebhookCommandContext): string {
  const gid = ctx.config.asana.workspaceGid;
  if (gid === undefined) throw new UsageError('set ASANA_WORKSPACE_GID: Asana lists webhooks by workspace');
  return gid;
}

function listFor(ctx: WebhookCommandContext, project?: string): Promise<Webhook[]> {
  return ctx.api.all<Webhook>('/webhooks', { workspace: workspace(ctx), resource: project, opt_fields: WEBHOOK_FIELDS });
}

/**
 * The secret this DATA_DIR holds for a webhook: only when its target is ours (under the public URL,
 * on our path) and the secret is for that target's project. A target elsewhere that carries one of
 * our tokens is not our webhook, so its secret is neither shown as stored nor deleted.
 */
async function secretOf(ctx: WebhookCommandContext, publicUrl: string, hook: Webhook): Promise<WebhookSecret | undefined> {
  const own = ownTarget(publicUrl, hook.target);
  if (own === undefined) return undefined;
  const stored = await ctx.secrets.get(own.token);
  return stored?.projectGid === own.projectGid ? stored : undefined;
}

async function list(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { project: { type: 'string' }, json: { type: 'boolean', default: false }, 'public-url': { type: 'string' } },
  });
  const project = values.project === undefined ? undefined : gidOption(values.project, 'project');
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  const hooks = await listFor(ctx, project);
  const secrets = await Promise.all(hooks.map(async (h) => ((await secretOf(ctx, publicUrl, h)) ? 'stored' : 'none')));
  if (values.json) {
    ctx.output.out(terminalJson(hooks.map((h, i) => ({ ...h, secret: secrets[i] }))));
    return;
  }
  if (hooks.length === 0) {
    ctx.output.out('No webhooks.');
    return;
  }
  const columns = ['gid', 'resource', 'target', 'active', 'secret', 'last_success_at', 'last_failure_at', 'last_failure_content'];
  const rows = hooks.map((h, i) => [
    h.gid,
    h.resource.name ? `${h.resource.gid} (${h.resource.name})` : h.resource.gid,
    h.target,
    String(h.active),
    secrets[i],
    h.last_success_at ?? '-',
    h.last_failure_at ?? '-',
    h.last_failure_content || '-',
  ]);
  ctx.output.out(formatTable(columns, rows));
}

/** A webhook of an answer, refused unless it is the webhook, or of the project, the operator named. */
function namedWebhook(hook: Webhook, named: { gid?: string; project?: string }): Webhook {
  const gid = answeredGid(hook.gid, 'webhook');
  if ((named.gid !== undefined && gid !== named.gid) || (named.project !== undefined && hook.resource.gid !== named.project)) {
    throw new UntrustedAnswer(
      `Asana answered with webhook ${gid} of project ${String(JSON.stringify(hook.resource.gid))}, not one the command named; nothing was deleted`,
    );
  }
  return hook;
}

async function remove(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { project: { type: 'string' }, 'public-url': { type: 'string' } },
  });
  if ((positionals.length === 1) === (values.project !== undefined) || positionals.length > 1) {
    throw new UsageError('give either a webhook gid or --project <gid>');
  }
  const named =
    values.project !== undefined ? { project: gidOption(values.project, 'project') } : { gid: gidOption(positionals[0], 'webhook') };
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  const answered =
    named.project !== undefined ? await listFor(ctx, named.project) : [await ctx.api.call<Webhook>('GET', `/webhooks/${named.gid}`)];
  // every webhook is checked before any is deleted
  const hooks = answered.map((hook) => namedWebhook(hook, named));
  for (const hook of hooks) {
    const secret = await secretOf(ctx, publicUrl, hook);
    await ctx.api.call('DELETE', `/webhooks/${hook.gid}`);
    if (secret === undefined) {
      ctx.output.out(
        `Deleted webhook ${hook.gid} (project ${hook.resource.gid}); its target is not this service's URL with a secret stored here, so no secret was forgotten.`,
      );
      continue;
    }
    await ctx.secrets.delete(secret.token);
    ctx.output.out(`Deleted webhook ${hook.gid} (project ${hook.resource.gid}) and forgot its secret.`);
  }
  if (hooks.length === 0) ctx.output.out('No webhooks to delete.');
}

export const WEBHOOK_COMMANDS: Record<string, (ctx: WebhookCommandContext, args: string[]) => Promise<void>> = {
  create,
  list,
  delete: remove,
};
