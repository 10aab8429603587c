/**
 * An emulator of the parts of Airtable's Web API this service uses, after Airtable's public docs:
 * list (filterByFormula, pageSize, maxRecords, offset, fields[]; GET and POST listRecords), get,
 * create, update (PATCH/PUT) with performUpsert, delete, at most 10 records a request, the Meta
 * API's tables list/create, field validation, empty values omitted on read, Airtable's error
 * envelopes, and the rate limit: 5 requests per second per base, then a 30 s lock-out.
 */
import { randomBytes } from 'node:crypto';
import { tableFields, type AirtableFieldType } from '../rows/columns';
import { compileFormula, formulaMatches, FormulaError, type Formula } from './formula';
import { EmulatorServer, pageToken, parseJson, Router, SlidingWindow, type Request, type Response } from './http';

export interface FieldSpec {
  name: string;
  type: AirtableFieldType;
  options?: Record<string, unknown>;
}

export interface AirtableRecord {
  id: string;
  createdTime: string;
  fields: Record<string, unknown>;
}

interface Table {
  id: string;
  name: string;
  fields: (FieldSpec & { id: string })[];
  records: Map<string, AirtableRecord>;
}

export interface AirtableEmulatorOptions {
  token?: string;
  /** Requests per second per base before a 429 (Airtable: 5). */
  requestsPerSecond?: number;
  /** How long a base answers 429 after its limit was hit (Airtable: 30 s). */
  lockoutMs?: number;
}

export const MAX_RECORDS_PER_REQUEST = 10;

function error(status: number, type: string, message: string): Response {
  return { status, body: { error: { type, message } } };
}

const id = (prefix: string): string =>
  prefix +
  randomBytes(10)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .padEnd(14, 'x')
    .slice(0, 14);

const isEmpty = (v: unknown): boolean => v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0);

interface RecordInput {
  id?: unknown;
  fields?: unknown;
}

export class AirtableEmulator extends EmulatorServer {
  readonly token: string;
  private readonly bases = new Map<string, Map<string, Table>>();
  rateLimited = 0;
  private readonly windows = new Map<string, SlidingWindow>();
  private readonly lockedUntil = new Map<string, number>();
  private readonly options: Required<AirtableEmulatorOptions>;
  protected readonly router = new Router();

  constructor(options: AirtableEmulatorOptions = {}) {
    super();
    this.options = { token: 'pat-airtable-sandbox', requestsPerSecond: 5, lockoutMs: 30_000, ...options };
    this.token = this.options.token;
    this.router
      .add('GET', '/v0/meta/bases/:base/tables', (r) => this.listTables(r))
      .add('POST', '/v0/meta/bases/:base/tables', (r) => this.createTableRoute(r))
      .add('POST', '/v0/meta/bases/:base/tables/:table/fields', (r) => this.createFieldRoute(r))
      .add('POST', '/v0/:base/:table/listRecords', (r) => this.list(r, this.listParams(r)))
      .add('GET', '/v0/:base/:table/:record', (r) => this.getRecord(r))
      .add('PATCH', '/v0/:base/:table/:record', (r) => this.updateOne(r, false))
      .add('PUT', '/v0/:base/:table/:record', (r) => this.updateOne(r, true))
      .add('DELETE', '/v0/:base/:table/:record', (r) => this.remove(r, [r.params.record]))
      .add('GET', '/v0/:base/:table', (r) => this.list(r, queryParams(r.query)))
      .add('POST', '/v0/:base/:table', (r) => this.create(r))
      .add('PATCH', '/v0/:base/:table', (r) => this.update(r, false))
      .add('PUT', '/v0/:base/:table', (r) => this.update(r, true))
      .add('DELETE', '/v0/:base/:table', (r) => this.remove(r, r.query.getAll('records[]')));
  }

  // ---- set-up and inspection ----

  createBase(baseId = id('app')): string {
    this.bases.set(baseId, new Map());
    return baseId;
  }

  createTable(baseId: string, name: string, fields: FieldSpec[] = tableFields()): string {
    const base = this.bases.get(baseId) ?? this.bases.set(baseId, new Map()).get(baseId)!;
    const table: Table = { id: id('tbl'), name, fields: fields.map((f) => ({ ...f, id: id('fld') })), records: new Map() };
    base.set(table.id, table);
    return table.id;
  }

