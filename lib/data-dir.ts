/**
 * DATA_DIR holds the webhook secrets, the journal and the embedded Temporal database: whoever can
 * read it can sign deliveries and read task data, so it is the service user's alone.
 */
import { mkdirSync, statSync } from 'node:fs';
import type { Logger } from './logger';

/** What makes an existing DATA_DIR reachable by others than `uid`: group or other permissions, another owner. */
export function dataDirProblems(dir: string, uid: number | undefined): string[] {
  const { mode, uid: owner } = statSync(dir);
  const problems: string[] = [];
  if ((mode & 0o077) !== 0) problems.push(`mode ${(mode & 0o777).toString(8)}: its group or other users can reach it`);
  if (uid !== undefined && owner !== uid) problems.push(`owned by uid ${owner}, not by uid ${uid} that runs the service`);
  return problems;
}

/** Creates DATA_DIR 0700, or warns when the one that exists is not private to this process's user. */
export function prepareDataDir(dir: string, log: Logger): void {
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) return;
  const problems = dataDirProblems(dir, process.getuid?.());
  if (problems.length > 0) {
    log.warn(
      { dataDir: dir, problems },
      'DATA_DIR holds the webhook secrets, the journal and the Temporal database, and others can reach it: make it 0700 and owned by the service user (docs/security.md)',
    );
  }
}
