/** Runs the service's entry points (and CLIs like `temporal`) as real processes, as an operator would. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { readEnv } from '../../config';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const REPO = path.resolve(__dirname, '..', '..');

/** Only the machine's PATH and HOME pass through: each test says every variable it means. */
function processEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: readEnv().PATH ?? '', HOME: readEnv().HOME ?? '/tmp', TS_NODE_TRANSPILE_ONLY: 'true', ...env };
}

export function run(file: string, args: string[], env: Record<string, string> = {}, timeoutMs?: number, cwd = REPO): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: processEnv(env), cwd, timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

/** Runs a TypeScript entry point of the repo (`cli/main.ts`, `worker/main.ts`) to its end, in `cwd` (the repo by default). */
export function runEntry(entry: string, args: string[], env: Record<string, string> = {}, timeoutMs?: number, cwd = REPO): Promise<Run> {
  const tsNode = { TS_NODE_PROJECT: path.join(REPO, 'tsconfig.json'), ...env };
  return run(process.execPath, ['-r', require.resolve('ts-node/register'), path.join(REPO, entry), ...args], tsNode, timeoutMs, cwd);
}

/** Starts a TypeScript entry point of the repo that keeps running (`worker/main.ts`), with Node's own flags if given. */
export function spawnEntry(entry: string, env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, '-r', 'ts-node/register', entry], { env: processEnv(env), cwd: REPO, stdio: 'ignore' });
}
