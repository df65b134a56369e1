import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBatch, encodeBatch, GENESIS_TIP, sealBatch, type SealedBatch, type Tip } from '../../src/core/batch.ts';
import { ZERO32 } from '../../src/core/bytes.ts';
import { signHeader } from '../../src/core/header.ts';
import { MerkleTree } from '../../src/core/merkle.ts';
import { buildReceipt, checkReceipt, receiptMismatch, type Receipt } from '../../src/core/receipt.ts';
import { submissionDigest, type Submission } from '../../src/core/submission.ts';
import { admit, ALICE_KEY, BOB_KEY, makeRules, makeSubmission, MALLORY, MALLORY_KEY, PRIMARY_KEY, rand, SEPARATOR, txs } from './helpers.ts';

const T0 = 1767225000000;
const rules = makeRules();

function flip(b: Uint8Array, i = 0): Uint8Array {
  const c = new Uint8Array(b);
  c[i] ^= 1;
  return c;
}

interface Fixture {
  subs: Submission[];
  sealed: SealedBatch;
  prevTip: Tip;
  receipts: Receipt[];
}

/** A multi-submission batch (1, 3, 2, 1, 5 transactions) on top of `prevTip`, and a receipt per submission. */
function fixture(prevTip: Tip): Fixture {
  const subs = [
    makeSubmission(ALICE_KEY, 1n, txs('a')),
    makeSubmission(BOB_KEY, 1n, [rand(10), new Uint8Array(0), rand(3000)]),
    makeSubmission(ALICE_KEY, 2n, txs('b', 'c')),
    makeSubmission(BOB_KEY, 2n ** 64n - 1n, txs('d')),
    makeSubmission(ALICE_KEY, 3n, txs('e', 'f', 'g', 'h', 'i')),
  ];
  const sealed = sealBatch(rules, prevTip, subs.map((s) => admit(s)), T0, PRIMARY_KEY);
  const receipts: Receipt[] = [];
  let seq = sealed.batch.header.firstSeq;
  for (const s of subs) {
    receipts.push(buildReceipt(sealed.batch, sealed.tree, (i) => sealed.tree.leaf(i), prevTip.headHash, {
      digest: submissionDigest(SEPARATOR, s), sender: s.sender, nonce: s.nonce, firstSeq: seq, count: s.transactions.length,
    }));
    seq += s.transactions.length;
  }
  return { subs, sealed, prevTip, receipts };
}

const genesis = fixture(GENESIS_TIP);
const later = fixture({ height: 41, headerHash: rand(32), nextSeq: 2 ** 32 + 100, headHash: rand(32), timestamp: T0 - 1 });

