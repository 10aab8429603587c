import assert from 'node:assert/strict';
import { DeliveryError, parseDelivery, signatureMatches, taskEvents } from '../../webhook/delivery';
import { signDelivery } from '../../sandbox/asana';

const event = (gid: string, action = 'added', resource_type = 'task', resource_subtype = 'default_task') => ({ action, resource: { gid, resource_type, resource_subtype } });

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
    for (const bad of ['not json', '[]', '{"events":{}}', '{"events":[{"action":"added"}]}', '{"events":[{"action":1,"resource":{"gid":"1","resource_type":"task"}}]}']) {
      assert.throws(() => parseDelivery(Buffer.from(bad)), DeliveryError, bad);
    }
  });

  it('keeps every task event, grouped by task, and skips the rest', () => {
    const events = parseDelivery(Buffer.from(JSON.stringify({ events: [event('1'), event('2', 'changed'), event('1', 'changed'), event('9', 'added', 'story'), event('3', 'added', 'task', 'section'), event('4', 'exploded')] })));
    const { byTask, skipped } = taskEvents(events);
    assert.deepEqual([...byTask], [['1', ['added', 'changed']], ['2', ['changed']]]);
    assert.equal(skipped, 3);
  });
});
