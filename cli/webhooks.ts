/** `webhooks create|list|delete`: the service's Asana webhooks, and the secrets that go with them. */
import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { isGid } from '../config/gid';
import type { AsanaApi } from '../lib/asana-api';
import { SecretStore, tokenOf, webhookUrl } from '../lib/webhook-secrets';
import { formatTable } from '../lib/text-table';
import { RegistrationError, UsageError } from './errors';
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
): Promise<{ gid: string; target: string }> {
  const token = await secrets.openRegistration(projectGid, REGISTRATION_WINDOW_MS);
  const target = webhookUrl(publicUrl, projectGid, token);
  try {
    const body = await api.raw<{ data: Webhook; 'X-Hook-Secret'?: string }>('POST', '/webhooks', {
      data: { data: { resource: projectGid, target, filters } },
    });
    const stored = await secrets.get(token);
    if (stored === undefined || stored.secret !== body['X-Hook-Secret']) {
      await api.call('DELETE', `/webhooks/${body.data.gid}`).catch(() => undefined);
      await secrets.delete(token);
      throw new RegistrationError(
        stored === undefined
          ? `Asana created webhook ${body.data.gid}, but its handshake did not reach a webhook on this DATA_DIR; deleted it. Run the CLI with the webhook's DATA_DIR.`
          : `the secret stored by the handshake of webhook ${body.data.gid} is not the one Asana returned; deleted the webhook.`,
      );
    }
    return { gid: body.data.gid, target };
  } finally {
    await secrets.closeRegistration(token);
  }
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
  const publicUrl = values['public-url'] ?? ctx.config.publicUrl;
  if (publicUrl === undefined)
    throw new UsageError("give --public-url <url>, or set PUBLIC_URL: the webhook's address as Asana reaches it");
  let hostname: string;
  try {
    hostname = new URL(publicUrl).hostname;
  } catch {
    throw new UsageError(`--public-url must be a URL, got "${publicUrl}"`);
  }
  if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(hostname)) {
    ctx.output.err('warning: Asana refuses localhost targets; give a public https URL (a tunnel, for development).');
  }
  const hook = await registerWebhook(ctx.api, ctx.secrets, project, publicUrl, filters);
  ctx.output.out(`Created webhook ${hook.gid} for project ${project} → ${hook.target} (handshake completed, secret stored).`);
}

function workspace(ctx: WebhookCommandContext): string {
  const gid = ctx.config.asana.workspaceGid;
  if (gid === undefined) throw new UsageError('set ASANA_WORKSPACE_GID: Asana lists webhooks by workspace');
  return gid;
}

function listFor(ctx: WebhookCommandContext, project?: string): Promise<Webhook[]> {
  return ctx.api.all<Webhook>('/webhooks', { workspace: workspace(ctx), resource: project, opt_fields: WEBHOOK_FIELDS });
}

async function list(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { project: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const project = values.project === undefined ? undefined : gidOption(values.project, 'project');
  const hooks = await listFor(ctx, project);
  const stored = new Set((await ctx.secrets.list()).map((s) => s.token));
  const secretOf = (hook: Webhook) => (stored.has(tokenOf(hook.target) ?? '') ? 'stored' : 'none');
  if (values.json) {
    ctx.output.out(
      JSON.stringify(
        hooks.map((h) => ({ ...h, secret: secretOf(h) })),
        null,
        2,
      ),
    );
    return;
  }
  if (hooks.length === 0) {
    ctx.output.out('No webhooks.');
    return;
  }
  const columns = ['gid', 'resource', 'target', 'active', 'secret', 'last_success_at', 'last_failure_at', 'last_failure_content'];
  const rows = hooks.map((h) => [
    h.gid,
    h.resource.name ? `${h.resource.gid} (${h.resource.name})` : h.resource.gid,
    h.target,
    String(h.active),
    secretOf(h),
    h.last_success_at ?? '-',
    h.last_failure_at ?? '-',
    h.last_failure_content || '-',
  ]);
  ctx.output.out(formatTable(columns, rows));
}

async function remove(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { project: { type: 'string' } } });
  if ((positionals.length === 1) === (values.project !== undefined) || positionals.length > 1) {
    throw new UsageError('give either a webhook gid or --project <gid>');
  }
  const hooks =
    values.project !== undefined
      ? await listFor(ctx, gidOption(values.project, 'project'))
      : [await ctx.api.call<Webhook>('GET', `/webhooks/${gidOption(positionals[0], 'webhook')}`)];
  for (const hook of hooks) {
    await ctx.api.call('DELETE', `/webhooks/${hook.gid}`);
    const token = tokenOf(hook.target);
    if (token === undefined) {
      ctx.output.out(
        `Deleted webhook ${hook.gid} (project ${hook.resource.gid}); its URL holds no token of ours, so no secret was forgotten.`,
      );
      continue;
    }
    await ctx.secrets.delete(token);
    ctx.output.out(`Deleted webhook ${hook.gid} (project ${hook.resource.gid}) and forgot its secret.`);
  }
  if (hooks.length === 0) ctx.output.out('No webhooks to delete.');
}

export const WEBHOOK_COMMANDS: Record<string, (ctx: WebhookCommandContext, args: string[]) => Promise<void>> = {
  create,
  list,
  delete: remove,
};