  /** Copies of the records of a table, fields as stored (empty values are never stored). */
  records(baseId: string, tableName: string): AirtableRecord[] {
    return [...this.mustFind(baseId, tableName).records.values()].map((r) => this.read(r));
  }

  /**
   * Copies of the records whose `field` holds one of `values` (a set, or the keys of a map). A watcher that polls a large table
   * copies only these: copying every record of a 30,000-row table takes the emulator's process
   * 10 ms, which a bench polling every few milliseconds takes from the service it measures.
   */
  recordsWhere(baseId: string, tableName: string, field: string, values: Pick<ReadonlySet<string>, 'has'>): AirtableRecord[] {
    const matching: AirtableRecord[] = [];
    for (const r of this.mustFind(baseId, tableName).records.values()) if (values.has(String(r.fields[field]))) matching.push(this.read(r));
    return matching;
  }

  /** The table's fields as its schema has them, in order: what `airtable setup` created. */
  tableSchema(baseId: string, tableName: string): FieldSpec[] {
    return this.mustFind(baseId, tableName).fields.map(({ name, type, options }) => ({
      name,
      type,
      ...(options ? { options: structuredClone(options) } : {}),
    }));
  }

  /** Adds records directly, as a person typing into the table would (no request, no limit). */
  seed(baseId: string, tableName: string, fieldsList: Record<string, unknown>[]): void {
    const table = this.mustFind(baseId, tableName);
    for (const fields of fieldsList) this.insert(table, fields);
  }

  /** Adds one record as a person would, at a given createdTime (a duplicate older or newer than the service's row); a copy of it. */
  addRecordByHand(baseId: string, tableName: string, fields: Record<string, unknown>, createdTime = new Date()): AirtableRecord {
    return this.read(this.insert(this.mustFind(baseId, tableName), fields, createdTime));
  }

  /** Empties a table directly. */
  clear(baseId: string, tableName: string): void {
    this.table(baseId, tableName)?.records.clear();
  }

  /** Requests that changed records (POST, PATCH, PUT, DELETE on records). */
  writes(): number {
    return this.count((r) => r.method !== 'GET' && !r.path.includes('/meta/') && !r.path.endsWith('/listRecords') && r.status < 300);
  }

  // ---- HTTP ----

