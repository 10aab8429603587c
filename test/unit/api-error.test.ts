import assert from 'node:assert/strict';
import { ApiError, retryingServerErrors, SERVER_ERROR_RETRY_DELAYS_MS } from '../../lib/api-error';

/** A request that fails with these statuses in turn, then succeeds; records when it was sent. */
function flaky(statuses: (number | undefined)[]) {
  const sentAt: number[] = [];
  const send = async (): Promise<string> => {
    sentAt.push(Date.now());
    const status = statuses[sentAt.length - 1];
    if (sentAt.length <= statuses.length) throw new ApiError('Airtable', status, 'hiccup');
    return 'ok';
  };
  return { send, sentAt };
}

describe('retryingServerErrors', function () {
  this.timeout(10_000);

  it('re-sends after a 5xx, with a pause, until it succeeds', async () => {
    const request = flaky([503, 502]);
    assert.equal(await retryingServerErrors(request.send), 'ok');
    assert.equal(request.sentAt.length, 3);
    assert.ok(request.sentAt[1] - request.sentAt[0] >= SERVER_ERROR_RETRY_DELAYS_MS[0] - 5);
  });

  it('gives up after its last pause, with the last error', async () => {
    const request = flaky([500, 500, 503, 500]);
    await assert.rejects(retryingServerErrors(request.send), /answered 503/);
    assert.equal(request.sentAt.length, SERVER_ERROR_RETRY_DELAYS_MS.length + 1);
  });

  it('leaves 429s, client errors and silence to its caller at once', async () => {
    for (const status of [429, 422, 404, undefined]) {
      const request = flaky([status]);
      await assert.rejects(retryingServerErrors(request.send), ApiError);
      assert.equal(request.sentAt.length, 1, `status ${status}`);
    }
  });
});

describe('ApiError', () => {
  it("shows at most a thousand characters of an API's error text, however much its answer carried", () => {
    const err = new ApiError('Asana', 400, 'x'.repeat(5_000_000));
    assert.equal(err.message, `Asana answered 400: ${'x'.repeat(1_000)}…`);
    assert.equal(new ApiError('Airtable', 422, 'short').message, 'Airtable answered 422: short');
  });
});
