/**
 * The core in a browser: bundled by esbuild for the browser platform (scripts/browser-bundle.ts), it takes the
 * pure-JavaScript crypto backend, pulls in no Node-only module, and verifies every test vector in headless
 * Chromium (Debian's /usr/bin/chromium driven by playwright-core; never a downloaded browser). The client SDK,
 * built on the core, must bundle the same way.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundleForBrowser, NODE_ONLY_PACKAGES, type BrowserBundle } from '../../scripts/browser-bundle.ts';
import { checkVectors, type VectorReport } from './vector-checks.ts';

const ENTRY = fileURLToPath(new URL('./entry.ts', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

describe('browser bundle of the core', () => {
  let bundle: BrowserBundle;
  before(async () => {
    bundle = await bundleForBrowser(ENTRY);
  });

  test('takes the pure-JS crypto backend and no Node-only module', () => {
    const inputs = Object.keys(bundle.metafile.inputs);
    assert.ok(inputs.includes('src/core/crypto/noble.ts'), 'the noble backend is in');
    assert.ok(!inputs.includes('src/core/crypto/native.ts'), 'the native backend is out');
    assert.ok(inputs.some((p) => p.startsWith('node_modules/@noble/curves/')));
    for (const name of NODE_ONLY_PACKAGES) {
      assert.ok(!inputs.some((p) => p.startsWith(`node_modules/${name}/`)), `${name} is not in the bundle`);
    }
  });

  test('the client SDK (src/client) bundles for browsers too', async () => {
    const dir = new URL('../../src/client/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 0);
    for (const f of files) await bundleForBrowser(fileURLToPath(new URL(f, dir)));
  });

  test('the build fails on anything that pulls in a native or Node-only module', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'browser-bundle-'));
    try {
      for (const name of ['secp256k1', 'keccak', 'node:crypto', 'classic-level', '@chainsafe/hashtree']) {
        const entry = join(dir, `${name.replace(/[^a-z]/g, '_')}.ts`);
        writeFileSync(entry, `import ${JSON.stringify(name)};\n`);
        await assert.rejects(bundleForBrowser(entry), new RegExp(`"${name}" is Node-only`), name);
      }
      // And through the real import graph: the native backend, bundled on its own, is refused.
      await assert.rejects(bundleForBrowser(fileURLToPath(new URL('../../src/core/crypto/native.ts', import.meta.url))), /is Node-only/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('in headless Chromium', () => {
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    after(async () => {
      await browser?.close();
    });

    test('verifies every test vector', async (t) => {
      if (!existsSync(CHROMIUM)) {
        t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
        return;
      }
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.addScriptTag({ content: bundle.code });
      const report = await page.evaluate(() => (globalThis as { vectorReport?: VectorReport }).vectorReport);
      assert.deepEqual(pageErrors, []);
      assert.equal(await page.evaluate(() => typeof (globalThis as { Buffer?: unknown }).Buffer), 'undefined', 'a real browser: no Buffer');
      assert.ok(report, 'the page produced a report');
      assert.equal(report.backend, 'noble');
      assert.deepEqual(report.failures, []);
      assert.equal(report.checked, checkVectors().checked, 'the page made every check that Node makes');
    });
  });
});