for (const [name, f] of [['genesis batch', genesis], ['later batch, seq > 2^32', later]] as const) {
  describe(`receipts of a ${name}`, () => {
    test('every receipt is well formed and checks with and without payloads', () => {
      let lo = 0;
      for (let i = 0; i < f.subs.length; i++) {
        const r = f.receipts[i];
        const s = f.subs[i];
        assert.equal(r.firstSeq, f.sealed.batch.header.firstSeq + lo);
        assert.equal(r.entryHashes.length, s.transactions.length);
        assert.deepEqual(r.entryHashes, Array.from({ length: s.transactions.length }, (_, j) => f.sealed.tree.leaf(lo + j)));
        assert.deepEqual(r.prevEntryHash, lo === 0 ? f.prevTip.headHash : f.sealed.tree.leaf(lo - 1));
        assert.deepEqual(r.proof, f.sealed.tree.rangeProof(lo, lo + s.transactions.length));
        assert.deepEqual(r.sender, s.sender);
        assert.equal(r.nonce, s.nonce);
        assert.deepEqual(r.submissionDigest, submissionDigest(SEPARATOR, s));
        assert.equal(checkReceipt(rules, r), null, `submission ${i} without payloads`);
        assert.equal(checkReceipt(rules, r, s.transactions), null, `submission ${i} with payloads`);
        lo += s.transactions.length;
      }
      assert.deepEqual(f.receipts[f.receipts.length - 1].entryHashes.at(-1), f.sealed.batch.header.headHash);
    });

    test('a tampered entry hash fails', () => {
      for (const r of f.receipts) {
        for (let j = 0; j < r.entryHashes.length; j++) {
          const entryHashes = r.entryHashes.slice();
          entryHashes[j] = flip(entryHashes[j], 31);
          assert.equal(checkReceipt(rules, { ...r, entryHashes }), 'Merkle proof does not match the entries root');
        }
      }
    });

    test('a tampered payload fails when payloads are checked', () => {
      for (let i = 0; i < f.subs.length; i++) {
        const r = f.receipts[i];
        const payloads = f.subs[i].transactions.slice();
        const j = payloads.length - 1;
        payloads[j] = payloads[j].byteLength ? flip(payloads[j]) : new Uint8Array([0]);
        assert.equal(checkReceipt(rules, r, payloads), `entry ${r.firstSeq + j} does not hash to the receipt`);
      }
    });

    test('payloads of another count, order, sender, digest or previous entry fail', () => {
      const i = 1; // three transactions
      const r = f.receipts[i];
      const p = f.subs[i].transactions;
      assert.equal(checkReceipt(rules, r, p.slice(0, 2)), 'payload count differs from the entry count');
      assert.equal(checkReceipt(rules, r, [...p, rand(1)]), 'payload count differs from the entry count');
      assert.match(checkReceipt(rules, r, [p[1], p[0], p[2]]) ?? '', /does not hash to the receipt/);
      assert.match(checkReceipt(rules, { ...r, sender: MALLORY }, p) ?? '', /does not hash to the receipt/);
      assert.match(checkReceipt(rules, { ...r, submissionDigest: rand(32) }, p) ?? '', /does not hash to the receipt/);
      assert.match(checkReceipt(rules, { ...r, prevEntryHash: rand(32) }, p) ?? '', /does not hash to the receipt/);
    });

    test('a wrong primary fails', () => {
      for (const r of f.receipts) assert.equal(checkReceipt({ ...rules, primary: MALLORY }, r), 'header not signed by the primary');
      // Signed by another key.
      const r = f.receipts[0];
      const forged = signHeader(SEPARATOR, r.header, MALLORY_KEY);
      assert.equal(checkReceipt(rules, { ...r, signature: forged.signature }), 'header not signed by the primary');
      // Checked in another domain.
      assert.equal(checkReceipt({ ...rules, separator: rand(32) }, r), 'header not signed by the primary');
    });

    test('a tampered header or signature fails', () => {
      const r = f.receipts[2];
      assert.equal(checkReceipt(rules, { ...r, header: { ...r.header, entriesRoot: rand(32) } }), 'header not signed by the primary');
      assert.equal(checkReceipt(rules, { ...r, header: { ...r.header, count: r.header.count + 1 } }), 'header not signed by the primary');
      const sig = new Uint8Array(r.signature);
      sig[64] = 0;
      assert.match(checkReceipt(rules, { ...r, signature: sig }) ?? '', /^header signature: .*27 or 28/);
      assert.match(checkReceipt(rules, { ...r, signature: r.signature.subarray(0, 64) }) ?? '', /^header signature: .*65 bytes/);
    });

    test('a wrong firstSeq fails', () => {
      for (let i = 0; i < f.receipts.length; i++) {
        const r = f.receipts[i];
        for (const delta of [-1, 1, -r.firstSeq - 1, 1000]) {
          const msg = checkReceipt(rules, { ...r, firstSeq: r.firstSeq + delta });
          assert.notEqual(msg, null, `submission ${i} firstSeq ${delta}`);
          assert.ok(msg === 'entries outside the batch' || msg === 'Merkle proof does not match the entries root', msg ?? '');
        }
      }
    });

    test('a tampered, shortened, lengthened or reordered proof fails', () => {
      for (const r of f.receipts) {
        for (let k = 0; k < r.proof.length; k++) {
          const proof = r.proof.slice();
          proof[k] = flip(proof[k], 7);
          assert.equal(checkReceipt(rules, { ...r, proof }), 'Merkle proof does not match the entries root');
          assert.equal(checkReceipt(rules, { ...r, proof: r.proof.filter((_, j) => j !== k) }), 'Merkle proof does not match the entries root');
        }
        assert.equal(checkReceipt(rules, { ...r, proof: [...r.proof, rand(32)] }), 'Merkle proof does not match the entries root');
        if (r.proof.length >= 2) {
          assert.equal(checkReceipt(rules, { ...r, proof: r.proof.slice().reverse() }), 'Merkle proof does not match the entries root');
        }
      }
    });

    test('dropped or extra entries fail', () => {
      const r = f.receipts[1];
      assert.equal(checkReceipt(rules, { ...r, entryHashes: [] }), 'entries outside the batch');
      assert.equal(checkReceipt(rules, { ...r, entryHashes: r.entryHashes.slice(1) }), 'Merkle proof does not match the entries root');
      const last = f.receipts[f.receipts.length - 1];
      assert.equal(checkReceipt(rules, { ...last, entryHashes: [...last.entryHashes, rand(32)] }), 'entries outside the batch');
    });

    test('fields that are not of their fixed size are refused', () => {
      const r = f.receipts[0];
      const p = f.subs[0].transactions;
      assert.equal(checkReceipt(rules, { ...r, sender: r.sender.subarray(0, 19) }, p), 'malformed receipt field');
      assert.equal(checkReceipt(rules, { ...r, submissionDigest: new Uint8Array([...r.submissionDigest, 0]) }, p), 'malformed receipt field');
      assert.equal(checkReceipt(rules, { ...r, prevEntryHash: r.prevEntryHash.subarray(1) }, p), 'malformed receipt field');
      assert.equal(checkReceipt(rules, { ...r, entryHashes: [r.entryHashes[0].subarray(0, 31)] }), 'Merkle proof does not match the entries root');
    });
  });
}

