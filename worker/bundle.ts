/**
 * Bundles the workflow code in a short-lived child process, so webpack's memory is never part of
 * the worker's (it would stay in the worker's heap for its whole life). Run directly, it writes
 * the bundle to the path it is given.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { entryArgs, REPO_ROOT } from '../lib/runtime-paths';

export async function bundleInChildProcess(): Promise<{ codePath: string }> {
  const codePath = path.join(tmpdir(), `asana-airtable-workflows-${randomUUID()}.js`);
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [...entryArgs('worker/bundle.ts'), codePath], { cwd: REPO_ROOT }, (err, _stdout, stderr) =>
      err ? reject(new Error(`bundling the workflows failed: ${stderr || err.message}`)) : resolve(),
    );
  });
  return { codePath };
}

if (require.main === module) {
  const target = process.argv[2];
  const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} };
  bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: silent })
    .then((bundle) => writeFile(target, bundle.code))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
