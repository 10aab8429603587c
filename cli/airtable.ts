/** `airtable setup`: checks "Asana Tasks" through the Meta API; creates it, or the columns it lacks. */
import type { Services } from '../services';
import { checkTable, createMissingFields, createTable } from '../airtable/schema';
import { tableFields } from '../rows/columns';
import { loadColumns } from '../rows/columns-file';
import { UsageError } from './errors';
import type { Output } from './output';

export async function airtableSetup({ config, budgets, asana }: Services, output: Output, args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`airtable setup takes no arguments, got "${args.join(' ')}"`);
  const columns = await loadColumns(config, asana);
  let check = await checkTable(config.airtable, budgets, columns);
  const where = `table "${config.airtable.tableName}" in base ${config.airtable.baseId}`;
  if (check.status === 'ok') {
    output.out(`The ${where} is ready (${check.tableId}).`);
    return 0;
  }
  if (check.status === 'missing') {
    const tableId = await createTable(config.airtable, budgets, columns);
    const fields = tableFields(columns).map((f) => `${f.name} (${f.type})`);
    output.out(`Created the ${where} (${tableId}) with ${fields.join(', ')}.`);
    return 0;
  }
  const created = await createMissingFields(config.airtable, budgets, columns);
  if (created.length > 0) {
    output.out(`Added to the ${where}: ${created.join(', ')}.`);
    check = await checkTable(config.airtable, budgets, columns);
    if (check.status === 'ok') return 0;
  }
  if (check.status !== 'wrong') throw new Error(`the ${where} disappeared during setup`);
  output.err(`The ${where} needs changes in Airtable:\n${check.problems.map((p) => `  - ${p}`).join('\n')}`);
  return 1;
}
