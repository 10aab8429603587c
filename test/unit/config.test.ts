import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../config';

const valid = { ASANA_ACCESS_TOKEN: 't', AIRTABLE_TOKEN: 'p', AIRTABLE_BASE_ID: 'appABCDEFGHIJKLMN' };

function problems(env: Record<string, string>, needs?: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(needs, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

describe('config', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(undefined, valid);
    assert.equal(config.asana.baseUrl, 'https://app.asana.com/api/1.0');
    assert.equal(config.airtable.tableName, 'Asana Tasks');
    assert.equal(config.airtable.endpointUrl, 'https://api.airtable.com');
    assert.equal(config.airtable.lockoutMs, 30_000);
    assert.equal(config.temporal.address, undefined);
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.taskQueue, 'asana-airtable');
    assert.equal(config.port, 3000);
    assert.equal(config.webhookMetricsPort, 9465);
    assert.equal(config.workerMetricsPort, 9464);
    assert.equal(config.metricsHost, '127.0.0.1');
    assert.equal(config.deletedTasks, 'keep');
    assert.ok(config.dataDir.endsWith('/data'));
  });

  it('accepts AIRTABLE_API_KEY for AIRTABLE_TOKEN and splits project gids', () => {
    const config = loadConfig(undefined, { ...valid, AIRTABLE_TOKEN: '', AIRTABLE_API_KEY: 'legacy', ASANA_PROJECT_GIDS: ' 12, 34 ,' });
    assert.equal(config.airtable.token, 'legacy');
    assert.deepEqual(config.asana.projectGids, ['12', '34']);
  });

  it('lists every problem at once', () => {
    assert.deepEqual(
      problems({
        AIRTABLE_BASE_ID: 'base1',
        PORT: 'eighty',
        METRICS_HOST: 'metrics.example.com',
        ASANA_BASE_URL: 'ftp://x',
        TEMPORAL_ADDRESS: 'nohost',
        ASANA_PROJECT_GIDS: '12,abc',
        ASANA_DELETED_TASKS: 'purge',
      }),
      [
        'ASANA_PROJECT_GIDS must be numeric Asana gids, got "abc"',
        'AIRTABLE_BASE_ID must look like "appXXXXXXXXXXXXXX" (app + 14 letters or digits), got "base1"',
        'PORT must be a port number, got "eighty"',
        'METRICS_HOST must be an IP address (127.0.0.1, 0.0.0.0, ::1), got "metrics.example.com"',
        'TEMPORAL_ADDRESS must be host:port, got "nohost"',
        'ASANA_ACCESS_TOKEN is required',
        'ASANA_BASE_URL must be an http(s) URL, got "ftp://x"',
        'AIRTABLE_TOKEN is required',
        'ASANA_DELETED_TASKS must be one of keep, delete, got "purge"',
      ],
    );
  });

  it('shares budgets only with a REDIS_URL, and never echoes a wrong one (it may hold a password)', () => {
    assert.equal(loadConfig(undefined, valid).redis, undefined);
    assert.deepEqual(loadConfig(undefined, { ...valid, REDIS_URL: 'redis://redis:6379' }).redis, {
      url: 'redis://redis:6379',
      keyPrefix: 'asana-airtable-sync:',
    });
    assert.equal(loadConfig(undefined, { ...valid, REDIS_URL: 'rediss://h:6380/2', REDIS_KEY_PREFIX: 'x:' }).redis?.keyPrefix, 'x:');
    assert.deepEqual(problems({ ...valid, REDIS_URL: 'http://:hunter2@h' }), ['REDIS_URL must be a redis:// or rediss:// URL']);
  });

  it('asks only for the credentials an entry point needs', () => {
    assert.deepEqual(problems({}, []), []);
    assert.deepEqual(problems({}, ['asana']), ['ASANA_ACCESS_TOKEN is required']);
  });

  it('never puts a secret value in its message', () => {
    try {
      loadConfig(undefined, { ...valid, AIRTABLE_BASE_ID: 'nope', ASANA_ACCESS_TOKEN: 'super-secret-token' });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(!(err as Error).message.includes('super-secret-token'));
    }
  });
});
