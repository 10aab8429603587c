/** `npm start` on a fresh machine, before any configuration, and the files it keeps in DATA_DIR. */
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { dataDirProblems, prepareDataDir } from '../lib/data-dir';
import { startTestServer } from './support/temporal';
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

describe('npm start: DATA_DIR is private', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'data-dir-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const mode = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

  it('creates DATA_DIR 0700, and warns at start when an existing one is open to others or owned by another user', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const fresh = path.join(dir, 'fresh', 'data');
    prepareDataDir(fresh, log);
    assert.equal(await mode(fresh), '700');
    prepareDataDir(fresh, log);
    assert.deepEqual(lines, [], 'nothing to say of a private DATA_DIR');

    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o755);
    prepareDataDir(open, log);
    assert.equal(lines.length, 1);
    assert.deepEqual((JSON.parse(lines[0]) as { problems: string[] }).problems, ['mode 755: its group or other users can reach it']);
    const uid = (await stat(fresh)).uid;
    assert.deepEqual(dataDirProblems(fresh, uid + 1), [`owned by uid ${uid}, not by uid ${uid + 1} that runs the service`]);
  });

  it('keeps the embedded Temporal database and its journal files 0600, an older 0644 database included', async function () {
    this.timeout(60_000);
    const dbFilename = path.join(dir, 'temporal.db');
    for (const round of ['new', 'older']) {
      const server = await startTestServer({ dbFilename });
      try {
        await server.env.client.workflow.start('anyWorkflow', { taskQueue: 'none', workflowId: round });
        const modes = await Promise.all((await readdir(dir)).map(async (file) => `${file} ${await mode(path.join(dir, file))}`));
        assert.ok(modes.length > 0 && modes.every((m) => m.endsWith(' 600')), `${round}: ${modes.join(', ')}`);
      } finally {
        await server.stop();
      }
      await chmod(dbFilename, 0o644);
    }
  });
});
