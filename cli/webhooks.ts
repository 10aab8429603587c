/** `webhooks create|ensure|list|delete`: the service's Asana webhooks, and the secrets that go with them. */
import { parseArgs } from 'node:util';
import type { Config } from '../config';
import { isGid } from '../config/gid';
import type { AsanaApi } from '../asana/api';
import { ApiError } from '../lib/api-error';
import {
  answeredGid,
  configuredFilters,
  deleteAtAsana,
  describeEnsured,
  ensureWebhook,
  listWebhooks,
  registerWebhook,
  secretOf,
  UntrustedAnswer,
  type Webhook,
} from '../asana/webhooks';
import { tokenOf, type SecretStore, type WebhookSecret } from '../asana/webhook-secrets';
import type { WebhookFilter } from '../rows/webhook-filters';
import { formatTable } from '../lib/text-table';
import { terminalJson } from '../lib/terminal-text';
import { UsageError } from './errors';
import type { Output } from './output';

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

/** The webhook's address as Asana reaches it (--public-url, or PUBLIC_URL): a target is ours only under it. */
function publicUrlOption(ctx: WebhookCommandContext, value: string | undefined): string {
  const publicUrl = value ?? ctx.config.publicUrl;
  if (publicUrl === undefined)
    throw new UsageError("give --public-url <url>, or set PUBLIC_URL: the webhook's address as Asana reaches it");
  if (!URL.canParse(publicUrl)) throw new UsageError(`--public-url must be a URL, got "${publicUrl}"`);
  return publicUrl;
}

/** `--filter task:added` (resource_type[:action]), repeatable; defaults to the filters the columns call for. */
function parseFilters(ctx: WebhookCommandContext, values: string[] | undefined): WebhookFilter[] {
  if (!values || values.length === 0) return configuredFilters(ctx.config.columnsFile);
  return values.map((value) => {
    const [resourceType, action, extra] = value.split(':');
    if (!resourceType || extra !== undefined)
      throw new UsageError(`--filter takes resource_type[:action], e.g. task:added; got "${value}"`);
    return action ? { resource_type: resourceType, action } : { resource_type: resourceType };
  });
}

function warnIfLocal(ctx: WebhookCommandContext, publicUrl: string): void {
  if (['localhost', '127.0.0.1', '[::1]', '0.0.0.0'].includes(new URL(publicUrl).hostname)) {
    ctx.output.err('warning: Asana refuses localhost targets; give a public https URL (a tunnel, for development).');
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
  const filters = parseFilters(ctx, values.filter);
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  warnIfLocal(ctx, publicUrl);
  const hook = await registerWebhook(ctx.api, ctx.secrets, project, publicUrl, filters);
  const found = hook.found ? "; Asana's answer was lost or unusable, so the webhook was found by its URL in Asana's list" : '';
  ctx.output.out(`Created webhook ${hook.gid} for project ${project} → ${hook.target} (handshake completed, secret stored${found}).`);
}

/** `webhooks ensure`: each synced project gets exactly one active webhook of ours, with the filters the columns call for. */
async function ensure(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'public-url': { type: 'string' } } });
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  const projects = ctx.config.asana.projectGids;
  if (projects.length === 0) throw new UsageError('ASANA_PROJECT_GIDS is empty: there is no synced project to ensure a webhook for');
  warnIfLocal(ctx, publicUrl);
  const keeper = { api: ctx.api, secrets: ctx.secrets, publicUrl, workspaceGid: ctx.config.asana.workspaceGid };
  const filters = configuredFilters(ctx.config.columnsFile);
  for (const project of projects) ctx.output.out(describeEnsured(await ensureWebhook(keeper, project, filters)));
}

function workspace(ctx: WebhookCommandContext): string {
  const gid = ctx.config.asana.workspaceGid;
  if (gid === undefined) throw new UsageError('set ASANA_WORKSPACE_GID: Asana lists webhooks by workspace');
  return gid;
}

function listFor(ctx: WebhookCommandContext, project?: string): Promise<Webhook[]> {
  return listWebhooks(ctx.api, workspace(ctx), project);
}

