/** `webhooks create|list|delete`: the service's Asana webhooks, and the secrets that go with them. */
import { parseArgs } from 'node:util';
import type { Config } from '../config';
import type { AsanaApi } from '../lib/asana-api';
import { SecretStore } from '../webhook/secrets';
import { formatTable, UsageError, type Output } from './errors';

export const DEFAULT_ACTIONS = ['added', 'changed', 'removed', 'deleted', 'undeleted'];
/** How long the webhook accepts a handshake that replaces a stored secret, once the CLI opens it. */
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
  if (!SecretStore.isGid(value)) throw new UsageError(`--${name} must be a numeric Asana gid, got "${value}"`);
  return value;
}

/** `--filter task:added` (resource_type[:action]), repeatable; defaults to task added/changed/removed/deleted/undeleted. */
function parseFilters(values: string[] | undefined): Filter[] {
  if (!values || values.length === 0) return DEFAULT_ACTIONS.map((action) => ({ resource_type: 'task', action }));
  return values.map((value) => {
    const [resourceType, action, extra] = value.split(':');
    if (!resourceType || extra !== undefined) throw new UsageError(`--filter takes resource_type[:action], e.g. task:added; got "${value}"`);
    return action ? { resource_type: resourceType, action } : { resource_type: resourceType };
  });
}

async function create(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { project: { type: 'string' }, target: { type: 'string' }, filter: { type: 'string', multiple: true } } });
  const project = gidOption(values.project, 'project');
  const filters = parseFilters(values.filter);
  const base = ctx.config.publicUrl;
  if (values.target === undefined && base === undefined) throw new UsageError('give --target <url>, or set PUBLIC_URL so the target can be built');
  const target = values.target ?? `${base}/webhooks/asana/${project}`;
  let hostname: string;
  try {
    hostname = new URL(target).hostname;
  } catch {
    throw new UsageError(`--target must be a URL, got "${target}"`);
  }
  if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(hostname)) {
    ctx.output.err('warning: Asana refuses localhost targets; give a public https URL (a tunnel, for development).');
  }
  // Let the webhook accept this handshake even if the project already has a secret (rotation).
  await ctx.secrets.openRegistration(project, REGISTRATION_WINDOW_MS);
  try {
    const body = await ctx.api.raw<{ data: Webhook; 'X-Hook-Secret'?: string }>('POST', '/webhooks', { data: { data: { resource: project, target, filters } } });
    // The handshake stored it already when the webhook shares DATA_DIR; keep Asana's copy too.
    if (body['X-Hook-Secret']) await ctx.secrets.set(project, body['X-Hook-Secret']);
    ctx.output.out(`Created webhook ${body.data.gid} for project ${project} → ${target} (handshake completed).`);
  } finally {
    await ctx.secrets.closeRegistration(project);
  }
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
  if (values.json) {
    ctx.output.out(JSON.stringify(hooks, null, 2));
    return;
  }
  if (hooks.length === 0) {
    ctx.output.out('No webhooks.');
    return;
  }
  const columns = ['gid', 'resource', 'target', 'active', 'last_success_at', 'last_failure_at', 'last_failure_content'];
  const rows = hooks.map((h) => [h.gid, h.resource.name ? `${h.resource.gid} (${h.resource.name})` : h.resource.gid, h.target, String(h.active), h.last_success_at ?? '-', h.last_failure_at ?? '-', h.last_failure_content || '-']);
  ctx.output.out(formatTable(columns, rows));
}

async function remove(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { project: { type: 'string' } } });
  if ((positionals.length === 1) === (values.project !== undefined) || positionals.length > 1) {
    throw new UsageError('give either a webhook gid or --project <gid>');
  }
  const hooks = values.project !== undefined ? await listFor(ctx, gidOption(values.project, 'project')) : [await ctx.api.call<Webhook>('GET', `/webhooks/${gidOption(positionals[0], 'webhook')}`)];
  for (const hook of hooks) {
    await ctx.api.call('DELETE', `/webhooks/${hook.gid}`);
    await ctx.secrets.delete(hook.resource.gid);
    ctx.output.out(`Deleted webhook ${hook.gid} (project ${hook.resource.gid}) and forgot its secret.`);
  }
  if (hooks.length === 0) ctx.output.out('No webhooks to delete.');
}

export const WEBHOOK_COMMANDS: Record<string, (ctx: WebhookCommandContext, args: string[]) => Promise<void>> = { create, list, delete: remove };
