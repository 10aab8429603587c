/** The Redis the tests share (REDIS_URL, or the machine's own on 6379), and key prefixes that keep each test's budgets apart. */
import { randomUUID } from 'node:crypto';
import { readEnv } from '../../config';

export const TEST_REDIS_URL = readEnv().REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix no other run or test uses, so concurrent runs against one Redis never share a budget. */
export const uniqueKeyPrefix = (label: string): string => `asana-airtable-sync-test:${label}:${randomUUID()}:`;
