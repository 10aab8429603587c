/**
 * The "Asana Tasks" table's shape, checked and created through Airtable's Meta API (airtable.js
 * has no schema calls). The worker checks it at start; `npm run cli -- airtable setup` creates it.
 */
import axios from 'axios';
import type { AirtableConfig } from '../config';
import { ApiError, retrying } from '../lib/api-error';
import { boundedAxios } from '../lib/http-bounds';
import { airtableBudget, type Budgets } from '../budgets';
import { DEFAULT_COLUMNS, tableFields, type Column } from '../rows/columns';

interface MetaTable {
  id: string;
  name: string;
  fields: { name: string; type: string; options?: { choices?: { name: string }[] } }[];
}

export type TableCheck = { status: 'ok'; tableId: string } | { status: 'missing' } | { status: 'wrong'; problems: string[] };

const RATE_LIMITED_ATTEMPTS = 3;

/**
 * The Meta API counts against the base's 5 requests per second too (setup adds fields one a
 * request): its calls draw on the base's one pacer in the process's budgets, with the writes.
 */
function meta(config: AirtableConfig, budgets: Budgets) {
  const http = boundedAxios({
    baseURL: `${config.endpointUrl}/v0/meta/bases/${config.baseId}`,
    headers: { Authorization: `Bearer ${config.token}` },
    timeout: 30_000,
  });
  const pacer = budgets.pacer(airtableBudget(config));
  const once = async <T>(work: () => Promise<{ data: T }>): Promise<T> => {
    try {
      return (await pacer.run(work)).data;
    } catch (err) {
      const response = axios.isAxiosError(err) ? err.response : undefined;
      const body = response?.data as { error?: { message?: string } | string } | undefined;
      const message = typeof body?.error === 'string' ? body.error : (body?.error?.message ?? (err as Error).message);
      throw new ApiError('Airtable', response?.status, message);
    }
  };
  // The worker's writes share the base's rate: a 429 waits out Airtable's lock-out, then tries again.
  const call = <T>(work: () => Promise<{ data: T }>): Promise<T> =>
    retrying(
      () => once(work),
      (err, attempt) => {
        if (!(err instanceof ApiError) || err.status !== 429 || attempt + 1 >= RATE_LIMITED_ATTEMPTS) return undefined;
        pacer.pause(config.lockoutMs);
        return config.lockoutMs;
      },
    );
  return {
    tables: () => call(() => http.get<{ tables: MetaTable[] }>('/tables')).then((b) => b.tables),
    createTable: (body: unknown) => call(() => http.post<MetaTable>('/tables', body)),
    createField: (tableId: string, body: unknown) => call(() => http.post<unknown>(`/tables/${encodeURIComponent(tableId)}/fields`, body)),
  };
}

const findTable = async (config: AirtableConfig, api: ReturnType<typeof meta>) =>
  (await api.tables()).find((t) => t.name === config.tableName || t.id === config.tableName);

/** What a field lacks to take the column's values: the right type, and (without typecast) every select option. */
function fieldProblem(field: MetaTable['fields'][number], column: Column, typecast: boolean): string | undefined {
  if (!(column.types as readonly string[]).includes(field.type))
    return `field "${column.name}" is ${field.type}; want ${column.types.join(' or ')}`;
  const wanted = (column.options?.choices as { name: string }[] | undefined) ?? [];
  const have = new Set((field.options?.choices ?? []).map((c) => c.name));
  const lacking = wanted.filter((c) => !have.has(c.name)).map((c) => `"${c.name}"`);
  if (lacking.length > 0 && !typecast)
    return `field "${column.name}" lacks the options ${lacking.join(', ')} (add them in Airtable, or set AIRTABLE_TYPECAST=true)`;
  return undefined;
}

/** Every problem the table has for the columns: a field missing, of the wrong type, or lacking select options. */
export async function checkTable(
  config: AirtableConfig,
  budgets: Budgets,
  columns: readonly Column[] = DEFAULT_COLUMNS,
): Promise<TableCheck> {
  const table = await findTable(config, meta(config, budgets));
  if (!table) return { status: 'missing' };
  const problems: string[] = [];
  for (const column of columns) {
    const field = table.fields.find((f) => f.name === column.name);
    const problem = field ? fieldProblem(field, column, config.typecast) : `field "${column.name}" is missing (want ${column.types[0]})`;
    if (problem) problems.push(problem);
  }
  return problems.length === 0 ? { status: 'ok', tableId: table.id } : { status: 'wrong', problems };
}

/** Adds the columns the table lacks (existing fields are never changed or removed); their names. */
export async function createMissingFields(config: AirtableConfig, budgets: Budgets, columns: readonly Column[]): Promise<string[]> {
  const api = meta(config, budgets);
  const table = await findTable(config, api);
  if (!table) return [];
  const missing = tableFields(columns).filter((f) => !table.fields.some((existing) => existing.name === f.name));
  for (const field of missing) await api.createField(table.id, field);
  return missing.map((f) => f.name);
}

export async function createTable(config: AirtableConfig, budgets: Budgets, columns: readonly Column[] = DEFAULT_COLUMNS): Promise<string> {
  return (await meta(config, budgets).createTable({ name: config.tableName, fields: tableFields(columns) })).id;
}
