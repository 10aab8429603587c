/**
 * Runs the webhook app on PORT, connecting to Temporal in the background so /healthz can say when
 * it is ready, and its metrics on METRICS_HOST:WEBHOOK_METRICS_PORT. Deliveries go through the
 * journal (journal.ts) to Temporal. With PUBLIC_URL, it also takes the webhook health checks
 * (health-worker.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Services } from '../services';
import { hostPort } from '../config';
import { assertNoProblems, changeRuleOf, readColumnsFile } from '../rows/columns-file';
import { awaitSearchAttributes, ensureSearchAttributes, workflowPollers } from '../temporal/connection';
import { createWebhookApp, emptyCounts, type OutcomeCounts } from './app';
import { within } from '../lib/within';
import { temporalCheck, temporalForward } from './dispatch';
import { Journal, JournalRefusal } from './journal';
import { UnseenTaskBudget } from './unseen-tasks';
import { WebhookMetrics } from './metrics';
import { SecretStore } from '../asana/webhook-secrets';
import { startHealthWorker } from './health-worker';

export interface WebhookServer {
  url: string;
  /** Where Prometheus scrapes the webhook; none when WEBHOOK_METRICS_PORT is 0. */
  metricsUrl?: string;
  counts: OutcomeCounts;
  close(): Promise<void>;
}

const RECONNECT_MS = 2_000;
/** While nothing is being forwarded, Temporal is asked this often whether it answers. */
const PROBE_MS = 1_000;
/** How often Temporal is asked whether a worker polls the task queue (for /readyz). */
const POLLERS_MS = 2_000;
/** Requests a connection may leave unanswered at once: Asana sends one at a time, and a client pipelining more only piles up answers. */
export const MAX_PIPELINED = 16;
/** How long a connection's answers may wait unread before its client is dropped. */
export const UNREAD_MS = 5_000;
/** How often connections are checked for stalled requests and unread answers. */
const CHECK_MS = 1_000;

/** What the server knows of one connection. */
interface Connection {
  /** Requests whose answers have not all gone to the network yet. */
  unanswered: number;
  /** Since when its answers wait in this process for the client to read them. */
  unreadSince?: number;
}

/**
 * The public HTTP server. Asana gives up on a delivery after 10 s: a request still incomplete
 * after 8 (a stalled body, headers sent a byte at a time) gets 408 and its connection closed.
 * A client that pipelines more than MAX_PIPELINED requests, or leaves answers unread for
 * UNREAD_MS, is dropped: every answer it does not read would otherwise stay in this process.
 */
export function createPublicServer(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Server {
  const connections = new Map<Socket, Connection>();
  const server = createServer({ requestTimeout: 8_000, headersTimeout: 5_000, connectionsCheckingInterval: CHECK_MS }, (req, res) => {
    const connection = connections.get(req.socket);
    if (!connection || ++connection.unanswered > MAX_PIPELINED) return void req.socket.destroy();
    res.once('close', () => (connection.unanswered -= 1));
    void handle(req, res); // Koa answers every error itself
  });
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { unanswered: 0 });
    socket.once('close', () => connections.delete(socket));
  });
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [socket, connection] of connections) {
      if (socket.writableLength === 0) connection.unreadSince = undefined;
      else if (connection.unreadSince === undefined) connection.unreadSince = now;
      else if (now - connection.unreadSince >= UNREAD_MS) socket.destroy();
    }
  }, CHECK_MS).unref();
  server.once('close', () => clearInterval(sweep));
  return server;
}

/**
 * Starts the webhook on the process's services: its Temporal connection, made in the background
 * (deliveries get 503 until it is), and its budgets. Closing the webhook leaves them to their owner.
 */
