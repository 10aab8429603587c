/** Connections to Temporal, from the one config. */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { DEFAULT_TEMPORAL_ADDRESS, hostPort, type Config, type TemporalConfig } from '../config';
import type { Logger } from '../lib/logger';
import { SEARCH_ATTRIBUTES } from './search-attributes';

export const temporalAddress = (config: TemporalConfig): string => config.address ?? DEFAULT_TEMPORAL_ADDRESS;

/** Address and credentials, the same for clients and workers: plain, API key, or mTLS. */
function connectionOptions(config: TemporalConfig) {
  const clientCertPair = config.tls && { crt: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) };
  return {
    address: temporalAddress(config),
    tls: clientCertPair ? { clientCertPair } : config.apiKey !== undefined,
    apiKey: config.apiKey,
  };
}

export async function connect(config: TemporalConfig): Promise<Connection> {
  return Connection.connect({ ...connectionOptions(config), connectTimeout: '10 seconds' });
}

export async function connectClient(config: TemporalConfig): Promise<Client> {
  return new Client({ connection: await connect(config), namespace: config.namespace });
}

/** The SDK's native connection, whose gRPC runs on Rust threads: what workers need. */
export async function connectNative(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

/**
 * A client on the native connection: the webhook's, so that signalling Temporal runs on Rust
 * threads rather than through grpc-js on the JavaScript thread that answers Asana.
 */
export async function connectNativeClient(config: TemporalConfig): Promise<Client> {
  return new Client({ connection: await connectNative(config), namespace: config.namespace });
}

/** SDK warnings about what we chose on purpose (the webhook's health worker runs activities only): logged at debug. */
const EXPECTED_SDK_MESSAGES = new Set(['No workflows registered, not polling for workflow tasks']);

/**
 * Sends the SDK's own logs through pino, so each process writes one JSON log stream, and serves
 * the worker's SDK metrics for Prometheus on METRICS_HOST:WORKER_METRICS_PORT (none when 0, or
 * when no config is given: a process without a worker).
 */
export function installRuntime(log: Logger, metrics?: Pick<Config, 'metricsHost' | 'workerMetricsPort'>): void {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const method = EXPECTED_SDK_MESSAGES.has(message)
      ? 'debug'
      : ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[level];
    log[method](meta ?? {}, message);
  };
  Runtime.install({
    logger: {
      log: write,
      trace: (m, meta) => write('TRACE', m, meta),
      debug: (m, meta) => write('DEBUG', m, meta),
      info: (m, meta) => write('INFO', m, meta),
      warn: (m, meta) => write('WARN', m, meta),
      error: (m, meta) => write('ERROR', m, meta),
    },
    shutdownSignals: [], // the entry points own SIGINT/SIGTERM and shut down in order
    ...(metrics && metrics.workerMetricsPort > 0
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: hostPort(metrics.metricsHost, metrics.workerMetricsPort) } } } }
      : {}),
  });
}

/** Registers the service's search attributes on the namespace when they are missing (idempotent). */
export async function ensureSearchAttributes(connection: Pick<ConnectionLike, 'operatorService'>, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return missing.map((key) => key.name);
}

/** The gRPC status code of a failed call, wherever the SDK's wrapping put it. */
export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err; typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) {
    const { code } = e as { code?: unknown };
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/**
 * The identities (`<pid>@<host>` by default) of the workers polling a task queue for workflow
 * tasks. Temporal keeps a poller listed for a minute or so after it stops, so a dead worker lingers.
 */
export async function workflowPollers(
  connection: Pick<ConnectionLike, 'workflowService' | 'withDeadline'>,
  namespace: string,
  taskQueue: string,
  timeoutMs = 5_000,
): Promise<string[]> {
  const queue = await connection.withDeadline(Date.now() + timeoutMs, () =>
    connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    }),
  );
  return (queue.pollers ?? []).map((p) => p.identity ?? '');
}

/** The pid in a worker identity of the SDK's default form, `<pid>@<host>`. */
export const pollerPid = (identity: string): number => Number(identity.split('@')[0]);

const INVALID_ARGUMENT = 3;

/**
 * Waits until Temporal accepts queries on the service's search attributes. A server that does not
 * reload its search-attribute cache on every read (every production server; the dev server and
 * compose's dev config do) refuses attributes registered moments ago, for a minute or so, and with
 * them every schedule and workflow start that carries them.
 */
export async function awaitSearchAttributes(client: Client, log: Logger, timeoutMs = 5 * 60_000): Promise<void> {
  const query = SEARCH_ATTRIBUTES.map((key) => `${key.name} = "0"`).join(' AND ');
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      await client.connection.workflowService.countWorkflowExecutions({ namespace: client.options.namespace, query });
      if (attempt > 0) log.info({ ms: Date.now() - started }, 'Temporal now sees the search attributes');
      return;
    } catch (err) {
      if (grpcCode(err) !== INVALID_ARGUMENT || Date.now() - started > timeoutMs) throw err;
      if (attempt === 0)
        log.info(
          { err: (err as Error).message },
          'waiting for Temporal to see the search attributes (a server reloads them about once a minute)',
        );
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 5_000)));
    }
  }
}
