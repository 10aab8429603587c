/** Connections to Temporal, from the one config. */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { DEFAULT_TEMPORAL_ADDRESS, type TemporalConfig } from '../config';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

export const temporalAddress = (config: TemporalConfig): string => config.address ?? DEFAULT_TEMPORAL_ADDRESS;

/** Address and credentials, the same for clients and workers: plain, API key, or mTLS. */
function connectionOptions(config: TemporalConfig) {
  const clientCertPair = config.tls && { crt: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) };
  return {
    address: temporalAddress(config),
    tls: clientCertPair ? { clientCertPair } : config.apiKey !== undefined,
    apiKey: config.apiKey,
  };
}

export async function connect(config: TemporalConfig): Promise<Connection> {
  return Connection.connect({ ...connectionOptions(config), connectTimeout: '10 seconds' });
}

export async function connectClient(config: TemporalConfig): Promise<Client> {
  return new Client({ connection: await connect(config), namespace: config.namespace });
}

export async function connectWorker(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

/** Registers the service's search attributes on the namespace when they are missing (idempotent). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
  return missing.map((key) => key.name);
}
