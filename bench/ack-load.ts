/**
 * The acknowledgement scenario's load: signed single-event deliveries at a steady rate, each timed
 * from send to answer. It runs in a process (and session) of its own, as Asana's sender is not
 * ours: the emulators' work in the bench, and the Temporal dev server the bench shares a session
 * with, then never delay a send or an answer and count as webhook latency. The figure is the
 * webhook's, as Asana would see it.
 *
 * Its scheduling group also gets a high CPU weight. Asana's servers send on their schedule and
 * read each answer as it comes, whatever our cores do. A sender that shared those cores at the
 * default weight stalled when the webhook did, and sent nothing meanwhile: the deliveries the
 * stall should have delayed were never sent into it. That hid most of the webhook's latency
 * (BENCHMARKS.md). Its own CPU is small (about 0.05 of a core at 200 deliveries/s).
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { LOADER_ARGS } from '../lib/runtime-paths';
import { signDelivery } from '../emulators/asana';
import { setGroupNice } from './cpu-weight';

export interface AckLoad {
  url: string;
  secret: string;
  taskGids: string[];
  count: number;
  perSecond: number;
}

export interface AckResult {
  /** Send to answer, ms, in the order answers came. */
  acks: number[];
  statuses: Record<number, number>;
  /** The rate actually sent. */
  perSecond: number;
  /** Why the sender could not get its high CPU weight, if it could not. */
  unweighted?: string;
}

/** The sender's scheduling group: about nine times the default weight. */
const SENDER_NICE = -10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run({ url, secret, taskGids, count, perSecond }: AckLoad): Promise<AckResult> {
  const acks: number[] = [];
  const statuses: Record<number, number> = {};
  const sends: Promise<void>[] = [];
  // node:http, not fetch: undici's fetch cost this thread a millisecond of CPU a request, taken
  // from the two cores the service runs on, when Asana's sender is not on our machine at all.
  const agent = new http.Agent({ keepAlive: true });
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    const due = start + (i * 1000) / perSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    const event = {
      user: null,
      created_at: new Date().toISOString(),
      action: 'changed',
      resource: { gid: taskGids[i % taskGids.length], resource_type: 'task', resource_subtype: 'default_task' },
      parent: null,
    };
    const body = JSON.stringify({ events: [event] });
    const sent = performance.now();
    sends.push(
      new Promise<void>((resolve, reject) => {
        const headers = {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-hook-signature': signDelivery(secret, body),
        };
        const request = http.request(url, { method: 'POST', agent, headers }, (response) => {
          response.resume();
          response.on('end', () => {
            acks.push(performance.now() - sent);
            statuses[response.statusCode!] = (statuses[response.statusCode!] ?? 0) + 1;
            resolve();
          });
        });
        request.on('error', reject);
        request.end(body);
      }),
    );
  }
  await Promise.all(sends);
  return { acks, statuses, perSecond: count / ((performance.now() - start) / 1000) };
}

/** Runs the load in a process of its own and resolves with its timings. */
export function measureAcks(load: AckLoad): Promise<AckResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { execArgv: LOADER_ARGS, detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const unweighted = setGroupNice(child.pid!, SENDER_NICE);
    child.once('message', (result) => {
      resolve({ ...(result as AckResult), unweighted });
      child.kill(); // its keep-alive connections would hold it open
    });
    child.once('error', reject);
    child.send(load);
  });
}

if (require.main === module) {
  process.once('message', (load) => void run(load as AckLoad).then((result) => process.send!(result)));
}