describe('receipts of another log or view', () => {
  // The primary's key really signed these headers, over this log's domain: only the fields tell them apart.
  const f = genesis;
  const resigned = (r: Receipt, patch: Partial<Receipt['header']>): Receipt => ({ ...r, ...signHeader(SEPARATOR, { ...r.header, ...patch }, PRIMARY_KEY) });

  test('a header with another log id is refused, even with matching payloads', () => {
    for (let i = 0; i < f.receipts.length; i++) {
      assert.equal(checkReceipt(rules, resigned(f.receipts[i], { logId: rand(32) }), f.subs[i].transactions), 'header of another log');
    }
    // The same receipt checked as a receipt of another log is refused too.
    assert.equal(checkReceipt({ ...rules, logId: rand(32) }, f.receipts[0]), 'header of another log');
  });

  test('a header of a view the log does not allow is refused, even with matching payloads', () => {
    for (const view of [1, 2, 2 ** 40]) {
      for (let i = 0; i < f.receipts.length; i++) {
        assert.equal(checkReceipt(rules, resigned(f.receipts[i], { view }), f.subs[i].transactions), `header of view ${view}, which the log does not allow`);
      }
    }
    assert.equal(checkReceipt(rules, resigned(f.receipts[0], { view: 0 }), f.subs[0].transactions), null, 'view 0 is the allowed view');
  });
});

