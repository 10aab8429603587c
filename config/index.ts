/**
 * The one place that reads the environment. Every entry point calls `loadConfig` once and passes
 * the typed result down; nothing else touches `process.env`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { Duration } from '@temporalio/common';
import { isGid } from './gid';

export type DeletedTaskPolicy = 'keep' | 'delete';

export interface AsanaConfig {
  accessToken: string;
  baseUrl: string;
  projectGids: string[];
  workspaceGid?: string;
  /** Requests per minute this deployment sends to Asana (1,500 on paid plans, 150 on free ones). */
  requestsPerMinute: number;
}

export interface AirtableConfig {
  token: string;
  baseId: string;
  tableName: string;
  endpointUrl: string;
  /** How long Airtable refuses a base after a 429 (30 s); shorter only for an emulator. */
  lockoutMs: number;
  /** Requests per second this deployment sends to the base (Airtable allows 5). */
  requestsPerSecond: number;
  /** Whether Airtable may add select options it lacks (the `typecast` of each write). */
  typecast: boolean;
}

export interface TemporalConfig {
  /** Undefined when TEMPORAL_ADDRESS is not set: `npm start` then runs the embedded dev server. */
  address?: string;
  namespace: string;
  taskQueue: string;
  /** Temporal Cloud API key; turns TLS on. */
  apiKey?: string;
  /** mTLS client certificate and key files (Temporal Cloud or any TLS cluster). */
  tls?: { certPath: string; keyPath: string };
}

export interface RedisConfig {
  /** Where the budgets every worker process shares live (redis:// or rediss://). */
  url: string;
  /** Prepended to every key, for deployments (or tests) that share one Redis. */
  keyPrefix: string;
}

export interface ReconcileConfig {
  /** How often the incremental reconciliation runs, as a Temporal duration ("5m"). */
  interval: Duration;
  /** How often the full reconciliation runs ("24h"). */
  fullInterval: Duration;
}

export interface Config {
  asana: AsanaConfig;
  airtable: AirtableConfig;
  temporal: TemporalConfig;
  port: number;
  /** Where the worker serves Temporal SDK metrics for Prometheus; 0 for none. */
  workerMetricsPort: number;
  /** Where the webhook serves its metrics for Prometheus, apart from its public PORT; 0 for none. */
  webhookMetricsPort: number;
  /** The address both metrics endpoints listen on: loopback unless a scraper elsewhere needs them. */
  metricsHost: string;
  publicUrl?: string;
  dataDir: string;
  logLevel: string;
  deletedTasks: DeletedTaskPolicy;
  /** SYNC_SUBTASKS: subtasks of tasks in a synced project get rows of their own. */
  syncSubtasks: boolean;
  reconcile: ReconcileConfig;
  /** How often the webhook health schedule checks (and repairs) each synced project's webhook ("5m"). */
  webhookHealthInterval: Duration;
  /** Unset: each worker paces Airtable and Asana on its own, which only a single worker may do. */
  redis?: RedisConfig;
  /** The YAML file of the columns added beside the five (rows/columns-file.ts); none when unset. */
  columnsFile?: string;
}

/** Which credentials an entry point cannot work without. */
export type Need = 'asana' | 'airtable';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';

