/**
 * LogStore.truncate (docs/protocol.md §Storage layout, §View change): the tentative batches above a height go, with
 * their sequence and nonce records, in one synced write; the tip becomes the kept batch's; never at or below the
 * final height; never beside an append in flight. A real LevelDB in a temporary directory, whose every record is
 * compared before and after (read with classic-level directly, the store closed).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { GENESIS_TIP, encodeBatch, nonceKey, sealBatch, type Tip } from '../src/core/batch.ts';
import { toHex } from '../src/core/bytes.ts';
import { submissionDigest } from '../src/core/submission.ts';
import { LogStore, StoreFaultError, StoreTruncateError } from '../src/storage/log-store.ts';
import { PRIMARY_RULES } from './helpers/equivocator.ts';
import { PRIMARY_KEY, SEPARATOR, clientSigner, tempDir, waitFor } from './helpers/network.ts';

const signer = clientSigner();
const IDENTITY = 'truncate test log';
/** A tip with its hashes in hex (the store hands out Buffers, the sealer Uint8Arrays). */
const hexTip = (t: Tip | undefined) => t && { ...t, headerHash: toHex(t.headerHash), headHash: toHex(t.headHash) };

interface Appended {
  readonly tip: Tip;
  readonly bytes: Uint8Array;
  readonly keys: Uint8Array[];
}

/**
 * Appends a batch of two submissions (nonces `nonce` and `nonce + 1`, one and two transactions: three sequence
 * numbers, so sequence numbers and heights differ) on the store's tip.
 */
async function appendOne(store: LogStore, nonce: bigint, label = 'tx'): Promise<Appended> {
  const submissions = [nonce, nonce + 1n].map((n, i) => signer.sign({
    nonce: n, transactions: Array.from({ length: i + 1 }, (_, j) => new TextEncoder().encode(`${label} ${n}.${j}`)),
  }));
  const prevTip = store.tip;
  const admitted = submissions.map((s) => ({ submission: s, digest: submissionDigest(SEPARATOR, s) }));
  const sealed = sealBatch(PRIMARY_RULES, prevTip, admitted, 1_700_000_000_000 + prevTip.height + 1, PRIMARY_KEY);
  const bytes = encodeBatch(sealed.batch);
  const keys = submissions.map((s) => nonceKey(s.sender, s.nonce));
  await store.append({ bytes, prevTip, tip: sealed.tip, nonceKeys: keys });
  return { tip: sealed.tip, bytes, keys };
}

/** A store in a temporary directory (removed after the test) holding `count` batches from nonce `firstNonce` on. */
async function storeWithBatches(t: TestContext, count: number, firstNonce: bigint): Promise<{ path: string; store: LogStore; appended: Appended[] }> {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const path = join(dir.path, 'db');
  const store = await LogStore.open(path, IDENTITY);
  const appended: Appended[] = [];
  for (let i = 0; i < count; i++) appended.push(await appendOne(store, firstNonce + 2n * BigInt(i)));
  return { path, store, appended };
}

/** Every record of the database in `path` (the store closed), as hex key → hex value. */
async function dump(path: string): Promise<Map<string, string>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  try {
    const records = new Map<string, string>();
    for await (const [k, v] of db.iterator()) records.set(toHex(k), toHex(v));
    return records;
  } finally {
    await db.close();
  }
}

/** The heights `heightOfSeq` gives for sequence numbers 0 .. count-1. */
async function seqHeights(store: LogStore, count: number): Promise<(number | undefined)[]> {
  const heights = [];
  for (let seq = 0; seq < count; seq++) heights.push(await store.heightOfSeq(seq));
  return heights;
}

