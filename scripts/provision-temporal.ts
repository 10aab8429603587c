/**
 * `npm run provision`: finds or builds the Temporal CLI, tctl and the Temporal server for
 * PostgreSQL, and says which; one message and exit 1 when there is no Temporal CLI. tctl and the
 * server are optional: their tests say why they skip without them.
 */
import { execFileSync } from 'node:child_process';
import { serverBinaries } from '../temporal/postgres-temporal';
import { tctlExecutable, temporalExecutable } from '../temporal/temporal-cli';

try {
  const executable = temporalExecutable();
  if (executable.type === 'existing-path') {
    const version = execFileSync(executable.path, ['--version'], { encoding: 'utf8' }).trim();
    console.log(`Temporal CLI: ${executable.path} (${version})`);
  } else {
    console.log(
      'No Temporal CLI found and no Go to build one: the Temporal SDK will download the dev server at first use (needs internet).',
    );
  }
} catch (err) {
  console.error(
    `Cannot provide a Temporal CLI: ${(err as Error).message}.\n` +
      'Set TEMPORAL_CLI_PATH to a `temporal` binary, put one on PATH, or install Go so it can be built.',
  );
  process.exit(1);
}

try {
  const tctl = tctlExecutable();
  if (tctl === undefined) {
    console.log(
      'tctl: none found, and none could be built (set TCTL_PATH to a binary, or TCTL_SOURCE to its source archive); its tests will skip.',
    );
  } else {
    console.log(`tctl: ${tctl} (${execFileSync(tctl, ['--version'], { encoding: 'utf8' }).trim()})`);
  }
} catch (err) {
  console.log(`tctl: unavailable (${(err as Error).message}); its tests will skip.`);
}

// The production server and its schema tool, for the test on PostgreSQL: built here, before the
// tests, so the one-time Go build is not paid inside a test's timeout.
void serverBinaries().then(
  (binaries) =>
    console.log(
      binaries
        ? `Temporal server on PostgreSQL: ${binaries.server}, ${binaries.sql}`
        : 'Temporal server on PostgreSQL: none found, and no Go to build it; its test will skip.',
    ),
  (err: Error) => console.log(`Temporal server on PostgreSQL: unavailable (${err.message}); its test will skip.`),
);
