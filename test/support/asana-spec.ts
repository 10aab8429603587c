/**
 * Asana's published OpenAPI spec (test/fixtures/asana-openapi) as a validator: what a request to
 * Asana, an answer from it, or a webhook delivery breaks in it. openapi-backend does the work.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import addFormats from 'ajv-formats';
import OpenAPIBackend, { type Operation } from 'openapi-backend';
import { parse } from 'yaml';
import type { Exchange } from '../../emulators/http';

const SPEC_FILE = path.join(__dirname, '..', 'fixtures', 'asana-openapi', 'asana_oas.yaml');
/** The path prefix of Asana's `servers` URL, which the spec's paths leave out. */
const API_ROOT = '/api/1.0';

export class AsanaSpec {
  private constructor(private readonly api: OpenAPIBackend) {}

  static async load(): Promise<AsanaSpec> {
    const api = new OpenAPIBackend({
      definition: nullableWithoutType(parse(readFileSync(SPEC_FILE, 'utf8'))) as never,
      quick: true, // compile each operation's validator when first used: the spec has hundreds
      strict: false,
      customizeAjv: (ajv) => addFormats(ajv, ['date', 'date-time', 'uri', 'email']),
    });
    await api.init();
    return new AsanaSpec(api);
  }

  /** The operation a request to Asana is, if the spec has one. */
  operationOf(exchange: Pick<Exchange, 'method' | 'path'>): Operation | undefined {
    return this.api.matchOperation({ method: exchange.method, path: exchange.path.slice(API_ROOT.length), headers: {} });
  }

  /** What is wrong with one request and its answer, as lines naming the request. */
  problems(exchange: Exchange): string[] {
    const name = `${exchange.method} ${exchange.path}?${exchange.query}`;
    const operation = this.operationOf(exchange);
    if (!exchange.path.startsWith(API_ROOT) || operation === undefined) return [`${name}: no such operation in Asana's spec`];
    const body = exchange.body.length > 0 ? (JSON.parse(exchange.body.toString('utf8')) as unknown) : undefined;
    const request = this.api.validateRequest(
      {
        method: exchange.method,
        path: exchange.path.slice(API_ROOT.length),
        query: exchange.query,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body,
      },
      operation,
    );
    const answer = this.api.validateResponse(exchange.answer, operation, exchange.status);
    const lines = [
      ...describe(`${name} (${operation.operationId}) request`, request.errors),
      ...describe(`${name} → ${exchange.status}`, answer.errors),
    ];
    // A list's items come with the fields opt_fields asked for: check each as the full record.
    if (operation.operationId === 'getTasks' && exchange.status === 200) {
      for (const task of (exchange.answer as { data: unknown[] }).data) lines.push(...this.task(task, name));
    }
    return lines;
  }

  /** What is wrong with a task record, against getTask's answer (TaskResponse). */
  task(task: unknown, context: string): string[] {
    const result = this.api.validateResponse({ data: task }, this.api.getOperation('getTask')!, 200);
    return describe(`${context}: task ${(task as { gid?: string }).gid}`, result.errors);
  }

  /** What is wrong with a delivery's events, against the events Asana's API returns (EventResponse). */
  events(events: unknown[]): string[] {
    const result = this.api.validateResponse({ data: events, sync: 'delivery', has_more: false }, this.api.getOperation('getEvents')!, 200);
    return describe('delivery', result.errors);
  }
}

/**
 * The spec marks composed schemas nullable (`allOf: [UserCompact, {nullable: true}]`, or
 * `nullable` beside `allOf`), which ajv cannot apply without a `type`; Asana means that null is
 * allowed (an unassigned task's assignee), so say it so.
 */
function nullableWithoutType(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableWithoutType);
  if (typeof node !== 'object' || node === null) return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const members = Array.isArray(rest.allOf) ? (rest.allOf as Record<string, unknown>[]) : [];
  const nullInMembers = members.some((m) => m?.nullable === true);
  if (nullInMembers) rest.allOf = members.map(({ nullable: _nullable, ...member }) => member);
  const schema = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, nullableWithoutType(value)]));
  if (nullInMembers || (nullable === true && !('type' in rest))) return { anyOf: [schema, { type: 'null' }] };
  return nullable === undefined || !('type' in rest) ? schema : { ...schema, nullable };
}

function describe(context: string, errors: { instancePath?: string; message?: string }[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${context}: ${e.instancePath ?? ''} ${e.message ?? ''}`.trim());
}
