/**
 * The "Asana Tasks" table's shape, checked and created through Airtable's Meta API (airtable.js
 * has no schema calls). The worker checks it at start; `npm run cli -- airtable setup` creates it.
 */
import axios from 'axios';
import type { AirtableConfig } from '../config';
import { ApiError } from './api-error';
import { DEFAULT_COLUMNS, tableFields, type Column } from './columns';

interface MetaTable {
  id: string;
  name: string;
  fields: { name: string; type: string }[];
}

export type TableCheck = { status: 'ok'; tableId: string } | { status: 'missing' } | { status: 'wrong'; problems: string[] };

function meta(config: AirtableConfig) {
  const http = axios.create({
    baseURL: `${config.endpointUrl}/v0/meta/bases/${config.baseId}`,
    headers: { Authorization: `Bearer ${config.token}` },
    timeout: 30_000,
  });
  const call = async <T>(work: () => Promise<{ data: T }>): Promise<T> => {
    try {
      return (await work()).data;
    } catch (err) {
      const response = axios.isAxiosError(err) ? err.response : undefined;
      const body = response?.data as { error?: { message?: string } | string } | undefined;
      const message = typeof body?.error === 'string' ? body.error : (body?.error?.message ?? (err as Error).message);
      throw new ApiError('Airtable', response?.status, message);
    }
  };
  return {
    tables: () => call(() => http.get<{ tables: MetaTable[] }>('/tables')).then((b) => b.tables),
    createTable: (body: unknown) => call(() => http.post<MetaTable>('/tables', body)),
  };
}

export async function checkTable(config: AirtableConfig, columns: readonly Column[] = DEFAULT_COLUMNS): Promise<TableCheck> {
  const table = (await meta(config).tables()).find((t) => t.name === config.tableName || t.id === config.tableName);
  if (!table) return { status: 'missing' };
  const problems: string[] = [];
  for (const spec of columns) {
    const field = table.fields.find((f) => f.name === spec.name);
    if (!field) problems.push(`field "${spec.name}" is missing (want ${spec.types[0]})`);
    else if (!(spec.types as readonly string[]).includes(field.type))
      problems.push(`field "${spec.name}" is ${field.type}; want ${spec.types.join(' or ')}`);
  }
  return problems.length === 0 ? { status: 'ok', tableId: table.id } : { status: 'wrong', problems };
}

export async function createTable(config: AirtableConfig, columns: readonly Column[] = DEFAULT_COLUMNS): Promise<string> {
  return (await meta(config).createTable({ name: config.tableName, fields: tableFields(columns) })).id;
}
