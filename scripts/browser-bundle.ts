/**
 * Bundles an entry that imports the core for browsers (esbuild, platform "browser"): package.json `#crypto`
 * then resolves to the pure-JavaScript backend (src/core/crypto/noble.ts). The build fails, naming the importer,
 * if anything reaches a Node-only module (a Node built-in, a native addon, LevelDB): that is the check that the
 * core stays browser-capable. test/browser/core-in-browser.test.ts runs the result in headless Chromium.
 *
 *   node scripts/browser-bundle.ts ENTRY.ts OUT.js
 */
import { isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Packages that load native code or need Node's I/O: the browser build must never pull them in. */
export const NODE_ONLY_PACKAGES: readonly string[] = ['secp256k1', 'keccak', 'classic-level', '@chainsafe/hashtree', 'node-gyp-build'];

/** The package an import specifier names: `@scope/name` or `name`, without any subpath. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Fails the build on the first import of a Node built-in or of a NODE_ONLY_PACKAGES package. */
const refuseNodeOnly: Plugin = {
  name: 'refuse-node-only',
  setup(b) {
    b.onResolve({ filter: /^[^./#]/ }, (args) => {
      if (!isBuiltin(args.path) && !NODE_ONLY_PACKAGES.includes(packageName(args.path))) return undefined;
      return { errors: [{ text: `"${args.path}" is Node-only and must not be in a browser build (imported by ${args.importer})` }] };
    });
  },
};

export interface BrowserBundle {
  /** The bundle, an immediately invoked script for a <script> tag. */
  readonly code: string;
  /** esbuild's record of every input file (paths relative to the project root), to check what went in. */
  readonly metafile: Metafile;
}

export async function bundleForBrowser(entryPoint: string): Promise<BrowserBundle> {
  const result = await build({
    entryPoints: [entryPoint],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [refuseNodeOnly],
  });
  return { code: result.outputFiles[0].text, metafile: result.metafile };
}

if (import.meta.main) {
  const [entry, out] = process.argv.slice(2);
  if (!entry || !out) {
    console.error('usage: node scripts/browser-bundle.ts ENTRY.ts OUT.js');
    process.exit(2);
  }
  const { writeFileSync } = await import('node:fs');
  const { code } = await bundleForBrowser(entry);
  writeFileSync(out, code);
  console.log(`${out}: ${code.length} bytes`);
}
