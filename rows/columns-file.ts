/**
 * The columns an operator adds beside the five, from the YAML file COLUMNS_FILE names: each an
 * Airtable column name, a field type and an Asana source. Every problem of the file is listed at
 * once; the entry points stop with exit code 2 on any.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, type Config } from '../config';
import {
  AIRTABLE_FIELD_TYPES,
  changeRule,
  customFieldSource,
  DEFAULT_COLUMNS,
  fieldOptions,
  taskSources,
  type AirtableFieldType,
  type ChangeRule,
  type Column,
  type CustomFieldDefinition,
  type SourceSpec,
} from './columns';

/** One column as the file writes it. */
export interface ColumnSetting {
  name: string;
  type: AirtableFieldType;
  source: string;
}

const CUSTOM_FIELD = /^custom_field:(.+)$/;
const KEYS = new Set(['name', 'type', 'source']);
const ALL_TYPES = new Set<string>(AIRTABLE_FIELD_TYPES);

/** The custom field a source names (by gid or by name), or undefined for a task field. */
export const customFieldRef = (source: string): string | undefined => CUSTOM_FIELD.exec(source)?.[1].trim();

/** Reads and checks the file: its shape, the names, the types, the task sources; custom fields are checked against Asana later. */
export function readColumnsFile(file: string | undefined): { settings: ColumnSetting[]; problems: string[] } {
  if (file === undefined) return { settings: [], problems: [] };
  let document: unknown;
  try {
    document = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return { settings: [], problems: [`COLUMNS_FILE ${file}: ${(err as Error).message.split('\n')[0]}`] };
  }
  const list = (document as { columns?: unknown } | null)?.columns;
  if (!Array.isArray(list)) return { settings: [], problems: [`COLUMNS_FILE ${file}: expected a "columns:" list`] };
  const problems: string[] = [];
  const settings: ColumnSetting[] = [];
  const sources = taskSources(new Set());
  const taken = new Map(DEFAULT_COLUMNS.map((c) => [c.name.toLowerCase(), 'one of the five default columns']));
  for (const [i, item] of (list as unknown[]).entries()) {
    const at = `COLUMNS_FILE columns[${i}]`;
    if (typeof item !== 'object' || item === null) {
      problems.push(`${at}: expected name, type and source`);
      continue;
    }
    const { name, type, source } = item as Record<string, unknown>;
    const unknownKeys = Object.keys(item).filter((k) => !KEYS.has(k));
    if (unknownKeys.length > 0) problems.push(`${at}: unknown key ${unknownKeys.map((k) => `"${k}"`).join(', ')}`);
    if (typeof name !== 'string' || name.trim() === '') {
      problems.push(`${at}: "name" must be a column name`);
      continue;
    }
    const where = `${at} "${name}"`;
    const clash = taken.get(name.trim().toLowerCase());
    if (clash) problems.push(`${where}: the name is taken by ${clash}`);
    taken.set(name.trim().toLowerCase(), `columns[${i}]`);
    if (typeof type !== 'string' || !ALL_TYPES.has(type))
      problems.push(`${where}: unknown type "${String(type)}" (one of ${[...ALL_TYPES].join(', ')})`);
    if (typeof source !== 'string') {
      problems.push(`${where}: "source" must be a task field or custom_field:<name or gid>`);
      continue;
    }
    const spec = sources[source];
    if (!spec && customFieldRef(source) === undefined) {
      problems.push(`${where}: unknown source "${source}" (one of ${Object.keys(sources).join(', ')}, or custom_field:<name or gid>)`);
    } else if (spec && typeof type === 'string' && ALL_TYPES.has(type) && !spec.types.includes(type as AirtableFieldType)) {
      problems.push(`${where}: a ${type} column cannot hold ${source} (use ${spec.types.join(' or ')})`);
    }
    settings.push({ name: name.trim(), type: type as AirtableFieldType, source });
  }
  return { settings, problems };
}

export interface ColumnContext {
  syncedProjects: ReadonlySet<string>;
  /** The custom fields of the synced projects (needed only when a source names one). */
  customFields: readonly CustomFieldDefinition[];
  /** AIRTABLE_TYPECAST: Airtable adds select options it lacks. */
  typecast: boolean;
}

