/**
 * The naive baseline `npm run bench` compares the service with, written the way the classic
 * single-file integrations do it: a synchronous handler per delivery that reads only the first
 * event, GETs the task, GETs the assignee, searches the row by formula, then creates or updates
 * it, with airtable.js defaults (which retry 429s on their own, inside Airtable's lock-out).
 * Benchmark code only: it is here to be measured, not used.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Airtable from 'airtable';
import axios from 'axios';

export interface BaselineOptions {
  asanaBaseUrl: string;
  asanaToken: string;
  airtableUrl: string;
  airtableToken: string;
  baseId: string;
  tableName: string;
}

interface Delivery {
  events?: { action?: string; resource?: { gid?: string; resource_type?: string } }[];
}

export async function startBaseline(options: BaselineOptions): Promise<{ url: string; close(): Promise<void> }> {
  const asana = axios.create({ baseURL: options.asanaBaseUrl, headers: { Authorization: `Bearer ${options.asanaToken}` } });
  const table = new Airtable({ apiKey: options.airtableToken, endpointUrl: options.airtableUrl })
    .base(options.baseId)
    .table(options.tableName);

  const handle = async (body: Delivery): Promise<void> => {
    const event = body.events?.[0];
    if (!event || event.action !== 'added' || event.resource?.resource_type !== 'task') return;
    const { data } = await asana.get(`/tasks/${event.resource.gid}`);
    const task = data.data;
    let assignee = '';
    if (task.assignee) assignee = (await asana.get(`/users/${task.assignee.gid}`)).data.data.name;
    const fields = { 'Task ID': task.gid, Name: task.name, Assignee: assignee, 'Due Date': task.due_on, Description: task.notes };
    const existing = await table.select({ filterByFormula: `{Task ID} = '${task.gid}'` }).firstPage();
    if (existing.length > 0) await table.update(existing[0].id, fields);
    else await table.create(fields);
  };

  const server = http.createServer((req, res) => {
    const secret = req.headers['x-hook-secret'];
    if (secret) {
      res.writeHead(200, { 'X-Hook-Secret': secret });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(JSON.parse(Buffer.concat(chunks).toString() || '{}') as Delivery).then(
        () => res.end('ok'),
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
