/**
 * Finds a Temporal CLI (which carries the dev server and Web UI), in this order:
 *   1. TEMPORAL_CLI_PATH, 2. `temporal` on PATH, 3. the repo's cached .temporal/bin/temporal,
 *   4. a build of it with `go install` (needs Go and its module proxy),
 *   5. the SDK's own download (needs internet), chosen when none of the above is possible.
 * Idempotent: once built, step 3 answers at once.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing/lib/ephemeral-server';
import { readEnv, searchPath, temporalCliOverride } from '../config';
import { REPO_ROOT } from './runtime-paths';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const CACHED_CLI_DIR = path.join(REPO_ROOT, '.temporal', 'bin');

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  return searchPath()
    .map((dir) => path.join(dir, name))
    .find(isExecutable);
}

function goInstall(module: string, targetDir: string): boolean {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (go === undefined) return false;
  mkdirSync(targetDir, { recursive: true });
  process.stderr.write(`Building ${module} into ${targetDir} (first time only; takes a few minutes)...\n`);
  const result = spawnSync(go, ['install', module], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...readEnv(), GOBIN: targetDir, CGO_ENABLED: '0' },
  });
  return result.status === 0;
}

/** Returns a binary's path (building it if need be), or undefined when only the SDK download is left. */
export function findOrBuild(binary: string, module: string, override?: string): string | undefined {
  if (override !== undefined) {
    if (!isExecutable(override)) throw new Error(`${binary} at "${override}" does not exist or is not executable`);
    return override;
  }
  const cached = path.join(CACHED_CLI_DIR, binary);
  const found = onPath(binary) ?? (isExecutable(cached) ? cached : undefined);
  if (found !== undefined) return found;
  return goInstall(module, CACHED_CLI_DIR) && isExecutable(cached) ? cached : undefined;
}

export function temporalExecutable(): EphemeralServerExecutable {
  const found = findOrBuild('temporal', TEMPORAL_CLI_MODULE, temporalCliOverride());
  return found === undefined ? { type: 'cached-download' } : { type: 'existing-path', path: found };
}