  protected admit(req: Request): Response | undefined {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return error(401, 'AUTHENTICATION_REQUIRED', 'Authentication required');
    }
    const baseId = req.path.startsWith('/v0/meta/bases/') ? req.path.split('/')[4] : req.path.split('/')[2];
    const now = Date.now();
    if ((this.lockedUntil.get(baseId) ?? 0) > now) return this.tooMany();
    const window = this.windows.get(baseId) ?? this.windows.set(baseId, new SlidingWindow(1000)).get(baseId)!;
    if (window.size(now) >= this.options.requestsPerSecond) {
      this.lockedUntil.set(baseId, now + this.options.lockoutMs);
      return this.tooMany();
    }
    window.hit(now);
    return undefined;
  }

  protected notFound(): Response {
    return { status: 404, body: { error: 'NOT_FOUND' } };
  }

  private tooMany(): Response {
    this.rateLimited += 1;
    return error(
      429,
      'RATE_LIMIT_REACHED',
      'You have made too many requests in a single second. Please wait 30 seconds before trying again.',
    );
  }

  private mustFind(baseId: string, tableName: string): Table {
    const table = this.table(baseId, tableName);
    if (!table) throw new Error(`no table ${tableName} in ${baseId}`);
    return table;
  }

  private table(baseId: string, nameOrId: string): Table | undefined {
    const base = this.bases.get(baseId);
    if (!base) return undefined;
    return base.get(nameOrId) ?? [...base.values()].find((t) => t.name === nameOrId);
  }

  /** Resolves the request's table, or the answer Airtable gives when it cannot. */
  private resolve(req: Request): Table | Response {
    const table = this.table(req.params.base, req.params.table);
    if (table) return table;
    if (!this.bases.has(req.params.base)) return { status: 404, body: { error: 'NOT_FOUND' } };
    return error(
      403,
      'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND',
      'Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.',
    );
  }

  private listTables(req: Request): Response {
    const base = this.bases.get(req.params.base);
    if (!base) return error(403, 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND', 'Invalid permissions, or the requested model was not found.');
    const tables = [...base.values()].map((t) => ({
      id: t.id,
      name: t.name,
      primaryFieldId: t.fields[0]?.id,
      fields: t.fields.map(({ id: fid, name, type, options }) => ({ id: fid, name, type, ...(options ? { options } : {}) })),
      views: [{ id: 'viwGrid', name: 'Grid view', type: 'grid' }],
    }));
    return { status: 200, body: { tables } };
  }

  private createTableRoute(req: Request): Response {
    if (!this.bases.has(req.params.base))
      return error(403, 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND', 'Invalid permissions, or the requested model was not found.');
    const body = parseJson(req.body) as { name?: unknown; fields?: FieldSpec[] } | undefined;
    if (typeof body?.name !== 'string' || !Array.isArray(body.fields) || body.fields.length === 0) {
      return error(422, 'INVALID_REQUEST_UNKNOWN', 'Invalid request: name and a non-empty fields array are required');
    }
    if (this.table(req.params.base, body.name)) return error(422, 'DUPLICATE_TABLE_NAME', `Table name "${body.name}" already exists`);
    const names = new Set<string>();
    for (const field of body.fields) {
      const refused = fieldRefusal(field, names);
      if (refused) return refused;
      names.add(field.name.toLowerCase());
    }
    const tableId = this.createTable(req.params.base, body.name, body.fields);
    const { tables } = this.listTables(req).body as { tables: { id: string }[] };
    return { status: 200, body: tables.find((t) => t.id === tableId) };
  }

  private createFieldRoute(req: Request): Response {
    const table = this.table(req.params.base, req.params.table);
    if (!table) return error(403, 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND', 'Invalid permissions, or the requested model was not found.');
    const field = parseJson(req.body) as FieldSpec | undefined;
    if (typeof field !== 'object' || field === null)
      return error(422, 'INVALID_REQUEST_UNKNOWN', 'Invalid request: a field object is required');
    const refused = fieldRefusal(field, new Set(table.fields.map((f) => f.name.toLowerCase())));
    if (refused) return refused;
    const created = { name: field.name, type: field.type, ...(field.options ? { options: field.options } : {}), id: id('fld') };
    table.fields.push(created);
    return { status: 200, body: created };
  }

  private listParams(req: Request): ListParams {
    const body = (parseJson(req.body) ?? {}) as Record<string, unknown>;
    return {
      filterByFormula: typeof body.filterByFormula === 'string' ? body.filterByFormula : undefined,
      pageSize: body.pageSize === undefined ? undefined : String(body.pageSize),
      maxRecords: body.maxRecords === undefined ? undefined : String(body.maxRecords),
      offset: typeof body.offset === 'string' ? body.offset : undefined,
      fields: Array.isArray(body.fields) ? (body.fields as string[]) : [],
    };
  }

  private list(req: Request, params: ListParams): Response {
    const table = this.resolve(req);
    if ('status' in table) return table;
    const pageSize = params.pageSize === undefined ? 100 : Number(params.pageSize);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100)
      return error(422, 'INVALID_PAGE_SIZE', 'pageSize must be between 1 and 100');
    const maxRecords = params.maxRecords === undefined ? Infinity : Number(params.maxRecords);
    let formula: Formula | undefined;
    if (params.filterByFormula) {
      try {
        formula = compileFormula(params.filterByFormula);
      } catch (err) {
        const message = err instanceof FormulaError ? err.message : String(err);
        return error(422, 'INVALID_FILTER_BY_FORMULA', `The formula for filtering records is invalid: ${message}`);
      }
    }
    const unknown = params.fields.find((f) => !table.fields.some((tf) => tf.name === f));
    if (unknown) return error(422, 'UNKNOWN_FIELD_NAME', `Unknown field name: "${unknown}"`);
    const start = params.offset === undefined ? 0 : pageToken.decode(params.offset.split('/')[0].replace(/^itr/, ''));
    if (start === undefined) return error(422, 'LIST_RECORDS_ITERATOR_NOT_AVAILABLE', 'The offset is invalid or has expired');
    const matching = [...table.records.values()].filter((r) => !formula || formulaMatches(formula, r.fields, r.id)).slice(0, maxRecords);
    const records = matching.slice(start, start + pageSize).map((r) => this.read(r, params.fields));
    const next =
      start + pageSize < matching.length ? `itr${pageToken.encode(start + pageSize)}/${matching[start + pageSize].id}` : undefined;
    return { status: 200, body: { records, ...(next ? { offset: next } : {}) } };
  }

  private getRecord(req: Request): Response {
    const table = this.resolve(req);
    if ('status' in table) return table;
    const record = table.records.get(req.params.record);
    if (!record)
      return { status: 404, body: { error: { type: 'MODEL_ID_NOT_FOUND', message: 'Could not find what you are looking for' } } };
    return { status: 200, body: this.read(record) };
  }

  private create(req: Request): Response {
    const table = this.resolve(req);
    if ('status' in table) return table;
    const body = parseJson(req.body) as { records?: RecordInput[]; fields?: unknown; typecast?: unknown } | undefined;
    if (body === undefined)
      return error(422, 'INVALID_REQUEST_UNKNOWN', 'Invalid request: parameter validation failed. Check your request data.');
    const single = body.records === undefined;
    const inputs = single ? [{ fields: body.fields }] : body.records!;
    const invalid = this.validate(table, inputs, false, body.typecast === true);
    if (invalid) return invalid;
    const created = inputs.map((input) => this.insert(table, input.fields as Record<string, unknown>));
    return { status: 200, body: single ? this.read(created[0]) : { records: created.map((r) => this.read(r)) } };
  }

  private updateOne(req: Request, replace: boolean): Response {
    const body = parseJson(req.body) as { fields?: unknown } | undefined;
    const answer = this.update(
      { ...req, body: Buffer.from(JSON.stringify({ records: [{ id: req.params.record, fields: body?.fields }] })) },
      replace,
    );
    if (answer.status !== 200) return answer;
    return { status: 200, body: (answer.body as { records: unknown[] }).records[0] };
  }

  private update(req: Request, replace: boolean): Response {
    const table = this.resolve(req);
    if ('status' in table) return table;
    const body = parseJson(req.body) as
      { records?: RecordInput[]; performUpsert?: { fieldsToMergeOn?: unknown }; typecast?: unknown } | undefined;
    if (!body || !Array.isArray(body.records))
      return error(422, 'INVALID_REQUEST_UNKNOWN', 'Invalid request: parameter validation failed. Check your request data.');
    const mergeOn = body.performUpsert?.fieldsToMergeOn;
    if (body.performUpsert !== undefined) {
      if (
        !Array.isArray(mergeOn) ||
        mergeOn.length < 1 ||
        mergeOn.length > 3 ||
        mergeOn.some((f) => !table.fields.some((tf) => tf.name === f))
      ) {
        return error(422, 'INVALID_MERGE_FIELDS', 'fieldsToMergeOn must name 1 to 3 existing fields');
      }
    }
    const upsert = mergeOn as string[] | undefined;
    const invalid = this.validate(table, body.records, !upsert, body.typecast === true);
    if (invalid) return invalid;

    // Resolve every record before writing any, so a bad request changes nothing.
    const plan: { input: RecordInput; target?: AirtableRecord }[] = [];
    const key = (f: Record<string, unknown>): string =>
      JSON.stringify((upsert ?? []).map((name) => (isEmpty(f[name]) ? '' : String(f[name]))));
    // One pass over the table per request, not one per record, keeping only the records this
    // request's keys match: a bench's table holds 30,000 rows, and the emulator shares the host's
    // cores with the service it measures.
    const inputKeys = upsert ? body.records.map((input) => key(input.fields as Record<string, unknown>)) : [];
    const sought = new Set(inputKeys);
    const byKey = new Map<string, AirtableRecord[]>();
    const requestKeys = new Set<string>();
    if (upsert) {
      for (const r of table.records.values()) {
        const k = key(r.fields);
        if (sought.has(k)) byKey.set(k, [...(byKey.get(k) ?? []), r]);
      }
    }
    for (const [i, input] of body.records.entries()) {
      if (!upsert) {
        const target = table.records.get(input.id as string);
        if (!target)
          return { status: 404, body: { error: { type: 'MODEL_ID_NOT_FOUND', message: `Record ${String(input.id)} not found` } } };
        plan.push({ input, target });
        continue;
      }
      const inputKey = inputKeys[i];
      const matches = byKey.get(inputKey) ?? [];
      if (matches.length > 1) {
        return error(
          422,
          'INVALID_VALUE_FOR_COLUMN',
          `Cannot update more than one record with the same merge field values; ${matches.length} records match ${inputKey}`,
        );
      }
      if (requestKeys.has(inputKey)) {
        return error(422, 'INVALID_RECORDS', `Multiple records in the request share the merge field values ${inputKey}`);
      }
      requestKeys.add(inputKey);
      plan.push({ input, target: matches[0] });
    }
    const createdRecords: string[] = [];
    const updatedRecords: string[] = [];
    const written = plan.map(({ input, target }) => {
      const fields = input.fields as Record<string, unknown>;
      if (!target) {
        const created = this.insert(table, fields);
        createdRecords.push(created.id);
        return created;
      }
      target.fields = stored(replace ? fields : { ...target.fields, ...fields });
      updatedRecords.push(target.id);
      return target;
    });
    const records = written.map((r) => this.read(r));
    return { status: 200, body: upsert ? { records, createdRecords, updatedRecords } : { records } };
  }

  private remove(req: Request, ids: string[]): Response {
    const table = this.resolve(req);
    if ('status' in table) return table;
    if (ids.length === 0 || ids.length > MAX_RECORDS_PER_REQUEST) {
      return error(422, 'INVALID_RECORDS', `You must provide an array of up to ${MAX_RECORDS_PER_REQUEST} record ids`);
    }
    const missing = ids.find((rid) => !table.records.has(rid));
    if (missing) return { status: 404, body: { error: { type: 'MODEL_ID_NOT_FOUND', message: `Record ${missing} not found` } } };
    ids.forEach((rid) => table.records.delete(rid));
    const records = ids.map((rid) => ({ id: rid, deleted: true }));
    return { status: 200, body: req.params.record ? records[0] : { records } };
  }

  /** Checks every record before any is written; with `typecast`, select options a value lacks are added (as Airtable does). */
  private validate(table: Table, inputs: RecordInput[], needIds: boolean, typecast = false): Response | undefined {
    if (inputs.length === 0 || inputs.length > MAX_RECORDS_PER_REQUEST) {
      return error(
        422,
        'INVALID_RECORDS',
        `You must provide an array of up to ${MAX_RECORDS_PER_REQUEST} record objects, each with an "id" field and a "fields" object`,
      );
    }
    for (const input of inputs) {
      if (needIds && typeof input.id !== 'string') return error(422, 'INVALID_RECORDS', 'Each record must have an "id"');
      if (typeof input.fields !== 'object' || input.fields === null || Array.isArray(input.fields)) {
        return error(422, 'INVALID_RECORDS', 'Each record must have a "fields" object');
      }
      for (const [name, value] of Object.entries(input.fields)) {
        const field = table.fields.find((f) => f.name === name);
        if (!field) return error(422, 'UNKNOWN_FIELD_NAME', `Unknown field name: "${name}"`);
        if (!valueFits(field.type, value)) {
          return error(422, 'INVALID_VALUE_FOR_COLUMN', `Field "${name}" cannot accept the provided value`);
        }
        const lacking = newChoices(field, value);
        if (lacking.length > 0 && !typecast) {
          return error(422, 'INVALID_MULTIPLE_CHOICE_OPTIONS', `Insufficient permissions to create new select option "${lacking[0]}"`);
        }
      }
    }
    if (typecast) {
      for (const input of inputs) {
        for (const [name, value] of Object.entries(input.fields as Record<string, unknown>)) {
          const field = table.fields.find((f) => f.name === name)!;
          const choices = newChoices(field, value).map((choice) => ({ id: id('sel'), name: choice }));
          if (choices.length > 0) field.options = { ...field.options, choices: [...selectChoices(field), ...choices] };
        }
      }
    }
    return undefined;
  }

  private insert(table: Table, fields: Record<string, unknown>, createdTime = new Date()): AirtableRecord {
    const record = { id: id('rec'), createdTime: createdTime.toISOString(), fields: stored(fields) };
    table.records.set(record.id, record);
    return record;
  }

  private read(record: AirtableRecord, only: string[] = []): AirtableRecord {
    const fields =
      only.length === 0 ? { ...record.fields } : Object.fromEntries(Object.entries(record.fields).filter(([k]) => only.includes(k)));
    return { id: record.id, createdTime: record.createdTime, fields };
  }
}

interface ListParams {
  filterByFormula?: string;
  pageSize?: string;
  maxRecords?: string;
  offset?: string;
  fields: string[];
}

function queryParams(query: URLSearchParams): ListParams {
  return {
    filterByFormula: query.get('filterByFormula') ?? undefined,
    pageSize: query.get('pageSize') ?? undefined,
    maxRecords: query.get('maxRecords') ?? undefined,
    offset: query.get('offset') ?? undefined,
    fields: query.getAll('fields[]'),
  };
}

/** Empty values are not stored, so they are omitted on read, as Airtable does. */
function stored(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => !isEmpty(v)));
}

