#!/usr/bin/env node
// The CLI's entry (`npm run cli`, bin asana-airtable-sync): it runs the compiled JavaScript in dist/.
// In a checkout with the TypeScript compiler, sources newer than the last build are compiled first,
// so `npm run cli` is always today's code; an image pruned of dev dependencies runs dist/ as built.
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const compiled = path.join(root, 'dist', 'cli', 'main.js');
const SOURCE_DIRS = ['activities', 'cli', 'config', 'lib', 'workflows'];

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(file).mtimeMs);
  }
  return newest;
}

function compiler() {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return undefined; // dev dependencies pruned: dist/ is what was built
  }
}

const tsc = compiler();
const stale = () => !existsSync(compiled) || SOURCE_DIRS.some((dir) => newestSource(path.join(root, dir)) > statSync(compiled).mtimeMs);
if (tsc && stale()) execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (!existsSync(compiled)) {
  console.error('The CLI is not built: run `npm run build` first.');
  process.exit(2);
}
require(compiled).main();