describe('receiptMismatch: a receipt against the batch its header belongs to', () => {
  for (const [name, f] of [['genesis batch', genesis], ['later batch', later]] as const) {
    const stored = decodeBatch(encodeBatch(f.sealed.batch));

    test(`${name}: every true receipt matches`, () => {
      for (const r of f.receipts) assert.equal(receiptMismatch(SEPARATOR, r, stored), null);
    });

    test(`${name}: another sender, nonce or digest under the stored entries is named`, () => {
      const bob = f.receipts[1]; // bob's 3 transactions
      const alice = f.receipts[0];
      // Bob's entries claimed as alice's submission: checkReceipt without payloads cannot tell.
      const claimed = { ...bob, sender: alice.sender, submissionDigest: alice.submissionDigest, nonce: alice.nonce };
      assert.equal(checkReceipt(rules, claimed), null);
      assert.match(receiptMismatch(SEPARATOR, claimed, stored) ?? '', /from another sender/);
      assert.match(receiptMismatch(SEPARATOR, { ...bob, nonce: bob.nonce + 1n }, stored) ?? '', /under nonce 1, not 2$/);
      assert.match(receiptMismatch(SEPARATOR, { ...bob, submissionDigest: rand(32) }, stored) ?? '', /another submission digest/);
      assert.match(receiptMismatch(SEPARATOR, { ...bob, prevEntryHash: rand(32) }, stored) ?? '', /prevEntryHash is not the log's/);
    });

    test(`${name}: entries that are not exactly one submission are named`, () => {
      const r = f.receipts[4]; // 5 transactions
      const lo = r.firstSeq - f.sealed.batch.header.firstSeq;
      const part = (from: number, to: number): Receipt => ({
        ...r,
        firstSeq: r.firstSeq + from,
        entryHashes: r.entryHashes.slice(from, to),
        prevEntryHash: from === 0 ? r.prevEntryHash : r.entryHashes[from - 1],
        proof: f.sealed.tree.rangeProof(lo + from, lo + to),
      });
      for (const [from, to] of [[0, 2], [1, 5], [2, 3]]) assert.equal(checkReceipt(rules, part(from, to)), null, `entries ${from}..${to} are in the tree`);
      assert.match(receiptMismatch(SEPARATOR, part(0, 2), stored) ?? '', /holds 5 transactions from seq \d+, not 2$/);
      assert.match(receiptMismatch(SEPARATOR, part(1, 5), stored) ?? '', /no submission of the log starts at seq/);
      assert.match(receiptMismatch(SEPARATOR, part(2, 3), stored) ?? '', /no submission of the log starts at seq/);
    });
  }
});

describe('receipt edge cases', () => {
  test('a single-transaction batch: empty proof, prevEntryHash zero at genesis', () => {
    const s = makeSubmission(ALICE_KEY, 9n, txs('only'));
    const sealed = sealBatch(rules, GENESIS_TIP, [admit(s)], T0, PRIMARY_KEY);
    const r = buildReceipt(sealed.batch, sealed.tree, (i) => sealed.tree.leaf(i), ZERO32, {
      digest: submissionDigest(SEPARATOR, s), sender: s.sender, nonce: s.nonce, firstSeq: 0, count: 1,
    });
    assert.deepEqual(r.proof, []);
    assert.deepEqual(r.prevEntryHash, ZERO32);
    assert.equal(checkReceipt(rules, r, s.transactions), null);
  });

  test('a header whose headHash is not the last entry fails for the receipt that ends the batch', () => {
    const f = genesis;
    // The primary signs a header with the right root but another head: only a receipt reaching the end can tell.
    const bogus = signHeader(SEPARATOR, { ...f.sealed.batch.header, headHash: rand(32) }, PRIMARY_KEY);
    const retarget = (r: Receipt): Receipt => ({ ...r, header: bogus.header, signature: bogus.signature });
    assert.equal(checkReceipt(rules, retarget(f.receipts[f.receipts.length - 1])), 'last entry is not the chain head');
    assert.equal(checkReceipt(rules, retarget(f.receipts[0])), null);
  });

  test('buildReceipt reads leaves through the callback', () => {
    const f = genesis;
    const tree = new MerkleTree(new Uint8Array(Buffer.concat(Array.from({ length: f.sealed.tree.size }, (_, i) => f.sealed.tree.leaf(i)))));
    const seen: number[] = [];
    const r = buildReceipt(f.sealed.batch, tree, (i) => { seen.push(i); return tree.leaf(i); }, ZERO32, {
      digest: f.receipts[2].submissionDigest, sender: f.receipts[2].sender, nonce: f.receipts[2].nonce, firstSeq: f.receipts[2].firstSeq, count: 2,
    });
    assert.deepEqual(seen.sort((a, b) => a - b), [3, 4, 5]);
    assert.equal(checkReceipt(rules, r, f.subs[2].transactions), null);
  });
});
