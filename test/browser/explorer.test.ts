/**
 * The explorer (docs/explorer.md) in headless Chromium (Debian's /usr/bin/chromium through playwright-core), served
 * by a replica of a live in-process primary + replica: the page loads (a browser's GET / is sent to it), verifies
 * and shows the head advancing while the test appends, looks up an entry and shows its proof verified, lists an
 * equivocation the replica caught with its proof checked in the browser (and the halt as the validator's health), each
 * batch's time to final and the validator's last vote; through a node that adds validators' vote proofs (one forged)
 * and states a later view, the timeline lists both proofs (the forged one refused, with the banner) and the view
 * change; pointed at a node that tampers with what it serves (test/helpers/rpc-proxy.ts), it raises the not-verified
 * banner. The screenshots are kept in test-artifacts/ (explorer.png, explorer-timeline.png, explorer-tampered.png).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createSequencerClient } from '../../src/client/index.ts';
import { fromHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { RpcClient } from '../../src/client/rpc-client.ts';
import type { BatchJson, EntryProofJson, InfoJson, VerifyReceiptJson } from '../../src/wire/rpc-types.ts';
import { compareBytes } from '../../src/core/bytes.ts';
import { digestOfVote, signVoteUnchecked, VoteKind } from '../../src/core/vote.ts';
import { voteProofToJson } from '../../src/wire/vote-proof-json.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, PRIMARY_KEY, startPrimary, startReplica, tempDir, waitFor } from '../helpers/network.ts';
import { batchOnTip, PRIMARY_RULES, receiptOf } from '../helpers/equivocator.ts';
import { startRpcProxy } from '../helpers/rpc-proxy.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

/** A valid vote-conflict proof (docs/protocol.md §Equivocation proofs, kind 3): the primary's commit votes for two headers at height 0. */
function voteConflict() {
  const votes = [1, 2].map((b) => signVoteUnchecked(PRIMARY_RULES, { kind: VoteKind.commit, view: 0, height: 0, headerHash: new Uint8Array(32).fill(b) }, PRIMARY_KEY))
    .sort((x, y) => compareBytes(digestOfVote(PRIMARY_RULES, x), digestOfVote(PRIMARY_RULES, y)));
  const scope = { chainId: CHAIN_ID, logId: LOG_ID, membershipHash: PRIMARY_RULES.membership.hash };
  return { ...voteProofToJson(scope, { kind: 'vote-conflict', signer: addressFromPrivateKey(PRIMARY_KEY), a: votes[0], b: votes[1] }), calldata: '0x' };
}

