/**
 * `npm run temporal:postgres -- start|stop|reset [options]`: a production-like Temporal server on
 * the local PostgreSQL (temporal/postgres-temporal.ts), for running the service against something
 * closer to a cluster than the dev server. See docs/deploying.md.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_OPTIONS,
  DYNAMIC_CONFIGS,
  resetServer,
  serverBinaries,
  startServer,
  stopServer,
  type PostgresTemporalOptions,
} from '../temporal/postgres-temporal';

const USAGE = `Usage: npm run temporal:postgres -- start|stop|reset [options]
  start   create or update the databases, start the server in the background, create the namespace "default"
  stop    stop the server
  reset   stop the server, drop its databases and remove its dir: the next start begins with nothing
Options:
  --port N                     the frontend's gRPC port (default ${DEFAULT_OPTIONS.port}); the other services' ports sit beside it
  --database NAME              the main database (default ${DEFAULT_OPTIONS.database}); visibility goes to NAME_visibility
  --dir DIR                    config, log and pid (default ${path.relative(process.cwd(), DEFAULT_OPTIONS.dir)})
  --dynamic-config production|compose
                               none (Temporal's defaults, as in production; the default) or compose's development-sql.yaml
  --postgres HOST:PORT         (default ${DEFAULT_OPTIONS.postgres.host}:${DEFAULT_OPTIONS.postgres.port})
  --user USER                  PostgreSQL user, with trust authentication (default ${DEFAULT_OPTIONS.postgres.user})`;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    database: { type: 'string' },
    dir: { type: 'string' },
    'dynamic-config': { type: 'string' },
    postgres: { type: 'string' },
    user: { type: 'string' },
  },
});
const [command] = positionals;
const dynamicConfig = values['dynamic-config'] ?? DEFAULT_OPTIONS.dynamicConfig;
if (positionals.length !== 1 || !['start', 'stop', 'reset'].includes(command)) fail(USAGE);
if (!(dynamicConfig in DYNAMIC_CONFIGS)) fail(`--dynamic-config: one of ${Object.keys(DYNAMIC_CONFIGS).join(', ')}`);
const [pgHost, pgPort] = values.postgres?.split(':') ?? [DEFAULT_OPTIONS.postgres.host, String(DEFAULT_OPTIONS.postgres.port)];
const options: PostgresTemporalOptions = {
  dir: path.resolve(values.dir ?? DEFAULT_OPTIONS.dir),
  database: values.database ?? DEFAULT_OPTIONS.database,
  port: Number(values.port ?? DEFAULT_OPTIONS.port),
  plugin: DEFAULT_OPTIONS.plugin,
  dynamicConfig: dynamicConfig as keyof typeof DYNAMIC_CONFIGS,
  postgres: { host: pgHost, port: Number(pgPort), user: values.user ?? DEFAULT_OPTIONS.postgres.user },
};
if (!Number.isInteger(options.port) || !Number.isInteger(options.postgres.port)) fail('--port and --postgres need whole port numbers');

async function main(): Promise<void> {
  if (command === 'stop') {
    const stopped = await stopServer(options);
    console.log(stopped ? `Stopped the Temporal server of ${options.dir}.` : `No Temporal server of ${options.dir} was running.`);
    return;
  }
  const binaries = await serverBinaries();
  if (binaries === undefined) fail('No Temporal server in .temporal/bin and no Go to build one: install Go (see docs/deploying.md).');
  console.log(`Temporal server: ${binaries.server}; schema tool: ${binaries.sql}`);
  if (command === 'reset') {
    await resetServer(binaries, options);
    console.log(`Dropped ${options.database} and ${options.database}_visibility, removed ${options.dir}.`);
    return;
  }
  const server = await startServer(binaries, options);
  console.log(
    server.reused
      ? `Already running at ${server.address}, with the options it was started with (stop it to change them).`
      : `Temporal ${server.address} on PostgreSQL (${options.database}, ${options.database}_visibility), namespace "default", ` +
          `dynamic config ${path.relative(process.cwd(), DYNAMIC_CONFIGS[options.dynamicConfig])}.`,
  );
  console.log(`Log: ${server.log}\nRun the service against it: TEMPORAL_ADDRESS=${server.address} npm start`);
}

main().catch((err: Error) => fail(err.message));