test('truncate removes the batches above a height with their nonce and sequence records, rewrites the tip, and leaves every other record as it was', async (t) => {
  const { path, appended, store: opened } = await storeWithBatches(t, 3, 100n);
  let store = opened;
  // Records of the other kinds: a node record ('E'), a validator's safety record ('V'), a final mark ('M', 'C').
  await store.putRecord(new TextEncoder().encode('a record'), Uint8Array.of(1, 2, 3));
  await store.safetyDatabase.batch([{ type: 'put', key: Uint8Array.of(0x56, 0x7a), value: Uint8Array.of(4, 5) }], { sync: true });
  await store.markFinal({ height: 0, headerHash: appended[0].tip.headerHash }, Uint8Array.of(6));
  await store.close();
  const afterBatch2 = await dump(path);

  store = await LogStore.open(path, IDENTITY);
  for (let i = 3; i < 5; i++) appended.push(await appendOne(store, 100n + 2n * BigInt(i)));
  assert.deepEqual(await seqHeights(store, 15), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
  const truncatedTo: Tip[] = [];
  store.onTruncated((tip) => truncatedTo.push(tip));
  await store.truncate(2);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'the tip is the one recorded after batch 2');
  assert.deepEqual(truncatedTo.map(hexTip), [hexTip(appended[2].tip)], 'the listeners learn the new tip once');
  for (let h = 0; h < 3; h++) assert.equal(toHex((await store.getBatch(h))!.bytes), toHex(appended[h].bytes), `batch ${h} intact`);
  assert.equal(await store.getBatch(3), undefined);
  assert.equal(await store.getBatch(4), undefined);
  // The filter still holds the removed keys, so these lookups read LevelDB, which has no record of them.
  assert.deepEqual(await store.nonceHeights(appended.flatMap((a) => a.keys)), [0, 0, 1, 1, 2, 2, undefined, undefined, undefined, undefined]);
  assert.deepEqual(await seqHeights(store, 15), [0, 0, 0, 1, 1, 1, 2, 2, 2, ...new Array(6).fill(undefined)]);
  await store.close();
  assert.deepEqual(await dump(path), afterBatch2, 'every record is as it was after batch 2 (tip record included), nothing else');

  // Another batch at height 3, re-using a nonce of the removed batch 3: accepted; all of it holds after a reopen.
  store = await LogStore.open(path, IDENTITY);
  t.after(() => store.close());
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip));
  const replacement = await appendOne(store, 107n, 'another');
  assert.notEqual(toHex(replacement.tip.headerHash), toHex(appended[3].tip.headerHash));
  await store.close();
  store = await LogStore.open(path, IDENTITY);
  assert.deepEqual(hexTip(store.tip), hexTip(replacement.tip));
  assert.equal(toHex((await store.getBatch(3))!.bytes), toHex(replacement.bytes));
  assert.equal(await store.getBatch(4), undefined);
  assert.deepEqual(await store.nonceHeights([...appended[3].keys, ...appended[4].keys]), [undefined, 3, 3, undefined], 'nonces 107 and 108 used again at 3');
  assert.deepEqual(await seqHeights(store, 13), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, undefined]);
});

test('truncate to -1 empties the log, for good', async (t) => {
  const { path, appended, store: opened } = await storeWithBatches(t, 3, 300n);
  let store = opened;
  await store.truncate(-1);
  assert.deepEqual(hexTip(store.tip), hexTip(GENESIS_TIP));
  await store.close();
  const records = await dump(path);
  const prefixes = [...records.keys()].map((k) => String.fromCharCode(parseInt(k.slice(2, 4), 16)));
  assert.deepEqual(prefixes.filter((p) => 'BSN'.includes(p)), [], 'no batch, sequence or nonce record is left');
  store = await LogStore.open(path, IDENTITY);
  t.after(() => store.close());
  assert.deepEqual(hexTip(store.tip), hexTip(GENESIS_TIP));
  assert.deepEqual(await store.nonceHeights(appended.flatMap((a) => a.keys)), new Array(6).fill(undefined));
  assert.equal(await store.heightOfSeq(0), undefined);
  const first = await appendOne(store, 300n, 'again');
  assert.equal(first.tip.height, 0);
  assert.deepEqual(await store.nonceHeights(appended[0].keys), [0, 0]);
});

test('truncate refuses to remove a final batch, or to keep below -1, and changes nothing; at or above the tip it does nothing', async (t) => {
  const { path, appended, store: opened } = await storeWithBatches(t, 4, 200n);
  let store = opened;
  await assert.rejects(store.truncate(-2), StoreTruncateError, 'below -1, no final height');
  await assert.rejects(store.truncate(1.5), StoreTruncateError, 'not a height');
  await store.markFinal({ height: 2, headerHash: appended[2].tip.headerHash }, Uint8Array.of(1));
  await store.close();
  const before = await dump(path);
  store = await LogStore.open(path, IDENTITY);
  let truncations = 0;
  store.onTruncated(() => truncations++);
  for (const height of [1, 0, -1]) {
    await assert.rejects(store.truncate(height), (e: Error) => e instanceof StoreTruncateError && /final height 2/.test(e.message), `keep up to ${height}`);
  }
  await assert.rejects(store.truncate(-2), StoreTruncateError);
  await store.truncate(3);
  await store.truncate(9);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[3].tip));
  assert.deepEqual(await store.nonceHeights(appended.flatMap((a) => a.keys)), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.equal(truncations, 0);
  await store.close();
  assert.deepEqual(await dump(path), before, 'nothing was written');
  store = await LogStore.open(path, IDENTITY);
  t.after(() => store.close());
  await store.truncate(2);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'down to the final height is allowed');
  assert.equal(truncations, 0, 'a listener of the closed store is not called');
});

test('truncate and append never overlap: each is refused while the other\'s write is under way, and nothing is changed by the refused one', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const store = await LogStore.open(join(dir.path, 'db'), IDENTITY);
  t.after(() => store.close());
  for (let i = 0; i < 2; i++) await appendOne(store, 400n + 2n * BigInt(i));
  const inFlight = appendOne(store, 404n);
  await assert.rejects(store.truncate(0), (e: Error) => e instanceof StoreTruncateError && /in flight/.test(e.message));
  const third = await inFlight;
  assert.deepEqual(hexTip(store.tip), hexTip(third.tip), 'the append went through');
  assert.ok(await store.getBatch(1));

  const truncation = store.truncate(0);
  await assert.rejects(appendOne(store, 406n), (e: Error) => e instanceof StoreTruncateError && /being removed/.test(e.message));
  await truncation;
  assert.equal(store.tip.height, 0);
  assert.deepEqual(await store.nonceHeights(third.keys), [undefined, undefined]);
  assert.equal((await appendOne(store, 406n)).tip.height, 1, 'appends work again once it is done');
});

