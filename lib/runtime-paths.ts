/**
 * The code runs either from its sources (ts-node: tests, development) or compiled into dist/
 * (npm start, npm run bench, the Docker image). Paths to the repo and to our own entry points
 * are worked out here, the same way for both.
 */
import path from 'node:path';

const compiled = !__filename.endsWith('.ts');

/** The folder of package.json. */
export const REPO_ROOT = path.resolve(__dirname, compiled ? '../..' : '..');

/** What node needs before our code to run it the way this process runs: ts-node, or nothing. */
export const LOADER_ARGS: string[] = compiled ? [] : ['-r', 'ts-node/register/transpile-only'];

/** Node's arguments to run one of our entry points (its source path, e.g. 'worker/main.ts') the way this process runs. */
export function entryArgs(sourcePath: string): string[] {
  return [...LOADER_ARGS, compiled ? path.join(REPO_ROOT, 'dist', sourcePath.replace(/\.ts$/, '.js')) : path.join(REPO_ROOT, sourcePath)];
}
