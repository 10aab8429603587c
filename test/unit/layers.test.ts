/**
 * Imports run one way: each folder imports only from its own layer or the ones below, and no
 * file imports itself back through others. A move that breaks it fails here, naming the import.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** Bottom first. Folders of one layer do not import each other. */
const LAYERS = [
  ['config'],
  ['lib', 'rows'],
  ['temporal', 'budgets'],
  ['asana', 'airtable'],
  ['activities', 'emulators'],
  ['workflows'],
  ['client'],
  ['services'],
  ['webhook', 'worker', 'cli'],
  ['scripts', 'bench'],
];
const layerOf = (folder: string) => LAYERS.findIndex((layer) => layer.includes(folder));

function sourceFiles(folder: string): string[] {
  return readdirSync(path.join(ROOT, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
}

/** The repo files a file imports (relative imports only), as repo paths. */
function importsOf(file: string): string[] {
  const source = readFileSync(path.join(ROOT, file), 'utf8');
  const targets = [...source.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)';/gms)].map((m) => m[1]);
  return targets.map((target) => {
    const base = path.join(path.dirname(file), target);
    return (
      [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => {
        try {
          readFileSync(path.join(ROOT, candidate));
          return true;
        } catch {
          return false;
        }
      }) ?? base
    );
  });
}

const files = LAYERS.flat().flatMap(sourceFiles);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const folderOf = (file: string) => file.split(path.sep)[0];

describe('layers', () => {
  it('reads the imports of every source file', () => {
    assert.ok(graph.size > 50, `${graph.size} files`);
    assert.ok(graph.get(path.join('webhook', 'server.ts'))?.includes(path.join('webhook', 'journal.ts')));
  });

  it('lists every source folder in a layer', () => {
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter(
        (e) =>
          e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist', 'data', 'docs', 'test', 'dynamicconfig'].includes(e.name),
      )
      .map((e) => e.name);
    assert.deepEqual(
      folders.filter((folder) => layerOf(folder) === -1),
      [],
    );
  });

  it('imports only from its own folder or a lower layer', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const [from, to] = [folderOf(file), folderOf(target)];
        if (from === to) continue;
        if (layerOf(to) === -1 || layerOf(to) >= layerOf(from)) upward.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});
