/**
 * The client SDK in a browser: its library entry (src/client/index.ts) bundled for browsers (pure-JS crypto, no
 * Node module), loaded by a page served from another origin than the node's (so the node's CORS headers are what
 * let it in), follows a live in-process node with watchEntries in headless Chromium (Debian's /usr/bin/chromium
 * through playwright-core), verifying every batch, while the test appends.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundleForBrowser } from '../../scripts/browser-bundle.ts';
import { toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { createSequencerClient } from '../../src/client/index.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, PRIMARY_KEY, startPrimary, tempDir } from '../helpers/network.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

test('watchEntries runs in headless Chromium against a live node: verifies and yields every entry, live', async (t) => {
  const bundle = await bundleForBrowser(fileURLToPath(new URL('./sdk-entry.ts', import.meta.url)));
  const inputs = Object.keys(bundle.metafile.inputs);
  assert.ok(inputs.includes('src/core/crypto/noble.ts') && !inputs.includes('src/core/crypto/native.ts'), 'the pure-JS backend');
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
    return;
  }
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const pageServer = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sdk</title>'));
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await new Promise<void>((resolve) => pageServer.close(() => resolve()));
    await primary.stop();
    await dir.remove();
  });
  const client = createSequencerClient({ url: primary.rpcUrl, logId: LOG_ID, chainId: CHAIN_ID, primary: addressFromPrivateKey(PRIMARY_KEY) });
  const append = async (from: number, to: number) => {
    for (let i = from; i < to; i++) await client.append({ account: { privateKey: CLIENT_KEY }, transactions: [new TextEncoder().encode(`entry ${i}`), new TextEncoder().encode(`entry ${i}b`)] });
  };
  await append(0, 5);

  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`http://127.0.0.1:${(pageServer.address() as AddressInfo).port}/`);
  await page.addScriptTag({ content: bundle.code });
  const N = 30;
  const config = { url: primary.rpcUrl, logId: toHex(LOG_ID), chainId: CHAIN_ID, primary: toHex(addressFromPrivateKey(PRIMARY_KEY)), n: N };
  const watched = page.evaluate(async (c) => {
    type Sdk = typeof import('../../src/client/index.ts');
    const sdk = (globalThis as unknown as { sequencerSdk: Sdk }).sequencerSdk;
    const watcher = sdk.createSequencerClient(c).watchEntries({ fromSeq: 0 });
    const entries: { seq: number; payload: string }[] = [];
    for await (const e of watcher) {
      entries.push({ seq: e.seq, payload: e.payload });
      if (entries.length === c.n) break;
    }
    return { entries, anchor: watcher.anchor, following: watcher.following, hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== 'undefined' };
  }, config);
  await append(5, 15); // live, while the page follows
  const result = await watched;
  assert.deepEqual(pageErrors, []);
  assert.equal(result.hasBuffer, false, 'a real browser: no Buffer');
  assert.deepEqual(result.entries.map((e) => e.seq), Array.from({ length: N }, (_, i) => i));
  const stored = await client.read({ fromSeq: 0, limit: N });
  assert.deepEqual(result.entries.map((e) => e.payload), stored.map((e) => e.payload));
  assert.equal(result.anchor?.cursor, N);
  assert.equal(result.following, 'push', 'the page followed the node\'s /events stream (CORS let it in)');
});