/** The five columns and the added ones; every problem (an unknown or ambiguous custom field, a type it cannot fill) listed. */
export function buildColumns(settings: readonly ColumnSetting[], context: ColumnContext): { columns: Column[]; problems: string[] } {
  const problems: string[] = [];
  const sources = taskSources(context.syncedProjects);
  const columns: Column[] = [...DEFAULT_COLUMNS];
  for (const setting of settings) {
    const where = `COLUMNS_FILE "${setting.name}"`;
    const ref = customFieldRef(setting.source);
    let spec: SourceSpec | undefined = sources[setting.source];
    let field: CustomFieldDefinition | undefined;
    if (ref !== undefined) {
      const matches = context.customFields.filter((f) => f.gid === ref || f.name === ref);
      const distinct = [...new Map(matches.map((f) => [f.gid, f])).values()];
      if (distinct.length === 0) problems.push(`${where}: no custom field "${ref}" in the synced projects`);
      else if (distinct.length > 1)
        problems.push(
          `${where}: ${distinct.length} custom fields are named "${ref}": name it by gid (${distinct.map((f) => f.gid).join(', ')})`,
        );
      else {
        field = distinct[0];
        spec = customFieldSource(field);
      }
    }
    if (!spec) continue;
    if (!spec.types.includes(setting.type)) {
      problems.push(
        `${where}: a ${setting.type} column cannot hold ${field ? `the ${field.resource_subtype} custom field "${field.name}"` : setting.source} (use ${spec.types.join(' or ')})`,
      );
      continue;
    }
    const selects = setting.type === 'singleSelect' || setting.type === 'multipleSelects';
    if (selects && spec.openOptions && !context.typecast) {
      problems.push(
        `${where}: a ${setting.type} of ${setting.source} needs AIRTABLE_TYPECAST=true (Airtable then adds options as values come), or a text type`,
      );
    }
    const { value, optFields, changeFields, sectionEvents, openOptions, userFields, showsMembership } = spec;
    columns.push({
      name: setting.name,
      types: [setting.type],
      options: fieldOptions(setting.type, field),
      optFields,
      changeFields,
      sectionEvents,
      openOptions: selects && openOptions,
      userFields,
      showsMembership,
      value: (task) => value(task, setting.type),
    });
  }
  return { columns, problems };
}

/** Throws ConfigError listing every problem; the entry points exit 2 on it. */
export function assertNoProblems(problems: string[]): void {
  if (problems.length > 0) throw new ConfigError(problems);
}

/** What loading the columns asks of Asana: every page of a list (asana/api.ts's AsanaApi). */
export interface AsanaLists {
  all<T>(path: string, params: Record<string, string>): Promise<T[]>;
}

/** The custom fields of a project, as its custom_field_settings define them. */
async function projectCustomFields(api: AsanaLists, projectGid: string): Promise<CustomFieldDefinition[]> {
  const settings = await api.all<{ custom_field: CustomFieldDefinition }>(
    `/projects/${encodeURIComponent(projectGid)}/custom_field_settings`,
    {
      opt_fields:
        'custom_field.name,custom_field.resource_subtype,custom_field.precision,custom_field.enum_options.name,custom_field.enum_options.enabled',
    },
  );
  return settings.map((s) => s.custom_field);
}

/**
 * The columns the service writes: the five, and COLUMNS_FILE's, with their custom fields looked
 * up in the synced projects. Throws ConfigError listing every problem.
 */
export async function loadColumns(config: Pick<Config, 'columnsFile' | 'asana' | 'airtable'>, api: AsanaLists): Promise<Column[]> {
  const { settings, problems } = readColumnsFile(config.columnsFile);
  assertNoProblems(problems);
  const needsCustomFields = settings.some((s) => customFieldRef(s.source) !== undefined);
  if (needsCustomFields && config.asana.accessToken === '')
    assertNoProblems(['ASANA_ACCESS_TOKEN is required to look up the custom fields COLUMNS_FILE names']);
  const customFields = needsCustomFields
    ? (await Promise.all(config.asana.projectGids.map((gid) => projectCustomFields(api, gid)))).flat()
    : [];
  const built = buildColumns(settings, {
    syncedProjects: new Set(config.asana.projectGids),
    customFields,
    typecast: config.airtable.typecast,
  });
  assertNoProblems(built.problems);
  return built.columns;
}

/** Which Asana events can change a row, from the file alone (a custom field source is changed by `custom_fields`). */
export function changeRuleOf(settings: readonly ColumnSetting[]): ChangeRule {
  const sources = taskSources(new Set());
  const added = settings.map((s) => sources[s.source] ?? { changeFields: ['custom_fields'] });
  return changeRule([...DEFAULT_COLUMNS, ...added]);
}
