/** `npm start` on a fresh machine, before any configuration. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runEntry } from './support/processes';

describe('npm start with no .env', () => {
  it('lists what is missing, exits 2, and points to `npm run demo`', async () => {
    const cwd = await mkdtemp(path.join(tmpdir(), 'no-env-'));
    try {
      const run = await runEntry('scripts/start.ts', [], {}, 60_000, cwd);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /ASANA_ACCESS_TOKEN is required/);
      assert.match(run.stderr, /`npm run demo` runs everything against the emulators/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});
