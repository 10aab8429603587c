/** A columns file of every kind of source, and the custom fields of the project it names. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AsanaEmulator, EmulatedCustomField, EmulatedProject } from '../../emulators/asana';
import { startStack, type Stack } from './stack';

export const EVERY_SOURCE = `
columns:
  - { name: Done, type: checkbox, source: completed }
  - { name: Completed At, type: dateTime, source: completed_at }
  - { name: Start, type: date, source: start_on }
  - { name: Link, type: url, source: permalink_url }
  - { name: Tags, type: multipleSelects, source: tags }
  - { name: Parent, type: singleLineText, source: parent }
  - { name: Section, type: singleSelect, source: section }
  - { name: Email, type: email, source: assignee_email }
  - { name: Client, type: singleSelect, source: "custom_field:Client" }
  - { name: Budget, type: number, source: "custom_field:Budget" }
  - { name: Channels, type: multipleSelects, source: "custom_field:Channels" }
  - { name: Launch, type: date, source: "custom_field:Launch" }
  - { name: Owners, type: singleLineText, source: "custom_field:Owners" }
`;

export type ProjectFields = Record<'client' | 'budget' | 'channels' | 'launch' | 'owners' | 'brief', EmulatedCustomField>;

/** Adds the custom fields EVERY_SOURCE names (and Brief, a text field it does not) to the project. */
export function addCustomFields(asana: AsanaEmulator, project: EmulatedProject): ProjectFields {
  return {
    client: asana.addCustomField(project.gid, { name: 'Client', resource_subtype: 'enum', options: ['Acme', 'Globex'] }),
    budget: asana.addCustomField(project.gid, { name: 'Budget', resource_subtype: 'number', precision: 2 }),
    channels: asana.addCustomField(project.gid, { name: 'Channels', resource_subtype: 'multi_enum', options: ['Email', 'Social'] }),
    launch: asana.addCustomField(project.gid, { name: 'Launch', resource_subtype: 'date' }),
    owners: asana.addCustomField(project.gid, { name: 'Owners', resource_subtype: 'people' }),
    brief: asana.addCustomField(project.gid, { name: 'Brief', resource_subtype: 'text' }),
  };
}

/** Custom field values of a task: one of each kind. */
export const everyValue = (fields: ProjectFields, personGid: string) => ({
  [fields.client.gid]: 'Acme',
  [fields.budget.gid]: 1234.5,
  [fields.channels.gid]: ['Email', 'Social'],
  [fields.launch.gid]: '2026-12-24',
  [fields.owners.gid]: [personGid],
});

/**
 * The whole stack with EVERY_SOURCE as its COLUMNS_FILE (in `dir`, removed on stop) and the custom
 * fields it names; `setUp` runs first, before the service starts.
 */
export async function startStackWithEverySource(
  setUp?: (asana: AsanaEmulator, project: EmulatedProject) => void,
): Promise<{ stack: Stack; fields: ProjectFields; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'columns-'));
  await writeFile(path.join(dir, 'columns.yml'), EVERY_SOURCE);
  let fields!: ProjectFields;
  const stack = await startStack({
    env: { COLUMNS_FILE: path.join(dir, 'columns.yml'), AIRTABLE_TYPECAST: 'true' },
    setUp: (asana, project) => {
      setUp?.(asana, project);
      fields = addCustomFields(asana, project);
    },
  });
  const stop = stack.stop.bind(stack);
  stack.stop = async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  };
  return { stack, fields, dir };
}
