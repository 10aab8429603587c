/**
 * `npm run demo`: no account needed. Runs the Asana and Airtable emulators, a Temporal dev server
 * with its Web UI, the worker and the webhook; registers a webhook through the CLI's own code;
 * creates a handful of sample tasks in "Asana"; prints the resulting "Asana Tasks" rows; then
 * keeps running (create more tasks with the printed curl line) until Ctrl-C.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { airtableSetup } from '../cli/airtable';
import { columnNames } from '../rows/columns';
import { readColumnsFile } from '../rows/columns-file';
import { startDevServer } from '../temporal/dev-server';
import { createLogger } from '../lib/logger';
import { runMain, shutdownSignal } from '../lib/run-main';
import { formatTable } from '../lib/text-table';
import { WEBHOOK_COMMANDS } from '../cli/webhooks';
import { AirtableEmulator } from '../emulators/airtable';
import { AsanaEmulator } from '../emulators/asana';
import { emulatorEnv } from '../emulators/env';
import { startWebhookServer } from '../webhook/server';
import { SecretStore } from '../asana/webhook-secrets';
import { installRuntime } from '../temporal/connection';
import { startSyncWorker } from '../worker/worker';
import { taskWorkflowId } from '../client';
import { openServices } from '../services';

const UI_PORT = 8233;
const BASE_ID = 'appDEMOBASE000001';

runMain(async () => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'asana-airtable-demo-'));
  const asana = new AsanaEmulator();
  const airtable = new AirtableEmulator();
  await Promise.all([asana.listen(4010), airtable.listen(4020)]);
  airtable.createTable(BASE_ID, 'Asana Tasks');
  const project = asana.addProject('Spring campaign');
  const people = [asana.addUser('Ana Lima'), asana.addUser('Bo Chen')];
  const client = asana.addCustomField(project.gid, { name: 'Client', resource_subtype: 'enum', options: ['Acme', 'Globex'] });

  const log = createLogger('warn', 'demo');
  installRuntime(log); // before the dev server: it would create the SDK runtime otherwise
  console.log('Starting the Temporal dev server...');
  const temporal = await startDevServer({ uiPort: UI_PORT });
  const config = loadConfig(['asana', 'airtable'], {
    ...emulatorEnv(asana, airtable, BASE_ID, project.gid),
    TEMPORAL_ADDRESS: temporal.address,
    PORT: '3000',
    PUBLIC_URL: 'http://localhost:3000',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    COLUMNS_FILE: path.join(__dirname, 'demo-columns.yml'),
  });
  const quiet = { out: () => undefined, err: (line: string) => console.error(line) };
  const services = await openServices(config, log);
  await airtableSetup(services, quiet, []); // adds the demo's two columns
  const { worker, running } = await startSyncWorker(services);
  const webhook = await startWebhookServer(services);

  const output = { out: (line: string) => console.log(line), err: () => undefined }; // the localhost warning does not apply to the emulator
  await WEBHOOK_COMMANDS.create({ config, api: services.asana, secrets: new SecretStore(config.dataDir), output }, [
    '--project',
    project.gid,
  ]);

  const samples = [
    {
      name: 'Draft the launch brief',
      assignee: people[0].gid,
      due_on: '2026-12-01',
      notes: 'Two pages.\nAudience: SMB owners.',
      completed: true,
      custom_fields: { [client.gid]: 'Acme' },
    },
    {
      name: 'Book the photographer 📸',
      assignee: people[1].gid,
      due_on: '2026-12-05',
      notes: '',
      custom_fields: { [client.gid]: 'Globex' },
    },
    { name: 'Review «Q1» budget', assignee: null, due_at: '2026-12-10T15:00:00.000Z', notes: 'Ask finance for the spreadsheet' },
    { name: 'Post teaser on social', assignee: people[0].gid, due_on: null, notes: '' },
  ];
  for (const sample of samples) asana.createTask(project.gid, sample);
  const deadline = Date.now() + 30_000;
  while (airtable.records(BASE_ID, 'Asana Tasks').length < samples.length && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));

  const rows = airtable.records(BASE_ID, 'Asana Tasks').map((r) => r.fields);
  const columns = [...columnNames(), ...readColumnsFile(config.columnsFile).settings.map((s) => s.name)];
  console.log(`\n"Asana Tasks" in the Airtable emulator (${rows.length} rows):\n`);
  console.log(
    formatTable(
      columns,
      rows.map((r) => columns.map((c) => String(r[c] ?? '').replace(/\n/g, ' ⏎ '))),
    ),
  );
  console.log(`
Temporal Web UI: ${temporal.uiUrl}  (each task's run is ${taskWorkflowId('<Task ID>')})
Create another task:
  curl -s -X POST ${asana.baseUrl}/tasks -H 'Authorization: Bearer ${asana.token}' -d '{"data":{"projects":["${project.gid}"],"name":"One more"}}'
See the rows:
  curl -s '${airtable.url}/v0/${BASE_ID}/Asana%20Tasks' -H 'Authorization: Bearer ${airtable.token}'
Ctrl-C stops the demo.`);

  await shutdownSignal();
  services.stop();
  await webhook.close();
  worker.shutdown();
  await running;
  await services.close();
  await temporal.stop();
  await Promise.all([asana.close(), airtable.close()]);
  await rm(dataDir, { recursive: true, force: true });
});