test('the explorer shows the live log verified in Chromium, verifies an entry\'s proof, and flags a tampering node', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`);
    return;
  }
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  // Tampers with every batch and proof it relays: the first transaction's payload is changed.
  const liar = await startRpcProxy(replica.rpcUrl, (method, _params, result) => {
    if (method === 'sequencer_getBatch' && result) {
      const b = structuredClone(result) as BatchJson;
      b.submissions[0].transactions[0] = '0x6c6965'; // 'lie'
      return b;
    }
    if (method === 'sequencer_getProof' && result) return { ...(result as EntryProofJson), entry: { ...(result as EntryProofJson).entry, payload: '0x6c6965' } };
    return result;
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await liar.close();
    await replica.stop();
    await primary.stop();
    await dir.remove();
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  const client = createSequencerClient({ url: primary.rpcUrl, logId: LOG_ID, chainId: CHAIN_ID, primary: addressFromPrivateKey(PRIMARY_KEY) });
  let appended = 0;
  const append = async (batches: number) => {
    for (let i = 0; i < batches; i++, appended++) {
      await client.append({ account: { privateKey: CLIENT_KEY }, transactions: [new TextEncoder().encode(`hello ${appended}`), new TextEncoder().encode(`world ${appended}`)] });
    }
  };
  await append(3);
  await waitFor(() => replica.info().height === primary.info().height, 10_000, 'the replica to catch up');

  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${replica.rpcUrl}/`);
  assert.ok(page.url().endsWith('/explorer'), `a browser asking for / is sent to the explorer (${page.url()})`);
  const text = (selector: string) => page.locator(selector).innerText();
  const verifiedHeight = async () => Number(await text('#verified-height'));

  await waitFor(async () => (await verifiedHeight()) === primary.info().height, 8_000, 'the page to verify the head');
  assert.equal(await page.locator('#batches tr').count(), 3, 'every batch listed, each verified');
  // The primary alone is the validator set: each batch is final once stored; the page shows it with its certificate.
  await waitFor(async () => (await text('#finalized-height')) === String(primary.info().finalizedHeight), 8_000, 'the page to show the final height');
  assert.match(await text('#finalized-sub'), /certificate checked: 1 of 1 validators/);
  assert.match(await text('#leader'), new RegExp(addressFromPrivateKey(PRIMARY_KEY).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '0x'), 'i'));
  assert.match(await text('#validators'), /leader of view 0[\s\S]*ok/);
  // Each validator's last vote as the node counted it, and each listed batch's time to final once its certificate checked.
  assert.match(await text('#validators .last-vote'), /(lock|commit) · height \d+ · view 0/);
  await waitFor(async () => (await page.locator('#batches .time-to-final .ok').count()) === 3, 8_000, 'every listed batch shown final');
  assert.match(await text('#batches tr:first-child .time-to-final'), /✓ (\d+ ms|[\d.]+ s)/);

  // Live: the head the page shows advances while the test appends.
  const before = await verifiedHeight();
  await append(3);
  await waitFor(async () => Number(await text('#head-height')) === before + 3 && (await verifiedHeight()) === before + 3, 8_000, 'the page to follow the new batches');
  assert.equal(await page.locator('#batches tr').count(), 6);
  assert.equal(await page.locator('#banner.shown').count(), 0, 'nothing failed to verify');

  await page.fill('#lookup-seq', '3');
  await page.click('#lookup-form button');
  await page.locator('#proof-status').waitFor({ timeout: 5_000 });
  assert.match(await text('#proof-status'), /proof verified/);
  assert.match(await text('#lookup-result'), /"world 1"/);

  // An equivocation: a second header for the head's height, signed with the primary's key, shown to the replica in a
  // receipt. The page lists the replica's proof, checked in the browser, and the replica's halt as its health.
  const below = await client.getBatch(before + 2);
  const tip = { height: below.header.height, headerHash: fromHex(below.headerHash), nextSeq: below.header.firstSeq + below.header.count, headHash: fromHex(below.header.headHash), timestamp: below.header.timestamp };
  const answer = await new RpcClient(replica.rpcUrl).call<VerifyReceiptJson>('sequencer_verifyReceipt', [receiptOf(batchOnTip(tip, 'the other story'), tip.headHash)]);
  assert.equal(answer.status, 'conflict');
  await page.locator('#timeline tbody tr.equivocation').waitFor({ timeout: 5_000 });
  assert.match(await text('#timeline'), new RegExp(`conflict[\\s\\S]*height ${before + 3} / ${before + 3}[\\s\\S]*both signatures verified`));
  await page.locator('#validators .pill.bad').waitFor({ timeout: 5_000 });
  assert.equal(await page.locator('#banner.shown').count(), 0, 'a valid proof is evidence, not a verification failure');
  await page.screenshot({ path: join(ARTIFACTS, 'explorer.png'), fullPage: true });

  // A validator's proofs and view changes in the timeline, through a node that adds two vote-conflict proofs of the
  // primary (one valid, one with a forged signature) and, once told, states a later view.
  const witness = await startRpcProxy(replica.rpcUrl, (method, _params, result) => {
    if (method === 'sequencer_getEquivocations') return [...(result as unknown[]), voteConflict(), { ...voteConflict(), b: { ...voteConflict().b, signature: `0x${'11'.repeat(64)}1b` } }];
    if (method === 'sequencer_info') return { ...(result as InfoJson), equivocations: (result as InfoJson).equivocations + 2, ...(viewMoved ? { view: 1 } : {}) };
    return result;
  });
  t.after(() => witness.close());
  let viewMoved = false;
  const timeline = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  timeline.on('pageerror', (e) => pageErrors.push(e.message));
  await timeline.goto(`${replica.rpcUrl}/explorer?rpc=${encodeURIComponent(witness.url)}`);
  await timeline.locator('#timeline tr.equivocation').nth(2).waitFor({ timeout: 5_000 });
  const proofRows = await timeline.locator('#timeline tr.equivocation').allInnerTexts();
  assert.equal(proofRows.filter((r) => /vote-conflict[\s\S]*commit vote, height 0, view 0[\s\S]*both signatures verified/.test(r)).length, 1, 'the valid vote proof checked');
  assert.equal(proofRows.filter((r) => /vote-conflict[\s\S]*✗/.test(r)).length, 1, 'the forged one refused');
  assert.match(await timeline.locator('#banner').innerText(), /an equivocation proof the node holds: VerificationError/);
  viewMoved = true;
  await timeline.locator('#timeline tr.view-change').waitFor({ timeout: 5_000 });
  assert.match(await timeline.locator('#timeline tr.view-change').innerText(), /view change 0 → 1[\s\S]*as the node states it/);
  assert.equal(await timeline.locator('#view').innerText(), '1');
  assert.match(await timeline.locator('#leader').innerText(), /as the node states it \(last verified header: view 0\)/);
  await timeline.screenshot({ path: join(ARTIFACTS, 'explorer-timeline.png'), fullPage: true });
  await timeline.close();

  // The same page pointed at a node that tampers with what it relays: the banner says what did not verify.
  const tampered = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  tampered.on('pageerror', (e) => pageErrors.push(e.message));
  await tampered.goto(`${replica.rpcUrl}/explorer?rpc=${encodeURIComponent(liar.url)}`);
  await tampered.locator('#banner.shown').waitFor({ timeout: 5_000 });
  assert.match(await tampered.locator('#banner').innerText(), /Not verified[\s\S]*a batch served by the node: VerificationError/);
  assert.equal(await tampered.locator('#batches tr').count(), 0, 'nothing unverified is listed');
  await tampered.fill('#lookup-seq', '0');
  await tampered.click('#lookup-form button');
  await tampered.locator('#proof-status').waitFor({ timeout: 5_000 });
  assert.match(await tampered.locator('#proof-status').innerText(), /NOT verified/);
  assert.match(await tampered.locator('#banner').innerText(), /the inclusion proof of entry 0: VerificationError/);
  await tampered.screenshot({ path: join(ARTIFACTS, 'explorer-tampered.png'), fullPage: true });
  assert.deepEqual(pageErrors, []);
});
