#!/usr/bin/env node
// The CLI's entry (`npm run cli`, bin asana-airtable-sync): it runs the compiled JavaScript in dist/.
// In a checkout with the TypeScript compiler, sources newer than the last build are compiled first,
// so `npm run cli` is always today's code; an image pruned of dev dependencies runs dist/ as built.
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const project = path.join(root, 'tsconfig.build.json');
const compiled = path.join(root, 'dist', 'cli', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

/** Whether any source the build compiles (tsconfig.build.json's folders) is newer than the CLI's build. */
function stale() {
  if (!existsSync(compiled)) return true;
  const built = statSync(compiled).mtimeMs;
  const folders = JSON.parse(readFileSync(project, 'utf8')).include;
  return statSync(project).mtimeMs > built || folders.some((folder) => newestSource(path.join(root, folder)) > built);
}

function compiler() {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return undefined; // dev dependencies pruned: dist/ is what was built
  }
}

if (stale()) {
  const tsc = compiler();
  if (tsc === undefined) {
    console.error('warning: the sources are newer than dist/ and there is no TypeScript compiler here: running dist/ as built.');
  } else {
    const build = spawnSync(process.execPath, [tsc, '-p', project, '--noEmitOnError'], { stdio: 'inherit' });
    if (build.status !== 0) {
      console.error('The CLI does not compile (above); dist/ is left as it was.');
      process.exit(2);
    }
  }
}
if (!existsSync(compiled)) {
  console.error('The CLI is not built: run `npm run build` first.');
  process.exit(2);
}
require(compiled).main();
