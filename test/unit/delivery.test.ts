import assert from 'node:assert/strict';
import { DeliveryError, MAX_JSON_DEPTH, parseDelivery, signatureMatches, taskEvents } from '../../webhook/delivery';
import { signDelivery } from '../../emulators/asana';
import { WebhookMetrics } from '../../webhook/metrics';

const event = (gid: string, action = 'added', resource_type = 'task', resource_subtype = 'default_task') => ({
  action,
  resource: { gid, resource_type, resource_subtype },
});

describe('webhook deliveries', () => {
  it('verifies the HMAC-SHA256 signature over the raw bytes', () => {
    const body = Buffer.from('{"events":[]}');
    const signature = signDelivery('s3cret', body);
    assert.equal(signatureMatches('s3cret', body, signature), true);
    assert.equal(signatureMatches('s3cret', body, signature.toUpperCase()), true);
    assert.equal(signatureMatches('other', body, signature), false);
    assert.equal(signatureMatches('s3cret', Buffer.from('{"events": []}'), signature), false, 're-serialised JSON must not verify');
    assert.equal(signatureMatches('s3cret', body, undefined), false);
    assert.equal(signatureMatches('s3cret', body, 'abc'), false);
  });

  it('refuses bodies that are not JSON or not the delivery shape', () => {
    for (const bad of [
      'not json',
      '[]',
      '{"events":{}}',
      '{"events":[{"action":"added"}]}',
      '{"events":[{"action":1,"resource":{"gid":"1","resource_type":"task"}}]}',
    ]) {
      assert.throws(() => parseDelivery(Buffer.from(bad)), DeliveryError, bad);
    }
  });

  it('refuses a body nested deeper than MAX_JSON_DEPTH before parsing it, a 1 MiB one at once', () => {
    const half = 2 ** 19;
    const started = performance.now();
    assert.throws(
      () => parseDelivery(Buffer.from('['.repeat(half) + ']'.repeat(half))),
      (err) => err instanceof DeliveryError && err.message === `body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`,
    );
    assert.ok(performance.now() - started < 50, `took ${performance.now() - started} ms`);
    const nested = (levels: number) => `{"events":[],"x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    assert.deepEqual(parseDelivery(Buffer.from(nested(MAX_JSON_DEPTH))), []);
    assert.throws(() => parseDelivery(Buffer.from(nested(MAX_JSON_DEPTH + 1))), DeliveryError);
  });

  it('counts no bracket inside a string, escaped quotes included', () => {
    const name = `\\" ${'[{'.repeat(100)}`;
    const body = `{"events":[{"action":"added","resource":{"gid":"1","resource_type":"task","name":"${name}"}}]}`;
    assert.equal(parseDelivery(Buffer.from(body)).length, 1);
  });

  it('keeps every task event, grouped by task, and skips the rest', () => {
    const events = parseDelivery(
      Buffer.from(
        JSON.stringify({
          events: [
            event('1'),
            event('2', 'changed'),
            event('1', 'changed'),
            event('9', 'added', 'story'),
            event('3', 'added', 'task', 'section'),
            event('4', 'exploded'),
          ],
        }),
      ),
    );
    const { byTask, skipped } = taskEvents(events);
    assert.deepEqual(
      [...byTask],
      [
        ['1', {}],
        ['2', {}],
      ],
    );
    assert.equal(skipped, 3);
  });

  it("keeps each task's newest change time by Asana's clock, and none when one of its events has no time", () => {
    const at = (gid: string, created_at?: unknown) => ({ ...event(gid, 'changed'), created_at });
    const { byTask } = taskEvents([
      at('1', '2026-11-29T10:00:02.000Z'),
      at('1', '2026-11-29T10:00:01.500Z'),
      at('2', '2026-11-29T10:00:00.000Z'),
      at('2'),
      at('3', 'yesterday'),
      at('4', '2026-11-29T11:00:00+01:00'),
    ] as ReturnType<typeof event>[]);
    assert.deepEqual(Object.fromEntries([...byTask].map(([gid, change]) => [gid, change.changedAt])), {
      '1': '2026-11-29T10:00:02.000Z',
      '2': undefined,
      '3': undefined,
      '4': '2026-11-29T10:00:00.000Z',
    });
  });
});

describe('webhook delivery metrics and grouping under hostile input', () => {
  it('labels events only with known resource types and actions, however many strangers invent', async () => {
    const metrics = new WebhookMetrics();
    for (let i = 0; i < 500; i += 1) metrics.event(`type-${i}`, `action-${i}`, false);
    metrics.event('task', 'added', true);
    const series = (await metrics.registry.getSingleMetric('webhook_events_total')!.get()).values.map((v) => v.labels);
    assert.deepEqual(series, [
      { resource_type: 'other', action: 'other', synced: 'false' },
      { resource_type: 'task', action: 'added', synced: 'true' },
    ]);
  });

  it('groups thousands of events of one task in linear time', () => {
    // Against a pass known to be linear over the same events, timed alike (fastest of three, so a
    // garbage collection or a busy core in one run does not count): quadratic grouping of 100,000
    // events would take thousands of times as long, linear about as long.
    const events = Array.from({ length: 100_000 }, (_, i) => event('7', i % 2 ? 'changed' : 'added'));
    const fastest = (pass: () => void) =>
      Math.min(
        ...[1, 2, 3].map(() => {
          const started = performance.now();
          pass();
          return performance.now() - started;
        }),
      );
    const serializing = Math.max(
      fastest(() => events.map((e) => JSON.stringify(e))),
      1,
    );
    const grouping = fastest(() => assert.deepEqual(taskEvents(events).byTask.get('7'), {}));
    assert.ok(grouping < 20 * serializing, `grouping ${grouping.toFixed(0)} ms, serializing ${serializing.toFixed(0)} ms`);
  });

  it('skips task gids that are not Asana gids (too long for a workflow id)', () => {
    const { byTask, skipped } = taskEvents([event('1'.repeat(33)), event('1'.repeat(32))]);
    assert.deepEqual([...byTask.keys()], ['1'.repeat(32)]);
    assert.equal(skipped, 1);
  });
});

describe('events that cannot change a row', () => {
  const withParent = (action: string, parentType: string) => ({ ...event('5', action), parent: { gid: '9', resource_type: parentType } });
  const changed = (field?: string) => ({
    ...event('5', 'changed'),
    ...(field === undefined ? {} : { change: { field, action: 'changed' } }),
  });

  it('skips a section move and a change of a field no column uses; syncs the rest, and whatever does not say', () => {
    const skippedOf = (e: object) => taskEvents([e as ReturnType<typeof event>]).skipped;
    assert.equal(skippedOf(withParent('added', 'section')), 1);
    assert.equal(skippedOf(withParent('removed', 'section')), 1);
    assert.equal(skippedOf(changed('completed')), 1);
    assert.equal(skippedOf(changed('tags')), 1);
    assert.equal(skippedOf(withParent('added', 'project')), 0);
    assert.equal(skippedOf(withParent('removed', 'project')), 0);
    for (const field of ['name', 'notes', 'assignee', 'due_on', 'due_at']) assert.equal(skippedOf(changed(field)), 0, field);
    assert.equal(skippedOf(changed()), 0, 'a change that does not say which field');
    assert.equal(skippedOf(event('5', 'deleted')), 0);
  });
});
