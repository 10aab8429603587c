/** docker-compose.yml agrees with the config module and exposes only the webhook (no Docker engine here to run it). */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { composeCpuShares, niceForShares } from '../bench/cpu-weight';
import { loadConfig, type Env } from '../config';
import { DEFAULT_OPTIONS } from '../temporal/postgres-temporal';

interface Service {
  image?: string;
  container_name?: string;
  build?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string> | string[];
  env_file?: { path: string; required: boolean }[];
  volumes?: string[];
  cpu_shares?: number;
  depends_on?: Record<string, { condition: string }>;
  entrypoint?: string[];
  healthcheck?: { test?: string[] };
}

const root = path.resolve(__dirname, '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
/** The Compose Specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json at 170098ba, Apache License 2.0); it declares draft-07. */
const composeSchema = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'compose-spec.json'), 'utf8')) as object;
const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Every variable the config module reads: load it through an env that records each look-up. */
function variablesConfigReads(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Env, { get: (_target, name) => (read.add(String(name)), undefined) });
  loadConfig([], env);
  return read;
}

const environment = (service: Service): Record<string, string> =>
  Array.isArray(service.environment)
    ? Object.fromEntries(service.environment.map((e) => e.split('=') as [string, string]))
    : (service.environment ?? {});

describe('docker-compose.yml', () => {
  it('is valid under the Compose Specification, whose schema refuses an unknown key', () => {
    const validate = new Ajv({ strict: false, validateSchema: false, allErrors: true }).compile(composeSchema);
    assert.equal(validate(compose), true, JSON.stringify(validate.errors));
    const withTypo = { ...compose, services: { ...compose.services, worker: { ...compose.services.worker, restart_policy: 'always' } } };
    assert.equal(validate(withTypo), false, 'a key the specification does not have');
  });

  it("follows Temporal's topology: schema and namespace jobs in admin-tools, then temporalio/server", () => {
    assert.deepEqual(Object.keys(compose.services).sort(), [
      'postgresql',
      'redis',
      'temporal',
      'temporal-admin-tools',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'webhook',
      'worker',
    ]);
    assert.match(compose.services.temporal.image!, /^temporalio\/server:1\.29\./);
    assert.deepEqual(compose.services.temporal.depends_on, { 'temporal-schema': { condition: 'service_completed_successfully' } });
    for (const job of ['temporal-schema', 'temporal-namespace']) {
      const service = compose.services[job];
      assert.match(service.image!, /^temporalio\/admin-tools:1\.29\./);
      const [mount] = service.volumes![0].split(':');
      assert.ok(existsSync(path.join(root, mount, path.basename(service.command![0]))), `${job}: the script it runs exists`);
    }
    assert.deepEqual(compose.services.webhook.depends_on, { 'temporal-namespace': { condition: 'service_completed_successfully' } });
    assert.deepEqual(compose.services.worker.depends_on, {
      'temporal-namespace': { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
    });
    assert.equal(environment(compose.services.temporal).DB, 'postgres12_pgx');
    assert.equal(DEFAULT_OPTIONS.plugin, 'postgres12_pgx', 'npm run temporal:postgres and the bench use the plugin compose does');
    assert.match(
      readFileSync(path.join(root, 'scripts/compose/setup-postgres.sh'), 'utf8'),
      /--plugin postgres12_pgx /,
      'schemas set up by the same plugin',
    );
    assert.equal(environment(compose.services.temporal).POSTGRES_SEEDS, 'postgresql');
    assert.ok(compose.services['temporal-ui'].ports?.includes('127.0.0.1:8080:8080'), 'the Web UI on 8080, loopback only');
    assert.ok(compose.services.temporal.ports?.includes('127.0.0.1:7233:7233'));
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image) assert.match(service.image, /:\d[\w.-]*$/, `${name}: pin the image version`);
    }
    const mounted = compose.services.temporal.volumes?.[0].split(':')[0];
    assert.ok(
      existsSync(
        path.join(root, mounted!, environment(compose.services.temporal).DYNAMIC_CONFIG_FILE_PATH.replace('config/dynamicconfig/', '')),
      ),
      'the dynamic config file it names exists',
    );
  });

  it('builds worker and webhook from the Dockerfile and runs npm scripts that exist', () => {
    assert.match(
      readFileSync(path.join(root, 'Dockerfile'), 'utf8'),
      /^RUN mkdir -p -m 700 \/data && chown node:node \/data$/m,
      'DATA_DIR private to the node user',
    );
    for (const name of ['worker', 'webhook']) {
      const service = compose.services[name];
      assert.equal(service.build, '.');
      assert.deepEqual(service.command?.slice(0, 2), ['npm', 'run']);
      assert.ok(scripts[service.command![2]], `npm script ${service.command![2]}`);
      assert.deepEqual(service.env_file, [{ path: '.env', required: false }]);
    }
  });

  it('gives them only variables the config module reads, pointing at the compose services', () => {
    const known = variablesConfigReads();
    for (const name of ['worker', 'webhook', 'temporal-ui', 'temporal-admin-tools']) {
      const env = environment(compose.services[name]);
      if (name === 'worker' || name === 'webhook') {
        for (const variable of Object.keys(env)) assert.ok(known.has(variable), `${name}: ${variable} is not read by config/`);
      }
      assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233', `${name} reaches the temporal service`);
    }
    const webhook = compose.services.webhook;
    const port = environment(webhook).PORT;
    assert.ok(webhook.ports?.includes(`${port}:${port}`), 'the webhook publishes the PORT it listens on');
    const dataDir = environment(webhook).DATA_DIR;
    assert.ok(
      webhook.volumes?.some((v) => v.endsWith(`:${dataDir}`) && v.split(':')[0] in compose.volumes),
      'webhook secrets live on a named volume',
    );
  });

  it('scales the worker (`--scale worker=3`): no fixed name or port, and one budget for all in the redis service', () => {
    const worker = compose.services.worker;
    assert.equal(worker.container_name, undefined, 'a container name allows one container');
    assert.equal(worker.ports, undefined, 'a published port allows one container');
    const redisUrl = new URL(environment(worker).REDIS_URL);
    const redis = compose.services[redisUrl.hostname];
    assert.match(redis.image!, /^redis:7/);
    assert.equal(redis.ports, undefined, 'Redis has no authentication here: reachable on the compose network only');
    assert.equal(loadConfig([], environment(worker)).redis?.url, environment(worker).REDIS_URL);
    assert.equal(environment(compose.services.webhook).REDIS_URL, undefined, 'the webhook calls neither API');
  });

  it('publishes only the webhook beyond the host: Temporal and the Web UI have no authentication', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        if (name === 'webhook') continue;
        assert.match(String(port), /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${port} on every interface`);
      }
    }
    assert.deepEqual(compose.services.webhook.ports, ['3000:3000']);
  });

  it('lets a Prometheus container on the compose network scrape the worker and the webhook, and publishes neither metrics port', () => {
    for (const name of ['worker', 'webhook']) {
      const config = loadConfig([], environment(compose.services[name]));
      assert.equal(config.metricsHost, '0.0.0.0', `${name}: metrics reachable from other containers`);
      const published = Object.values(compose.services).flatMap((service) => (service.ports ?? []).map((p) => String(p).split(':').at(-1)));
      for (const port of [config.webhookMetricsPort, config.workerMetricsPort])
        assert.ok(!published.includes(String(port)), `${name}: metrics port ${port} is published`);
    }
  });

  it("checks the webhook's health by its readiness on the metrics port the config module gives it", () => {
    const test = compose.services.webhook.healthcheck?.test ?? [];
    assert.match(
      test.join(' '),
      new RegExp(`http://127\\.0\\.0\\.1:${loadConfig([], environment(compose.services.webhook)).webhookMetricsPort}/readyz`),
    );
  });

  it('gives the webhook the highest CPU weight, which the bench gives its process too', () => {
    const shares = (name: string) => compose.services[name].cpu_shares ?? 1024;
    for (const name of Object.keys(compose.services).filter((n) => n !== 'webhook'))
      assert.ok(shares('webhook') > shares(name), `webhook outweighs ${name}`);
    assert.equal(composeCpuShares('webhook'), shares('webhook'));
    assert.equal(composeCpuShares('worker'), 1024);
    assert.deepEqual([1024, 2048, 4096, 10240].map(niceForShares), [0, -3, -6, -10]);
  });

  it('documents every variable the config module reads in .env.example', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    for (const variable of variablesConfigReads()) {
      if (variable === 'PATH') continue; // read only to find a `temporal` binary
      assert.match(example, new RegExp(`^#? ?${variable}=`, 'm'), `${variable} in .env.example`);
    }
  });
});
