/**
 * `npm run emulators [-- --asana-port 4010 --airtable-port 4020]`: both emulators as a standalone
 * process, seeded with a project, two users and the "Asana Tasks" table, so the service can be
 * tried with no Asana or Airtable account. Prints the .env lines that point the service at them.
 */
import { parseArgs } from 'node:util';
import { runMain, shutdownSignal } from '../lib/run-main';
import { AirtableEmulator } from './airtable';
import { AsanaEmulator } from './asana';
import { emulatorEnv } from './env';

export const EMULATOR_BASE_ID = 'appSANDBOXBASE001';

runMain(async () => {
  const { values } = parseArgs({
    options: { 'asana-port': { type: 'string', default: '4010' }, 'airtable-port': { type: 'string', default: '4020' } },
  });
  const asana = new AsanaEmulator({ retryBaseMs: 1000 });
  const airtable = new AirtableEmulator();
  await asana.listen(Number(values['asana-port']));
  await airtable.listen(Number(values['airtable-port']));
  airtable.createTable(EMULATOR_BASE_ID, 'Asana Tasks');
  const project = asana.addProject('Campaigns');
  const ana = asana.addUser('Ana Lima');
  asana.addUser('Bo Chen');

  console.log(`Asana emulator:    ${asana.baseUrl}
Airtable emulator: ${airtable.url}

Put these in .env (or export them), then run the service with \`npm start\`:

${Object.entries(emulatorEnv(asana, airtable, EMULATOR_BASE_ID, project.gid))
  .map(([k, v]) => `${k}=${v}`)
  .join('\n')}
PUBLIC_URL=http://localhost:3000

Register the webhook once the service runs (Asana performs the handshake with it, on a URL
only this registration knows):
  npm run cli -- webhooks create --project ${project.gid}
Create a task:
  curl -s -X POST ${asana.baseUrl}/tasks -H 'Authorization: Bearer ${asana.token}' \\
    -d '{"data":{"projects":["${project.gid}"],"name":"Write the brief","assignee":"${ana.gid}","due_on":"2026-12-01","notes":"Two pages"}}'
See the rows:
  curl -s '${airtable.url}/v0/${EMULATOR_BASE_ID}/Asana%20Tasks' -H 'Authorization: Bearer ${airtable.token}'
`);
  await shutdownSignal();
  await Promise.all([asana.close(), airtable.close()]);
});