/** Options each field type must be created with, as Airtable's Meta API requires them. */
const REQUIRED_OPTIONS: Partial<Record<AirtableFieldType, string[]>> = {
  date: ['dateFormat'],
  dateTime: ['dateFormat', 'timeFormat', 'timeZone'],
  number: ['precision'],
  checkbox: ['icon', 'color'],
  singleSelect: ['choices'],
  multipleSelects: ['choices'],
};
const FIELD_TYPES = new Set<string>(['singleLineText', 'multilineText', 'richText', 'email', 'url', ...Object.keys(REQUIRED_OPTIONS)]);

/** Why Airtable would refuse to create the field (a name taken or empty, an unknown type, options missing); undefined when it would not. */
function fieldRefusal(field: FieldSpec, taken: ReadonlySet<string>): Response | undefined {
  if (typeof field.name !== 'string' || field.name.trim() === '' || taken.has(field.name.toLowerCase())) {
    return error(422, 'DUPLICATE_OR_EMPTY_FIELD_NAME', `Field name "${String(field.name)}" is empty or already used`);
  }
  if (!FIELD_TYPES.has(field.type)) return error(422, 'INVALID_FIELD_TYPE', `Unknown field type "${String(field.type)}"`);
  const missing = (REQUIRED_OPTIONS[field.type] ?? []).filter((key) => field.options?.[key] === undefined);
  if (missing.length > 0)
    return error(
      422,
      'INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE',
      `Field "${field.name}" of type ${field.type} needs options.${missing.join(', options.')}`,
    );
  return undefined;
}

const selectChoices = (field: FieldSpec): { name: string }[] => (field.options?.choices as { name: string }[] | undefined) ?? [];

/** The options a select value names that the field does not have yet. */
function newChoices(field: FieldSpec, value: unknown): string[] {
  if (field.type !== 'singleSelect' && field.type !== 'multipleSelects') return [];
  const named = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string' && v !== '');
  const have = new Set(selectChoices(field).map((c) => c.name));
  return [...new Set(named.filter((name) => !have.has(name)))];
}

function valueFits(type: AirtableFieldType, value: unknown): boolean {
  if (value === null) return true;
  switch (type) {
    case 'dateTime':
      return typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));
    case 'multipleSelects':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'date':
      return (
        typeof value === 'string' &&
        /^\d{4}-\d{2}-\d{2}$/.test(value) &&
        !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) &&
        new Date(`${value}T00:00:00Z`).toISOString().startsWith(value)
      );
    case 'number':
      return typeof value === 'number';
    case 'checkbox':
      return typeof value === 'boolean';
    default:
      return typeof value === 'string';
  }
}
