/**
 * LogStore.truncate (docs/protocol.md §Storage layout, §View change): the tentative batches above a height go, with
 * their sequence and nonce records, in one synced write; the tip becomes the kept batch's; never below the final
 * height. A real LevelDB in a temporary directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENESIS_TIP, decodeBatch, encodeBatch, nonceKey, sealBatch, type Tip } from '../src/core/batch.ts';
import { toHex } from '../src/core/bytes.ts';
import { submissionDigest } from '../src/core/submission.ts';
import { LogStore, StoreTruncateError } from '../src/storage/log-store.ts';
import { PRIMARY_RULES } from './helpers/equivocator.ts';
import { PRIMARY_KEY, SEPARATOR, clientSigner, tempDir } from './helpers/network.ts';

const signer = clientSigner();
/** A tip with its hashes in hex (the store hands out Buffers, the sealer Uint8Arrays). */
const hexTip = (t: Tip | undefined) => t && { ...t, headerHash: toHex(t.headerHash), headHash: toHex(t.headHash) };

/** Appends a batch of one submission with `nonce` on the store's tip; returns the new tip and the nonce key. */
async function appendOne(store: LogStore, nonce: bigint): Promise<{ tip: Tip; key: Uint8Array }> {
  const s = signer.sign({ nonce, transactions: [new TextEncoder().encode(`tx ${nonce}`)] });
  const prevTip = store.tip;
  const sealed = sealBatch(PRIMARY_RULES, prevTip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], 1_700_000_000_000 + Number(nonce), PRIMARY_KEY);
  const key = nonceKey(s.sender, s.nonce);
  await store.append({ bytes: encodeBatch(sealed.batch), prevTip, tip: sealed.tip, nonceKeys: [key] });
  return { tip: sealed.tip, key };
}

test('truncate removes the batches above a height with their nonce and sequence records, in one write that survives a restart', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const path = join(dir.path, 'db');
  let store = await LogStore.open(path, 'test log');
  const appended = [];
  for (let i = 0n; i < 5n; i++) appended.push(await appendOne(store, 100n + i));
  let truncatedTo: Tip | undefined;
  store.onTruncated((tip) => { truncatedTo = tip; });
  await store.truncate(2);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'the tip is the one recorded after batch 2');
  assert.deepEqual(hexTip(truncatedTo), hexTip(appended[2].tip));
  assert.equal(await store.getBatch(3), undefined);
  assert.equal(await store.getBatch(4), undefined);
  assert.ok(await store.getBatch(2));
  assert.deepEqual(await store.nonceHeights(appended.map((a) => a.key)), [0, 1, 2, undefined, undefined]);
  assert.equal(await store.heightOfSeq(3), undefined);
  assert.equal(await store.heightOfSeq(2), 2);
  // A removed nonce may be used again, at the height now free.
  const again = await appendOne(store, 103n);
  assert.equal(again.tip.height, 3);
  await store.close();
  store = await LogStore.open(path, 'test log');
  t.after(() => store.close());
  assert.deepEqual(hexTip(store.tip), hexTip(again.tip));
  assert.equal(decodeBatch((await store.getBatch(3))!.bytes).submissions[0].nonce, 103n);
  await store.truncate(-1);
  assert.deepEqual(hexTip(store.tip), hexTip(GENESIS_TIP));
  assert.deepEqual(await store.nonceHeights([appended[0].key]), [undefined]);
});

test('truncate refuses to remove a final batch and changes nothing; at or above the tip it does nothing', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const store = await LogStore.open(join(dir.path, 'db'), 'test log');
  t.after(() => store.close());
  const appended = [];
  for (let i = 0n; i < 4n; i++) appended.push(await appendOne(store, 200n + i));
  await store.markFinal({ height: 2, headerHash: appended[2].tip.headerHash }, new Uint8Array(1));
  await assert.rejects(store.truncate(1), StoreTruncateError);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[3].tip));
  assert.ok(await store.getBatch(3));
  await store.truncate(3);
  await store.truncate(9);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[3].tip));
  await store.truncate(2);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'down to the final height is allowed');
});