test('truncate refuses a store whose batches do not follow each other (a corrupt store), and changes nothing', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const store = await LogStore.open(join(dir.path, 'db'), IDENTITY);
  t.after(() => store.close());
  const first = await appendOne(store, 500n);
  // Batch 1 stored on another entry hash than batch 0 ends with (appendAll checks heights and header hashes only).
  const prevTip = { ...first.tip, headHash: new Uint8Array(32).fill(7) };
  const s = signer.sign({ nonce: 502n, transactions: [new TextEncoder().encode('on a wrong head')] });
  const sealed = sealBatch(PRIMARY_RULES, prevTip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], 1_700_000_000_001, PRIMARY_KEY);
  await store.append({ bytes: encodeBatch(sealed.batch), prevTip, tip: sealed.tip, nonceKeys: [nonceKey(s.sender, s.nonce)] });
  await assert.rejects(store.truncate(0), (e: Error) => e instanceof StoreTruncateError && /does not follow/.test(e.message));
  assert.deepEqual(hexTip(store.tip), hexTip(sealed.tip));
  assert.ok(await store.getBatch(1));
});

test('truncate goes through the store\'s fault handling: refused while the store cannot write, changing nothing, and done once it recovers', { skip: process.getuid?.() !== 0 && 'needs root to mount a tmpfs', timeout: 30_000 }, async (t) => {
  const dir = await tempDir('seq-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir.path]);
  t.after(async () => {
    execFileSync('umount', ['-l', dir.path]);
    await dir.remove();
  });
  const store = await LogStore.open(join(dir.path, 'db'), IDENTITY);
  t.after(() => store.close());
  const appended: Appended[] = [];
  for (let i = 0; i < 3; i++) appended.push(await appendOne(store, 600n + 2n * BigInt(i)));
  // A full disk: a write that needs fresh pages fails and the store starts refusing writes.
  const filler = join(dir.path, 'filler');
  execFileSync('sh', ['-c', `cat /dev/zero > ${filler} 2>/dev/null || true`]);
  await assert.rejects(store.putRecord(new TextEncoder().encode('lost'), new Uint8Array(32 * 1024)), StoreFaultError);
  assert.ok(store.fault);
  await assert.rejects(store.truncate(0), StoreFaultError);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip));
  await rm(filler);
  await waitFor(() => store.fault === undefined, 15_000, 'the store to recover');
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'the refused truncation did not reach the disk');
  assert.ok(await store.getBatch(2));
  await store.truncate(0);
  assert.deepEqual(hexTip(store.tip), hexTip(appended[0].tip));
});

test('replaceFinal puts the final header\'s re-proposal in its place: batch, tip and final mark name it, the batches above and the old certificate go; refused anywhere but the final height', async (t) => {
  const { path, appended, store: opened } = await storeWithBatches(t, 3, 300n);
  let store = opened;
  await store.markFinal({ height: 1, headerHash: appended[1].tip.headerHash }, Uint8Array.of(7));
  // A stand-in for the re-proposal's bytes and header hash: the store does not judge them (the view gate does).
  const reproposal = { bytes: Uint8Array.of(9, 9, 9), tip: { ...appended[1].tip, headerHash: Uint8Array.from({ length: 32 }, (_, i) => i) } };

  for (const height of [0, 2]) {
    await assert.rejects(store.replaceFinal(reproposal.bytes, { ...reproposal.tip, height }), StoreTruncateError, `refused at height ${height}`);
  }
  assert.deepEqual(hexTip(store.tip), hexTip(appended[2].tip), 'a refusal changes nothing');

  await store.replaceFinal(reproposal.bytes, reproposal.tip);
  assert.deepEqual(hexTip(store.tip), hexTip(reproposal.tip));
  await store.close();
  store = await LogStore.open(path, IDENTITY);
  t.after(() => store.close());
  assert.deepEqual(hexTip(store.tip), hexTip(reproposal.tip), 'the tip after a restart');
  assert.equal(toHex(store.final!.headerHash), toHex(reproposal.tip.headerHash), 'the final mark names the re-proposal');
  assert.equal(store.final!.height, 1);
  assert.equal(toHex((await store.getBatch(1))!.bytes), toHex(reproposal.bytes));
  assert.equal((await store.getBatch(1))!.prevEntryHash.length, 32);
  assert.equal(await store.getBatch(2), undefined, 'the batch above is gone');
  assert.deepEqual(await store.nonceHeights([...appended[1].keys, ...appended[2].keys]), [1, 1, undefined, undefined], 'its nonces kept, those above freed');
  assert.equal(await store.certificateFrom(1), undefined, 'the old header\'s certificate is not served for the new one');
});