async function list(ctx: WebhookCommandContext, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { project: { type: 'string' }, json: { type: 'boolean', default: false }, 'public-url': { type: 'string' } },
  });
  const project = values.project === undefined ? undefined : gidOption(values.project, 'project');
  const publicUrl = publicUrlOption(ctx, values['public-url']);
  const hooks = await listFor(ctx, project);
  const secrets = await Promise.all(hooks.map(async (h) => secretState(await secretOf(ctx.secrets, publicUrl, h))));
  if (values.json) {
    ctx.output.out(terminalJson(hooks.map((h, i) => ({ ...h, secret: secrets[i] }))));
    return;
  }
  if (hooks.length === 0) {
    ctx.output.out('No webhooks.');
    return;
  }
  const columns = [
    'gid',
    'resource',
    'target',
    'active',
    'secret',
    'last_success_at',
    'last_failure_at',
    'last_failure_content',
    'delivery_retry_count',
    'failure_deletion_timestamp',
  ];
  const rows = hooks.map((h, i) => [
    h.gid,
    h.resource.name ? `${h.resource.gid} (${h.resource.name})` : h.resource.gid,
    h.target,
    String(h.active),
    secrets[i],
    h.last_success_at ?? '-',
    h.last_failure_at ?? '-',
    h.last_failure_content || '-',
    String(h.delivery_retry_count ?? '-'),
    h.failure_deletion_timestamp ?? '-',
  ]);
  ctx.output.out(formatTable(columns, rows));
}

/** How `list` shows a webhook's secret: pending until Asana's create answer confirms it. */
function secretState(secret: WebhookSecret | undefined): 'stored' | 'pending' | 'none' {
  return secret === undefined ? 'none' : secret.pending ? 'pending' : 'stored';
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
  const answered = named.project !== undefined ? await listFor(ctx, named.project) : await webhookOrGone(ctx, named.gid);
  if (answered === undefined) return;
  // every webhook is checked before any is deleted
  const hooks = answered.map((hook) => namedWebhook(hook, named));
  for (const hook of hooks) {
    const secret = await secretOf(ctx.secrets, publicUrl, hook);
    await deleteAtAsana(ctx.api, hook.gid);
    if (secret === undefined) {
      ctx.output.out(
        `Deleted webhook ${hook.gid} (project ${hook.resource.gid}); its target is not this service's URL with a secret stored here, so no secret was forgotten.`,
      );
      continue;
    }
    await ctx.secrets.delete(secret.token);
    ctx.output.out(`Deleted webhook ${hook.gid} (project ${hook.resource.gid}) and forgot its secret.`);
  }
  if (named.project !== undefined) await forgetUnlisted(ctx, named.project, hooks);
  else if (hooks.length === 0) ctx.output.out('No webhooks to delete.');
}

/**
 * The webhook `delete <gid>` names, as Asana answers it. When Asana no longer has it (a 404) but
 * its secret is stored here, the secret is forgotten and the command is done (undefined): Asana
 * deleted the webhook, and its secret must not outlive it. Without such a secret, the 404 stands.
 */
async function webhookOrGone(ctx: WebhookCommandContext, gid: string): Promise<Webhook[] | undefined> {
  try {
    return [await ctx.api.call<Webhook>('GET', `/webhooks/${gid}`)];
  } catch (err) {
    const secret = err instanceof ApiError && err.status === 404 ? await ctx.secrets.ofWebhook(gid) : undefined;
    if (secret === undefined) throw err;
    await ctx.secrets.delete(secret.token);
    ctx.output.out(
      `Asana no longer has webhook ${gid} (it answered 404), so there was nothing to delete there; forgot its secret (project ${secret.projectGid}).`,
    );
    return undefined;
  }
}

/**
 * `delete --project` leaves none of the project's secrets: those of webhooks Asana no longer lists
 * go too (not one a listed target carries, though that target is not ours).
 */
async function forgetUnlisted(ctx: WebhookCommandContext, projectGid: string, listed: Webhook[]): Promise<void> {
  const listedTokens = new Set(listed.map((hook) => tokenOf(hook.target)));
  const unlisted = (await ctx.secrets.list()).filter((s) => s.projectGid === projectGid && !listedTokens.has(s.token));
  for (const secret of unlisted) await ctx.secrets.delete(secret.token);
  if (unlisted.length > 0)
    ctx.output.out(`Forgot ${unlisted.length} secret(s) of project ${projectGid} whose webhooks Asana no longer lists.`);
  else if (listed.length === 0) ctx.output.out('No webhooks to delete.');
}

export const WEBHOOK_COMMANDS: Record<string, (ctx: WebhookCommandContext, args: string[]) => Promise<void>> = {
  create,
  ensure,
  list,
  delete: remove,
};
