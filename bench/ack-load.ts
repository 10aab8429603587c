/**
 * The acknowledgement scenario's load: signed single-event deliveries at a steady rate, each timed
 * from send to answer. It runs in a worker thread of its own, so that the emulators' work on the
 * bench's main thread (answering the worker's reads and writes) never delays a send or an answer
 * and counts as webhook latency: the figure is the webhook's, as Asana would see it.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { LOADER_ARGS } from '../lib/runtime-paths';
import { signDelivery } from '../sandbox/asana';

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
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run({ url, secret, taskGids, count, perSecond }: AckLoad): Promise<AckResult> {
  const acks: number[] = [];
  const statuses: Record<number, number> = {};
  const sends: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i += 1) {
    const due = start + (i * 1000) / perSecond;
    if (due > performance.now()) await sleep(due - performance.now());
    const event = { user: null, created_at: new Date().toISOString(), action: 'changed', resource: { gid: taskGids[i % taskGids.length], resource_type: 'task', resource_subtype: 'default_task' }, parent: null };
    const body = JSON.stringify({ events: [event] });
    const sent = performance.now();
    sends.push(
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hook-signature': signDelivery(secret, body) }, body }).then(async (response) => {
        await response.arrayBuffer();
        acks.push(performance.now() - sent);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      }),
    );
  }
  await Promise.all(sends);
  return { acks, statuses, perSecond: count / ((performance.now() - start) / 1000) };
}

/** Runs the load in a worker thread and resolves with its timings. */
export function measureAcks(load: AckLoad): Promise<AckResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: load, execArgv: LOADER_ARGS });
    worker.once('message', (result: AckResult) => resolve(result));
    worker.once('error', reject);
  });
}

if (!isMainThread) {
  void run(workerData as AckLoad).then((result) => parentPort!.postMessage(result));
}
