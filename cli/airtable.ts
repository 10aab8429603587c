/** `airtable setup`: checks "Asana Tasks" through the Meta API and creates it when missing. */
import type { Config } from '../config';
import { checkTable, createTable } from '../lib/airtable-schema';
import { tableFields } from '../lib/columns';
import { UsageError } from './errors';
import type { Output } from './output';

export async function airtableSetup(config: Config, output: Output, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`airtable setup takes no arguments, got "${args.join(' ')}"`);
  const check = await checkTable(config.airtable);
  const where = `table "${config.airtable.tableName}" in base ${config.airtable.baseId}`;
  if (check.status === 'ok') {
    output.out(`The ${where} is ready (${check.tableId}).`);
    return 0;
  }
  if (check.status === 'missing') {
    const tableId = await createTable(config.airtable);
    const fields = tableFields().map((f) => `${f.name} (${f.type})`);
    output.out(`Created the ${where} (${tableId}) with ${fields.join(', ')}.`);
    return 0;
  }
  output.err(`The ${where} needs changes in Airtable:\n${check.problems.map((p) => `  - ${p}`).join('\n')}`);
  return 1;
}
