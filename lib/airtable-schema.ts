/**
 * The "Asana Tasks" table's shape, checked and created through Airtable's Meta API (airtable.js
 * has no schema calls). The worker checks it at start; `npm run cli -- airtable setup` creates it.
 */
import axios from 'axios';
import type { AirtableConfig } from '../config';
import { ApiError } from './api-error';
import { FIELD } from '../activities/mapping';

interface FieldSpec {
  name: string;
  /** Types a row can be written to; the first is what setup creates. */
  types: string[];
  options?: Record<string, unknown>;
}

/** Task ID first: it becomes the primary field, and upserts merge on it. */
export const TABLE_FIELDS: FieldSpec[] = [
  { name: FIELD.taskId, types: ['singleLineText'] },
  { name: FIELD.name, types: ['singleLineText', 'multilineText'] },
  { name: FIELD.assignee, types: ['singleLineText', 'multilineText'] },
  { name: FIELD.dueDate, types: ['date'], options: { dateFormat: { name: 'iso' } } },
  { name: FIELD.description, types: ['multilineText', 'richText', 'singleLineText'] },
];

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

export async function checkTable(config: AirtableConfig): Promise<TableCheck> {
  const table = (await meta(config).tables()).find((t) => t.name === config.tableName || t.id === config.tableName);
  if (!table) return { status: 'missing' };
  const problems: string[] = [];
  for (const spec of TABLE_FIELDS) {
    const field = table.fields.find((f) => f.name === spec.name);
    if (!field) problems.push(`field "${spec.name}" is missing (want ${spec.types[0]})`);
    else if (!spec.types.includes(field.type)) problems.push(`field "${spec.name}" is ${field.type}; want ${spec.types.join(' or ')}`);
  }
  return problems.length === 0 ? { status: 'ok', tableId: table.id } : { status: 'wrong', problems };
}

export async function createTable(config: AirtableConfig): Promise<string> {
  const fields = TABLE_FIELDS.map((f) => ({ name: f.name, type: f.types[0], ...(f.options ? { options: f.options } : {}) }));
  return (await meta(config).createTable({ name: config.tableName, fields })).id;
}
