/**
 * Finds a Temporal CLI (which carries the dev server and Web UI), in this order:
 *   1. TEMPORAL_CLI_PATH, 2. `temporal` on PATH, 3. the repo's cached .temporal/bin/temporal,
 *   4. a build of it with `go install` (needs Go and its module proxy),
 *   5. the SDK's own download (needs internet), chosen when none of the above is possible.
 * And tctl, the older CLI, the same way (TCTL_PATH, PATH, .temporal/bin/tctl, `go install`), then
 * 5. a build from the source archive TCTL_SOURCE names (the module proxy may refuse tctl).
 * Idempotent: once built, step 3 answers at once.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing/lib/ephemeral-server';
import { readEnv, searchPath, tctlSources, temporalCliOverride } from '../config';
import { REPO_ROOT } from '../lib/runtime-paths';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
export const TCTL_MODULE = 'github.com/temporalio/tctl/cmd/tctl@v1.18.4';
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

function goBinary(): string | undefined {
  return onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

function goInstall(module: string, targetDir: string): boolean {
  const go = goBinary();
  if (go === undefined) return false;
  mkdirSync(targetDir, { recursive: true });
  process.stderr.write(`Building ${module} into ${targetDir} (first time only; takes a few minutes)...\n`);
  const result = spawnSync(go, ['install', module], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...readEnv(), GOBIN: targetDir, CGO_ENABLED: '0' },
  });
  return result.status === 0;
}

/** Builds tctl from a source archive of its repository (tctl-<version>/cmd/tctl inside). */
function buildFromArchive(archive: string, target: string): boolean {
  const go = goBinary();
  if (go === undefined || !existsSync(archive)) return false;
  const dir = mkdtempSync(path.join(tmpdir(), 'tctl-src-'));
  try {
    if (spawnSync('tar', ['xzf', archive, '-C', dir, '--strip-components=1'], { stdio: 'inherit' }).status !== 0) return false;
    mkdirSync(path.dirname(target), { recursive: true });
    process.stderr.write(`Building tctl from ${archive} into ${target} (first time only; takes about four minutes)...\n`);
    const result = spawnSync(go, ['build', '-o', target, './cmd/tctl'], {
      cwd: dir,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...readEnv(), CGO_ENABLED: '0' },
    });
    return result.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

/** tctl's path, built if need be; undefined when no way to get it works here. */
export function tctlExecutable(): string | undefined {
  const { override, sourceArchive } = tctlSources();
  const found = findOrBuild('tctl', TCTL_MODULE, override);
  if (found !== undefined || sourceArchive === undefined) return found;
  const cached = path.join(CACHED_CLI_DIR, 'tctl');
  return buildFromArchive(sourceArchive, cached) && isExecutable(cached) ? cached : undefined;
}

export function temporalExecutable(): EphemeralServerExecutable {
  const found = findOrBuild('temporal', TEMPORAL_CLI_MODULE, temporalCliOverride());
  return found === undefined ? { type: 'cached-download' } : { type: 'existing-path', path: found };
}