export class ConfigError extends Error {
  /** `hint` follows the list: what the entry point suggests instead. */
  constructor(
    readonly problems: string[],
    hint?: string,
  ) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every variable.${hint ? `\n${hint}` : ''}`,
    );
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** process.env over the optional `.env` file in the working directory (real variables win). */
export function readEnv(dotEnvPath = path.resolve('.env')): Env {
  const fromFile = existsSync(dotEnvPath) ? parseEnv(readFileSync(dotEnvPath, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(needs: Need[] = ['asana', 'airtable'], env: Env = readEnv()): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const required = (need: Need, name: string, value = get(name)): string => {
    if (value === undefined && needs.includes(need)) problems.push(`${name} is required`);
    return value ?? '';
  };
  const url = (name: string, fallback: string): string => {
    const value = get(name) ?? fallback;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    } catch {
      problems.push(`${name} must be an http(s) URL, got "${value}"`);
    }
    return value.replace(/\/+$/, '');
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = get(name) ?? fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    }
    return value as T;
  };
  const positiveInt = (name: string, fallback: number): number => {
    const text = get(name);
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value <= 0) problems.push(`${name} must be a positive whole number, got "${text}"`);
    return value;
  };
  const duration = (name: string, fallback: Duration): Duration => {
    const value = get(name) ?? fallback;
    if (typeof value !== 'string' || !/^\d+(s|m|h|d)$/.test(value) || Number.parseInt(value, 10) === 0) {
      problems.push(`${name} must be a duration like 30s, 5m, 24h or 7d, got "${String(value)}"`);
    }
    return value as Duration;
  };
  const gid = (name: string, value: string | undefined): void => {
    if (value !== undefined && !isGid(value)) problems.push(`${name} must be numeric Asana gids, got "${value}"`);
  };

  const projectGids = (get('ASANA_PROJECT_GIDS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  projectGids.forEach((g) => gid('ASANA_PROJECT_GIDS', g));
  const workspaceGid = get('ASANA_WORKSPACE_GID');
  gid('ASANA_WORKSPACE_GID', workspaceGid);

  const baseId = required('airtable', 'AIRTABLE_BASE_ID');
  if (baseId !== '' && !/^app[A-Za-z0-9]{14}$/.test(baseId)) {
    problems.push(`AIRTABLE_BASE_ID must look like "appXXXXXXXXXXXXXX" (app + 14 letters or digits), got "${baseId}"`);
  }

  const portNumber = (name: string, fallback: string): number => {
    const text = get(name) ?? fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0 || value > 65535) problems.push(`${name} must be a port number, got "${text}"`);
    return value;
  };
  const port = portNumber('PORT', '3000');
  const metricsHost = get('METRICS_HOST') ?? '127.0.0.1';
  if (isIP(metricsHost) === 0) problems.push(`METRICS_HOST must be an IP address (127.0.0.1, 0.0.0.0, ::1), got "${metricsHost}"`);

  const publicUrl = get('PUBLIC_URL') === undefined ? undefined : url('PUBLIC_URL', '');
  const temporalAddress = get('TEMPORAL_ADDRESS');
  if (temporalAddress !== undefined && !/^[^\s:/]+:\d+$/.test(temporalAddress)) {
    problems.push(`TEMPORAL_ADDRESS must be host:port, got "${temporalAddress}"`);
  }

  const redisUrl = get('REDIS_URL');
  const redisKeyPrefix = get('REDIS_KEY_PREFIX') ?? 'asana-airtable-sync:';
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    // Never echo the URL: it may carry Redis's password.
    problems.push('REDIS_URL must be a redis:// or rediss:// URL');
  }

  const columnsFile = get('COLUMNS_FILE');
  if (columnsFile !== undefined && !existsSync(columnsFile)) problems.push(`COLUMNS_FILE must name a readable file, got "${columnsFile}"`);

  const tlsCert = get('TEMPORAL_TLS_CERT');
  const tlsKey = get('TEMPORAL_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    problems.push('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both or neither');
  for (const [name, file] of [
    ['TEMPORAL_TLS_CERT', tlsCert],
    ['TEMPORAL_TLS_KEY', tlsKey],
  ] as const) {
    if (file !== undefined && !existsSync(file)) problems.push(`${name} must name a readable file, got "${file}"`);
  }

  const config: Config = {
    asana: {
      accessToken: required('asana', 'ASANA_ACCESS_TOKEN'),
      baseUrl: url('ASANA_BASE_URL', 'https://app.asana.com/api/1.0'),
      projectGids,
      workspaceGid,
      requestsPerMinute: positiveInt('ASANA_RPM', 1500),
    },
    airtable: {
      token: required('airtable', 'AIRTABLE_TOKEN', get('AIRTABLE_TOKEN') ?? get('AIRTABLE_API_KEY')),
      baseId,
      tableName: get('AIRTABLE_TABLE_NAME') ?? 'Asana Tasks',
      endpointUrl: url('AIRTABLE_ENDPOINT_URL', 'https://api.airtable.com'),
      lockoutMs: positiveInt('AIRTABLE_LOCKOUT_MS', 30_000),
      requestsPerSecond: positiveInt('AIRTABLE_RPS', 5),
      typecast: oneOf('AIRTABLE_TYPECAST', ['true', 'false'], 'false') === 'true',
    },
    temporal: {
      address: temporalAddress,
      namespace: get('TEMPORAL_NAMESPACE') ?? 'default',
      taskQueue: get('TEMPORAL_TASK_QUEUE') ?? 'asana-airtable',
      apiKey: get('TEMPORAL_API_KEY'),
      tls: tlsCert !== undefined && tlsKey !== undefined ? { certPath: path.resolve(tlsCert), keyPath: path.resolve(tlsKey) } : undefined,
    },
    port,
    workerMetricsPort: portNumber('WORKER_METRICS_PORT', '9464'),
    webhookMetricsPort: portNumber('WEBHOOK_METRICS_PORT', '9465'),
    metricsHost,
    publicUrl,
    dataDir: path.resolve(get('DATA_DIR') ?? './data'),
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    deletedTasks: oneOf<DeletedTaskPolicy>('ASANA_DELETED_TASKS', ['keep', 'delete'], 'keep'),
    syncSubtasks: oneOf('SYNC_SUBTASKS', ['true', 'false'], 'false') === 'true',
    reconcile: { interval: duration('RECONCILE_INTERVAL', '5m'), fullInterval: duration('RECONCILE_FULL_INTERVAL', '24h') },
    webhookHealthInterval: duration('WEBHOOK_HEALTH_INTERVAL', '5m'),
    redis: redisUrl === undefined ? undefined : { url: redisUrl, keyPrefix: redisKeyPrefix },
    columnsFile: columnsFile === undefined ? undefined : path.resolve(columnsFile),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** An address as URLs and the Temporal SDK write it: host:port, an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** Where the Temporal CLI comes from, for scripts/provision-temporal.ts. */
export function temporalCliOverride(env: Env = readEnv()): string | undefined {
  return env.TEMPORAL_CLI_PATH?.trim() || undefined;
}

/** Where tctl comes from: a binary (TCTL_PATH), or a source archive to build it from (TCTL_SOURCE). */
export function tctlSources(env: Env = readEnv()): { override?: string; sourceArchive?: string } {
  return { override: env.TCTL_PATH?.trim() || undefined, sourceArchive: env.TCTL_SOURCE?.trim() || undefined };
}

/** The PATH directories, for finding a `temporal` binary the user installed. */
export function searchPath(env: Env = readEnv()): string[] {
  return (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '');
}
