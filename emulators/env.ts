import type { AirtableEmulator } from './airtable';
import type { AsanaEmulator } from './asana';

/** The service's environment variables that point it at the two emulators. */
export function emulatorEnv(asana: AsanaEmulator, airtable: AirtableEmulator, baseId: string, projectGid: string): Record<string, string> {
  return {
    ASANA_ACCESS_TOKEN: asana.token,
    ASANA_BASE_URL: asana.baseUrl,
    ASANA_PROJECT_GIDS: projectGid,
    ASANA_WORKSPACE_GID: asana.workspaceGid,
    AIRTABLE_TOKEN: airtable.token,
    AIRTABLE_BASE_ID: baseId,
    AIRTABLE_ENDPOINT_URL: airtable.url,
  };
}
