/** The table is checked, created and completed through the Meta API; the worker refuses to start on a wrong one. */
import assert from 'node:assert/strict';
import { AirtableEmulator } from '../emulators/airtable';
import { airtableBudget } from '../budgets';
import { SharedBudgets } from '../budgets/shared-pacer';
import { runEntry } from './support/processes';
import { TEST_REDIS_URL, uniqueKeyPrefix } from './support/redis';

const BASE = 'appSETUPTESTBASE1';

describe('airtable setup and the worker start-up check', function () {
  this.timeout(60_000);
  let airtable: AirtableEmulator;
  before(async () => {
    airtable = new AirtableEmulator({ requestsPerSecond: 50 });
    await airtable.listen();
    airtable.createBase(BASE);
  });
  after(() => airtable.close());

  const run = (entry: string, args: string[] = [], env: Record<string, string> = {}) =>
    runEntry(
      entry,
      args,
      {
        ASANA_ACCESS_TOKEN: 'unused',
        AIRTABLE_TOKEN: airtable.token,
        AIRTABLE_BASE_ID: BASE,
        AIRTABLE_ENDPOINT_URL: airtable.url,
        TEMPORAL_ADDRESS: '127.0.0.1:1', // never reached: the check comes first
        LOG_LEVEL: 'silent',
        WORKER_METRICS_PORT: '0',
        ...env,
      },
      30_000,
    );

  it('the worker stops with a message when the table is missing', async () => {
    const result = await run('worker/main.ts');
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /table "Asana Tasks" in base appSETUPTESTBASE1 does not exist: create it with `npm run cli -- airtable setup`/,
    );
  });

  it('creates the table with the five fields, then finds it ready', async () => {
    const created = await run('cli/main.ts', ['airtable', 'setup']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created the table "Asana Tasks"/);
    assert.deepEqual(
      airtable.tableSchema(BASE, 'Asana Tasks').map((f) => [f.name, f.type]),
      [
        ['Task ID', 'singleLineText'],
        ['Name', 'singleLineText'],
        ['Assignee', 'singleLineText'],
        ['Due Date', 'date'],
        ['Description', 'multilineText'],
      ],
    );
    const again = await run('cli/main.ts', ['airtable', 'setup']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /is ready/);
  });

  it('adds the fields a table lacks and reports the ones of the wrong type, in the CLI and at worker start', async () => {
    airtable.createTable(BASE, 'Hand made', [
      { name: 'Task ID', type: 'singleLineText' },
      { name: 'Name', type: 'singleLineText' },
      { name: 'Due Date', type: 'singleLineText' },
      { name: 'Description', type: 'multilineText' },
    ]);
    const env = { AIRTABLE_TABLE_NAME: 'Hand made' };
    const before = await run('worker/main.ts', [], env);
    assert.equal(before.code, 2);
    assert.match(before.stderr, /field "Assignee" is missing \(want singleLineText\)/);
    assert.match(before.stderr, /field "Due Date" is singleLineText; want date/);
    const cli = await run('cli/main.ts', ['airtable', 'setup'], env);
    assert.equal(cli.code, 1);
    assert.match(cli.stdout, /Added to the table "Hand made" in base appSETUPTESTBASE1: Assignee\./);
    assert.match(cli.stderr, /field "Due Date" is singleLineText; want date/);
    assert.deepEqual(
      airtable.tableSchema(BASE, 'Hand made').map((f) => [f.name, f.type]),
      [
        ['Task ID', 'singleLineText'],
        ['Name', 'singleLineText'],
        ['Due Date', 'singleLineText'],
        ['Description', 'multilineText'],
        ['Assignee', 'singleLineText'],
      ],
      'the field of the wrong type is left as it is',
    );
    const after = await run('worker/main.ts', [], env);
    assert.equal(after.code, 2);
    assert.doesNotMatch(after.stderr, /Assignee/);
    assert.match(after.stderr, /field "Due Date" is singleLineText; want date/);
  });

  it('with REDIS_URL, waits out the lock-out a worker met on the shared budget before asking Airtable', async () => {
    const keyPrefix = uniqueKeyPrefix('cli');
    const budgets = await SharedBudgets.connect(TEST_REDIS_URL, { keyPrefix });
    try {
      const pausedAt = Date.now();
      budgets.pacer(airtableBudget({ baseId: BASE, requestsPerSecond: 5 })).pause(3_000); // as a worker does on a 429
      const requestsBefore = airtable.requests.length;
      const result = await run('cli/main.ts', ['airtable', 'setup'], { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: keyPrefix });
      assert.equal(result.code, 0, result.stderr);
      const first = airtable.requests[requestsBefore];
      assert.ok(first.at >= pausedAt + 3_000, `first request ${first.at - pausedAt} ms after the pause began`);
    } finally {
      await budgets.close();
    }
  });

  it('refuses a bad token at worker start', async () => {
    const result = await run('worker/main.ts', [], { AIRTABLE_TOKEN: 'pat-not-valid-4c1d3e' });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Airtable refused AIRTABLE_TOKEN \(401\)/);
    assert.ok(!result.stderr.includes('pat-not-valid-4c1d3e'), 'the token never appears in output');
  });
});
