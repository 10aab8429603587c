/**
 * The Temporal server a bench runs on (`--topology`): the embedded dev server on a SQLite file, as
 * `npm start` runs it; Temporal 1.29.1 on PostgreSQL with compose's dynamic config, as
 * docker-compose.yml runs it; or the dev server in memory, a reference no user runs.
 */
import path from 'node:path';
import { startDevServer, startEmbeddedServer } from '../temporal/dev-server';
import { DEFAULT_OPTIONS, resetServer, serverBinaries, startServer, stopServer } from '../temporal/postgres-temporal';

export const TOPOLOGIES = ['embedded', 'postgres', 'memory'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export interface BenchServer {
  address: string;
  /** What the bench's tables say it ran on. */
  description: string;
  stop(): Promise<void>;
}

/** Frontend port of the bench's PostgreSQL server: every port of its four services stays below 32768, as the schema needs. */
const POSTGRES_PORT = 17233;

export async function startTopology(topology: Topology, dir: string): Promise<BenchServer> {
  if (topology === 'memory') {
    const server = await startDevServer();
    return { address: server.address, description: 'Temporal dev server in memory', stop: () => server.stop() };
  }
  if (topology === 'embedded') {
    const server = await startEmbeddedServer(dir, {});
    return {
      address: server.address,
      description: 'Temporal dev server on a SQLite file, as `npm start` runs it',
      stop: () => server.stop(),
    };
  }
  const binaries = await serverBinaries();
  if (!binaries) throw new Error('--topology postgres needs the Temporal server, which Go builds (`npm run provision`)');
  const options = {
    ...DEFAULT_OPTIONS,
    dir: path.join(dir, 'temporal-postgres'),
    database: 'temporal_bench',
    port: POSTGRES_PORT,
    dynamicConfig: 'compose' as const,
  };
  await resetServer(binaries, options); // a fresh database, as a new deployment has
  const server = await startServer(binaries, options);
  return {
    address: server.address,
    description: "Temporal 1.29.1 on PostgreSQL with compose's dynamic config",
    stop: async () => {
      await stopServer(options);
      await resetServer(binaries, options);
    },
  };
}
