/**
 * The composition root: what a process shares, opened in one order and closed in the reverse one
 * once the work that uses it has ended. Every entry point (npm start, the worker, the webhook, the
 * demo, the CLI) and the test stacks open it and hand its parts on, as the Temporal samples hand
 * dependencies to activities; nothing below opens a connection or a budget of its own.
 */
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { AsanaApi } from '../asana/api';
import { Budgets } from '../budgets';
import type { Config } from '../config';
import type { Logger } from '../lib/logger';
import { connectNative } from '../temporal/connection';

/** The process's one Temporal connection, native (its gRPC runs on Rust threads), and a client on it. */
export interface TemporalHandle {
  connection: NativeConnection;
  client: Client;
}

export interface Services {
  readonly config: Config;
  readonly log: Logger;
  /** One budget per Airtable base and per Asana token (in Redis with REDIS_URL), for every client. */
  readonly budgets: Budgets;
  /** The process's Asana client. */
  readonly asana: AsanaApi;
  /** The Temporal connection, made on first use and shared by every caller; a failed attempt is made again by the next call. */
  temporal(): Promise<TemporalHandle>;
  /** At shutdown, before the work ends: every request still waiting for its API turn gives up. */
  stop(): void;
  /** Once the work has ended: the Temporal connection, then the budgets. */
  close(): Promise<void>;
}

export async function openServices(config: Config, log: Logger): Promise<Services> {
  const budgets = await Budgets.open(config.redis, log); // before any client: they take their pacers from it
  let temporal: Promise<TemporalHandle> | undefined;
  const connectTemporal = async (): Promise<TemporalHandle> => {
    const connection = await connectNative(config.temporal);
    return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
  };
  return {
    config,
    log,
    budgets,
    asana: new AsanaApi(config.asana, budgets),
    temporal() {
      temporal ??= connectTemporal().catch((err: unknown) => {
        temporal = undefined;
        throw err;
      });
      return temporal;
    },
    stop: () => budgets.stop(),
    async close() {
      const connected = await temporal?.catch(() => undefined);
      await connected?.connection.close();
      await budgets.close();
    },
  };
}