export async function startWebhookServer(services: Services): Promise<WebhookServer> {
  const { config, log } = services;
  const columns = readColumnsFile(config.columnsFile);
  assertNoProblems(columns.problems);
  let connected: Client | undefined;
  let closed = false;
  const connect = async (): Promise<void> => {
    while (!connected && !closed) {
      try {
        const { client } = await services.temporal();
        // Signals carry the search attributes: without them Temporal refuses every event, so the
        // webhook registers them too (the worker may not have started yet).
        await ensureSearchAttributes(client.connection, config.temporal.namespace).catch((err: Error) =>
          log.warn({ err: err.message }, 'could not check the search attributes; the worker registers them'),
        );
        await awaitSearchAttributes(client, log); // until then Temporal would refuse every event
        connected = client;
        log.info('connected to Temporal');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'Temporal not reachable yet; deliveries get 503 until it is');
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    }
  };
  void connect();

  const counts = emptyCounts();
  const inFlight = new Set<Promise<unknown>>();
  const metrics = new WebhookMetrics();
  const forward = temporalForward(() => connected, config.temporal.taskQueue, inFlight);
  const unseen = new UnseenTaskBudget();
  const check = temporalCheck(() => connected, config.temporal.taskQueue, inFlight, unseen);
  const journal = await Journal.open(
    config.dataDir,
    async (entry) => {
      await forward(entry);
      metrics.signalled(1);
    },
    log,
    {
      onSetAside: (reason, count) => metrics.setAside(reason, count),
      check: async (entries) => {
        await check(entries);
        metrics.checked(entries.length);
      },
      release: (entry) => unseen.vouchedFor(entry.projectGid),
      checkBatch: (projectGid) => unseen.checkBatch(projectGid),
    },
  );
  metrics.watchJournal(() => journal.backlog);

  // An idle journal learns of an outage only from its next forward; a light probe tells sooner,
  // so deliveries are refused (and kept by Asana) rather than journaled while Temporal is away.
  let answering = true;
  const probe = setInterval(() => {
    if (!connected || journal.backlog > 0) return;
    const connection = connected.connection;
    // The native client retries a refused call inside its deadline: the probe's own timer decides.
    const call = connection.withDeadline(Date.now() + PROBE_MS, () => connection.workflowService.getSystemInfo({}));
    within(PROBE_MS, call, 'Temporal', inFlight).then(
      () => (answering = true),
      () => (answering = false),
    );
  }, PROBE_MS);
  const temporalAnswers = () => connected !== undefined && answering;
  const acceptingDeliveries = () => temporalAnswers() && journal.accepting;

  // Ready means a worker polls the task queue too: until then a delivery is taken, but its row
  // waits for the worker's start (seconds), which /healthz does not say.
  let workerPolls = false;
  const pollers = setInterval(() => {
    const connection = connected?.connection;
    if (!connection) return;
    const call = workflowPollers(connection, config.temporal.namespace, config.temporal.taskQueue, PROBE_MS);
    within(PROBE_MS, call, 'Temporal', inFlight).then(
      (identities) => (workerPolls = identities.length > 0),
      () => (workerPolls = false),
    );
  }, POLLERS_MS);
  const readiness = () =>
    !acceptingDeliveries()
      ? { ready: false, waitingFor: 'Temporal to take deliveries' }
      : !workerPolls
        ? { ready: false, waitingFor: 'a worker to poll the task queue' }
        : { ready: true };

  const secrets = new SecretStore(config.dataDir);
  const legacy = await secrets.legacyProjects();
  if (legacy.length > 0) {
    log.warn(
      { projects: legacy },
      'webhooks registered before webhook URLs carried a token are refused: re-create them (`webhooks create`, then `webhooks delete` the old one; docs/security.md)',
    );
  }
  // The health checks register webhooks, so they run where the secrets and the handshake are: here.
  const { publicUrl } = config;
  const health =
    publicUrl !== undefined && config.asana.accessToken !== '' ? startHealthWorker(services, publicUrl, { metrics, secrets }) : undefined;
  if (!health) log.info('webhook health checks off: they need PUBLIC_URL and ASANA_ACCESS_TOKEN (docs/operating.md)');
  const projects = new Set(config.asana.projectGids);
  if (projects.size === 0) log.error('ASANA_PROJECT_GIDS is empty: every handshake and delivery is refused');
  const app = createWebhookApp(
    {
      secrets,
      projects,
      log,
      metrics,
      accepting: acceptingDeliveries,
      changeRule: changeRuleOf(columns.settings),
      enqueue: (entries) => {
        if (!temporalAnswers()) throw new JournalRefusal('Temporal is not answering');
        journal.append(unseen.route(entries));
      },
    },
    counts,
  );
  const server = createPublicServer(app.callback());
  await new Promise<void>((resolve) => server.listen(config.port, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  log.info({ url }, 'webhook listening');
  const metricsServer =
    config.webhookMetricsPort > 0 ? await metrics.serve(config.metricsHost, config.webhookMetricsPort, readiness) : undefined;
  const metricsUrl = metricsServer && `http://${hostPort(config.metricsHost, (metricsServer.address() as AddressInfo).port)}/metrics`;
  if (metricsUrl) log.info({ url: metricsUrl }, 'webhook metrics listening');
  return {
    url,
    metricsUrl,
    counts,
    close: async () => {
      closed = true;
      clearInterval(probe);
      clearInterval(pollers);
      await health?.close();
      if (metricsServer) {
        await new Promise<void>((resolve) => {
          metricsServer.close(() => resolve());
          metricsServer.closeAllConnections();
        });
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await journal.close(); // what it still holds is forwarded by the next start
      await Promise.allSettled([...inFlight]); // each ends by its own gRPC deadline: the owner may then close the connection
    },
  };
}
