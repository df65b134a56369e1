/**
 * The layering of docs/architecture.md, checked on the source: imports only point down the stack, the layers a
 * browser loads (core, wire, client) import no Node built-in and no native package, and every error the project
 * raises descends from BaseError.
 *
 *   core  <-  wire  <-  storage, p2p, client, chain  <-  roles  <-  node  <-  rpc  <-  cli (src/cli, cmd)
 *   explorer (a page's script, browser-safe) imports core, wire and client only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Which layers each layer may import from (itself included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: ['core'],
  wire: ['core', 'wire'],
  storage: ['core', 'wire', 'storage'],
  p2p: ['core', 'wire', 'p2p'],
  client: ['core', 'wire', 'client'],
  // The slasher reads proofs from nodes through the JSON-RPC client.
  chain: ['core', 'wire', 'client', 'chain'],
  // The explorer page's script (run in browsers; src/rpc serves it bundled, by path, without importing it).
  explorer: ['core', 'wire', 'client', 'explorer'],
  roles: ['core', 'wire', 'storage', 'p2p', 'roles'],
  node: ['core', 'wire', 'storage', 'p2p', 'client', 'chain', 'roles', 'node'],
  rpc: ['core', 'wire', 'roles', 'node', 'rpc'],
  cli: ['core', 'wire', 'storage', 'p2p', 'client', 'chain', 'roles', 'node', 'rpc', 'cli'],
};

/** Layers that must run in a browser: no Node built-ins, no native bindings. */
const BROWSER_SAFE = new Set(['core', 'wire', 'client', 'explorer']);
/** The one place native code may enter them: the Node crypto backend, chosen by the package's import conditions. */
const NATIVE_BACKEND = /^src\/core\/crypto\/native[^/]*\.ts$/;
const NATIVE_PACKAGES = new Set(['secp256k1', 'keccak', 'classic-level', '@chainsafe/hashtree']);

function layerOf(file: string): string | undefined {
  if (file.startsWith('cmd/')) return 'cli';
  const m = /^src\/([^/]+)\//.exec(file);
  return m ? m[1] : undefined;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Module specifiers of every static import, re-export and dynamic import in a file. */
function specifiers(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

const files = [...sourceFiles('src'), ...sourceFiles('cmd')];

test('every source file belongs to a known layer', () => {
  const unknown = files.filter((f) => !(layerOf(f)! in MAY_IMPORT));
  assert.deepEqual(unknown, [], `files outside the layers of docs/architecture.md: ${unknown.join(', ')}`);
});

test('imports only point down the stack', () => {
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file)!;
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      const to = layerOf(target);
      if (to === undefined || MAY_IMPORT[from]?.includes(to)) continue;
      violations.push(`${file} (${from}) imports ${target} (${to})`);
    }
  }
  assert.deepEqual(violations, [], `upward imports:\n${violations.join('\n')}`);
});

test('core, wire and client import no Node built-in and no native package (browser-safe)', () => {
  const violations: string[] = [];
  for (const file of files) {
    if (!BROWSER_SAFE.has(layerOf(file)!) || NATIVE_BACKEND.test(file)) continue;
    for (const spec of specifiers(file)) {
      if (spec.startsWith('node:') || NATIVE_PACKAGES.has(spec)) violations.push(`${file} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, [], `not browser-safe:\n${violations.join('\n')}`);
});

test('every error the project raises descends from BaseError (src/core/errors.ts)', () => {
  const violations: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/throw new (Error|RangeError|TypeError|SyntaxError)\(/g)) violations.push(`${file}: throw new ${m[1]}`);
    for (const m of text.matchAll(/class (\w+) extends (Error|RangeError|TypeError)\b/g)) {
      if (!(file === 'src/core/errors.ts' && m[1] === 'BaseError')) violations.push(`${file}: class ${m[1]} extends ${m[2]}`);
    }
  }
  assert.deepEqual(violations, [], `errors outside the BaseError tree:\n${violations.join('\n')}`);
});

test('the checker sees imports: a known downward import is found', () => {
  // Guards the regex itself: if it stopped matching, every check above would pass vacuously.
  assert.ok(specifiers('src/core/entry.ts').some((s) => s === './hash.ts'));
  assert.ok(files.length > 40);
});
