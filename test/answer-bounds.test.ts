/**
 * Answers are bounded, whatever answers at ASANA_BASE_URL or AIRTABLE_ENDPOINT_URL: a body too
 * large, a body that trickles, pages without end or a page named twice end as a clear ApiError,
 * never as a process out of memory or a request waited for without end.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AnswerOutOfBounds, ApiError } from '../lib/api-error';
import { FailureType, toActivityFailure } from '../activities/failures';
import { RowWriter } from '../airtable/row-writer';
import { MAX_LISTING_PAGES as AIRTABLE_MAX_PAGES } from '../airtable/http';
import { AsanaApi, MAX_LISTING_PAGES, REQUEST_TIMEOUT_MS as ASANA_TIMEOUT_MS } from '../asana/api';
import { MAX_ANSWER_BYTES } from '../lib/http-bounds';
import { MAX_WAIT_MS } from '../lib/waits';
import { Budgets } from '../budgets';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A loopback server answering as each test says; counts the requests and the bytes it wrote. */
async function hostileServer() {
  const state = { handler: ((_req, res) => res.end()) as Handler, requests: 0, written: 0 };
  const server = http.createServer((req, res) => {
    state.requests += 1;
    state.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

/** airtable.js's timeout as the row writer sets it. */
const AIRTABLE_TIMEOUT_MS = 30_000;

/** Just over the bound: enough to be refused, little enough for the code before the bound to read whole. */
const OVERSIZE_BYTES = MAX_ANSWER_BYTES + 8 * 2 ** 20;

/** Streams a JSON body of `bytes` without holding it: a list of small objects, as a hostile answer would be. */
function streamHuge(res: ServerResponse, bytes: number, written: { written: number }): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.from('{"gid":"1"},'.repeat(8_000));
  res.write('{"data":[');
  const more = () => {
    while (written.written < bytes) {
      written.written += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end('{}]}');
  };
  res.on('error', () => undefined);
  more();
}

describe('answer bounds', function () {
  this.timeout(30_000);
  let server: Awaited<ReturnType<typeof hostileServer>>;
  let asana: AsanaApi;
  beforeEach(async () => {
    server = await hostileServer();
    asana = new AsanaApi({ baseUrl: server.url, accessToken: 'token', requestsPerMinute: 600_000 }, new Budgets());
  });
  afterEach(() => server.close());

  it('ends an Asana answer larger than the bound as AnswerOutOfBounds, not retried, before reading it all', async () => {
    server.state.handler = (_req, res) => streamHuge(res, OVERSIZE_BYTES, server.state);
    const err = await asana.call('GET', '/webhooks/1').catch((e: unknown) => e);
    assert.ok(err instanceof AnswerOutOfBounds, String(err));
    assert.match(err.message, /GET \/webhooks\/1 answered more than/);
    assert.equal(toActivityFailure(err).type, FailureType.outOfBounds);
    assert.equal(toActivityFailure(err).nonRetryable, true);
    assert.ok(server.state.written < OVERSIZE_BYTES, `the server wrote ${server.state.written} bytes`);
  });

  it('bounds a Retry-After of years to MAX_WAIT_MS', async () => {
    server.state.handler = (_req, res) => json(res, { errors: [{ message: 'slow down' }] }, 429, { 'retry-after': '99999999' });
    const err = await asana.call('POST', '/tasks').catch((e: unknown) => e);
    assert.ok(err instanceof ApiError && err.status === 429, String(err));
    assert.equal(err.retryAfterMs, MAX_WAIT_MS);
  });

  it(`ends a listing whose pages never end after ${MAX_LISTING_PAGES} pages`, async () => {
    server.state.handler = (_req, res) => json(res, { data: [{ gid: '1' }], next_page: { offset: `o${server.state.requests}` } });
    const err = await asana.all('/webhooks', { workspace: '1' }).catch((e: unknown) => e);
    assert.ok(err instanceof AnswerOutOfBounds, String(err));
    assert.equal(server.state.requests, MAX_LISTING_PAGES);
  });

  it('ends a listing at a page named before, and a page naming itself as the next', async () => {
    server.state.handler = (req, res) => {
      const offset = new URL(req.url!, server.url).searchParams.get('offset');
      json(res, { data: [], next_page: { offset: offset === 'b' ? 'a' : offset === 'a' ? 'b' : 'a' } });
    };
    await assert.rejects(asana.all('/webhooks', {}), AnswerOutOfBounds);
    assert.equal(server.state.requests, 3);
    server.state.handler = (_req, res) => json(res, { data: [], next_page: { offset: 'same' } });
    await assert.rejects(asana.page('/tasks', { offset: 'same' }), AnswerOutOfBounds);
  });

  it('ends a listing whose pages together pass the bound', async () => {
    const page = JSON.stringify({ data: [{ gid: '1', notes: 'x'.repeat(2 ** 20) }], next_page: { offset: 'o' } });
    server.state.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(page.replace('"o"', `"o${server.state.requests}"`));
    };
    await assert.rejects(asana.all('/webhooks', {}), AnswerOutOfBounds);
    assert.ok(server.state.requests <= MAX_ANSWER_BYTES / 2 ** 20 + 1, `${server.state.requests} pages`);
  });
});

describe('airtable.js on bounded requests', function () {
  this.timeout(30_000);
  let server: Awaited<ReturnType<typeof hostileServer>>;
  let writer: RowWriter;
  beforeEach(async () => {
    server = await hostileServer();
    const config = { token: 'key', baseId: 'appHOSTILEBASE001', tableName: 'Asana Tasks', endpointUrl: server.url, lockoutMs: 1_000 };
    writer = new RowWriter({ ...config, requestsPerSecond: 1_000 }, new Budgets());
  });
  afterEach(() => server.close());

  it('ends an answer larger than the bound as AnswerOutOfBounds', async () => {
    server.state.handler = (_req, res) => streamHuge(res, OVERSIZE_BYTES, server.state);
    await assert.rejects(writer.allRows(), AnswerOutOfBounds);
    assert.ok(server.state.written < OVERSIZE_BYTES, `the server wrote ${server.state.written} bytes`);
  });

  it(`ends a listing at a page named before, and after ${AIRTABLE_MAX_PAGES} pages`, async () => {
    server.state.handler = (_req, res) => json(res, { records: [], offset: 'again' });
    await assert.rejects(writer.allRows(), AnswerOutOfBounds);
    assert.equal(server.state.requests, 2);
    server.state.requests = 0;
    server.state.handler = (_req, res) => json(res, { records: [], offset: `o${server.state.requests}` });
    await assert.rejects(writer.allRows(), AnswerOutOfBounds);
    assert.equal(server.state.requests, AIRTABLE_MAX_PAGES);
  });

  it('reads answers as airtable.js does, and fails, rather than waiting without end, on one that is not a JSON object', async () => {
    let seen = '';
    server.state.handler = (req, res) => {
      seen = `${req.method} ${req.url} ${req.headers.authorization}`;
      json(res, { records: [{ id: 'rec1', createdTime: '2026-01-01T00:00:00.000Z', fields: { Name: 'A' } }] });
    };
    assert.deepEqual(
      (await writer.allRows()).map((r) => r.fields),
      [{ Name: 'A' }],
    );
    assert.match(seen, /^GET \/v0\/appHOSTILEBASE001\/Asana%20Tasks\?pageSize=100&fields%5B%5D=Task\+ID&.* Bearer key$/);
    server.state.handler = (_req, res) => json(res, { error: { type: 'INVALID_VALUE_FOR_COLUMN', message: 'bad' } }, 422);
    const refused = await writer.upsert([{ 'Task ID': '1', Name: 'A' }]).catch((e: unknown) => e);
    assert.ok(refused instanceof ApiError && refused.status === 422, String(refused));
    server.state.handler = (_req, res) => res.end('<html>not json</html>');
    await assert.rejects(writer.allRows(), ApiError);
  });
});

describe('bodies that trickle in', function () {
  this.timeout(60_000);

  it("are given up within each client's timeout of the whole exchange, not waited for without end", async () => {
    const server = await hostileServer();
    server.state.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(drip));
    };
    try {
      const asana = new AsanaApi({ baseUrl: server.url, accessToken: 'token', requestsPerMinute: 600 }, new Budgets());
      const config = { token: 'key', baseId: 'appHOSTILEBASE001', tableName: 'Asana Tasks', endpointUrl: server.url, lockoutMs: 1_000 };
      const writer = new RowWriter({ ...config, requestsPerSecond: 5 }, new Budgets());
      const start = Date.now();
      const timed = (work: Promise<unknown>) => work.then(String, (err: unknown) => ({ err, afterMs: Date.now() - start }));
      const [fromAsana, fromAirtable] = await Promise.all([timed(asana.call('GET', '/tasks/1')), timed(writer.allRows())]);
      for (const [outcome, timeoutMs] of [
        [fromAsana, ASANA_TIMEOUT_MS],
        [fromAirtable, AIRTABLE_TIMEOUT_MS],
      ] as const) {
        assert.ok(typeof outcome === 'object' && outcome.err instanceof ApiError && outcome.err.retryable, String(outcome));
        assert.ok(outcome.afterMs < timeoutMs + 2_000, `gave up after ${outcome.afterMs} ms`);
      }
      assert.match(String((fromAsana as { err: Error }).err.message), /no whole answer within/);
    } finally {
      await server.close();
    }
  });
});
