/**
 * The explorer (docs/explorer.md) on a log of four validators (in-process nodes, real libp2p and LevelDB), in headless
 * Chromium: it verifies the batches and their finality certificates against the validator set, lists the four
 * validators with their votes, and when the leader of view 0 stops, shows the view change it read from a verified
 * header of view 1 (not the node's word), with nothing flagged as unverified. (Soft batches a view change replaces end
 * the SDK's soft stream with EntriesReplacedError, which the page handles by dropping them: test/sdk-view-change.test.ts
 * covers the SDK side.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { clientSigner, waitFor } from '../helpers/network.ts';
import { startNet, stopValidator } from '../helpers/validators.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

test('the explorer on four validators: certificates checked against the set, and a view change read from a verified header', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
    return;
  }
  const net = await startNet(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(() => browser.close());
  mkdirSync(ARTIFACTS, { recursive: true });
  const client = clientSigner();
  let nonce = 1n;
  const append = (via: number) => net.nodes[via]!.append(client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] }));
  for (let i = 0; i < 3; i++) await append(1);

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${net.nodes[1]!.rpcUrl}/explorer`); // a validator that stays up (the observer peers with the leader only)
  const text = (selector: string) => page.locator(selector).innerText();
  await waitFor(async () => Number(await text('#finalized-height')) >= 2, 10_000, 'the page to show a final height');
  assert.match(await text('#finalized-sub'), /certificate checked: [34] of 4 validators \(quorum 3\)/);
  assert.equal(await page.locator('#validators tr, #validators li, #validators .validator').count() >= 4, true, 'the four validators listed');

  // The leader of view 0 stops while a client's append waits: the others time it out, and view 1's leader (validator
  // 1, whose page this is) sequences it. The client retries the same signed submission (never sequenced twice).
  await stopValidator(net, 0);
  const submission = client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode('in the new view')] });
  let after;
  for (const deadline = Date.now() + 30_000; !after;) {
    try {
      after = await net.nodes[1]!.append(submission);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.ok(after.header.view >= 1);
  await page.locator('#timeline tr.view-change').first().waitFor({ timeout: 20_000 });
  await waitFor(async () => /view change 0 → [1-9][\s\S]*✓ header signed by the new view's leader/.test(await text('#timeline')), 20_000, 'the view change read from a verified header');
  await waitFor(async () => Number(await text('#view')) >= 1, 10_000, 'the page in the new view');
  assert.equal(await page.locator('#banner.shown').count(), 0, `nothing flagged: ${await text('#banner').catch(() => '')}`);
  await page.screenshot({ path: join(ARTIFACTS, 'explorer-view-change.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});
