import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError, Reader, toHex, u64be } from '../../src/core/bytes.ts';
import { MAX_SUBMISSION_BYTES, MAX_TX_BYTES, MAX_TXS_PER_SUBMISSION } from '../../src/core/limits.ts';
import { recoverAddress } from '../../src/core/signature.ts';
import {
  decodeSubmission, encodeSubmission, encodeTxList, readSubmission, submissionDigest, submissionSize, transactionsHash, txListSize,
  type Submission,
} from '../../src/core/submission.ts';
import { ALICE, ALICE_KEY, ethersSubmissionHash, DOMAIN, makeSubmission, rand, SEPARATOR, sha256 } from './helpers.ts';

/** The wire form built by hand from the documented layout. */
function manualEncode(s: Submission): Uint8Array {
  const parts: Uint8Array[] = [s.sender, u64be(s.nonce), u64be(s.expiry), s.signature, u32(s.transactions.length)];
  for (const tx of s.transactions) parts.push(u32(tx.byteLength), tx);
  return new Uint8Array(Buffer.concat(parts));
}
function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}
/** A submission with a fake signature: decoding does not check signatures. */
function unsigned(transactions: Uint8Array[], nonce = 1n, expiry = 0): Submission {
  return { sender: rand(20), nonce, expiry, transactions, signature: rand(65) };
}

describe('transaction list', () => {
  test('encodeTxList is count u32 | (length u32 | payload)*', () => {
    const list = [new Uint8Array([0xaa]), new Uint8Array(0), new Uint8Array([1, 2, 3])];
    assert.equal(toHex(encodeTxList(list)), '0x' + '00000003' + '00000001aa' + '00000000' + '00000003010203');
    assert.equal(txListSize(list), 4 + 5 + 4 + 7);
  });

  test('transactionsHash = sha256(txList)', () => {
    for (const list of [[new Uint8Array(0)], [rand(1)], [rand(100), rand(0), rand(3000)]]) {
      assert.deepEqual(transactionsHash(list), sha256(encodeTxList(list)));
    }
  });

  test('transaction boundaries are part of the hash', () => {
    assert.notDeepEqual(transactionsHash([new Uint8Array([1, 2])]), transactionsHash([new Uint8Array([1]), new Uint8Array([2])]));
  });
});

describe('encode / decode', () => {
  test('round trip of a signed submission, layout as documented', () => {
    const s = makeSubmission(ALICE_KEY, 42n, [new Uint8Array([1, 2, 3]), new Uint8Array(0), rand(2000)], { expiry: 1767225600 });
    const bytes = encodeSubmission(s);
    assert.equal(bytes.byteLength, submissionSize(s));
    assert.equal(bytes.byteLength, 20 + 8 + 8 + 65 + txListSize(s.transactions));
    assert.deepEqual(bytes, manualEncode(s));
    const d = decodeSubmission(bytes);
    assert.deepEqual(d.sender, s.sender);
    assert.equal(d.nonce, 42n);
    assert.equal(d.expiry, 1767225600);
    assert.deepEqual(d.signature, s.signature);
    assert.deepEqual(d.transactions.map(toHex), s.transactions.map(toHex));
    assert.deepEqual(encodeSubmission(d), bytes);
    assert.deepEqual(recoverAddress(submissionDigest(SEPARATOR, d), d.signature), ALICE);
  });

  test('decoded txList is the wire slice and equals encodeTxList; its sha256 is the transactionsHash', () => {
    const s = makeSubmission(ALICE_KEY, 1n, [rand(10), rand(0), rand(77)]);
    const bytes = encodeSubmission(s);
    const d = decodeSubmission(bytes);
    assert.deepEqual(d.txList, encodeTxList(s.transactions));
    assert.deepEqual(d.txList, bytes.subarray(101));
    assert.equal(d.txList.buffer, bytes.buffer, 'a view, not a copy');
    assert.deepEqual(sha256(d.txList), transactionsHash(s.transactions));
    assert.deepEqual(submissionDigest(SEPARATOR, d, sha256(d.txList)), submissionDigest(SEPARATOR, s));
  });

  test('the digest signed is the EIP-712 digest ethers computes', () => {
    const s = makeSubmission(ALICE_KEY, 2n ** 64n - 1n, [rand(5)], { expiry: 2 ** 40 });
    assert.equal(toHex(submissionDigest(SEPARATOR, s)), ethersSubmissionHash(DOMAIN, s.sender, s.nonce, s.expiry, transactionsHash(s.transactions)));
  });

  test('nonce spans the full u64 range', () => {
    for (const nonce of [0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      assert.equal(decodeSubmission(encodeSubmission(unsigned([rand(1)], nonce))).nonce, nonce);
    }
  });

  test('expiry up to 2^53-1 round trips; above is refused', () => {
    assert.equal(decodeSubmission(encodeSubmission(unsigned([rand(1)], 1n, Number.MAX_SAFE_INTEGER))).expiry, Number.MAX_SAFE_INTEGER);
    const bytes = encodeSubmission(unsigned([rand(1)]));
    bytes.set(u64be(2n ** 53n), 28);
    assert.throws(() => decodeSubmission(bytes), /expiry out of range/);
  });

  test('readSubmission reads consecutive submissions from one reader', () => {
    const a = unsigned([rand(3)]);
    const b = unsigned([rand(4), rand(5)]);
    const r = new Reader(new Uint8Array(Buffer.concat([encodeSubmission(a), encodeSubmission(b)])));
    assert.deepEqual(readSubmission(r).transactions.map(toHex), a.transactions.map(toHex));
    const db = readSubmission(r);
    assert.deepEqual(db.transactions.map(toHex), b.transactions.map(toHex));
    assert.deepEqual(db.txList, encodeTxList(b.transactions));
    r.end();
  });

  test('limits at the boundary are accepted', () => {
    const maxTx = decodeSubmission(encodeSubmission(unsigned([new Uint8Array(MAX_TX_BYTES)])));
    assert.equal(maxTx.transactions[0].byteLength, MAX_TX_BYTES);
    const many = decodeSubmission(encodeSubmission(unsigned(Array.from({ length: MAX_TXS_PER_SUBMISSION }, () => new Uint8Array(0)))));
    assert.equal(many.transactions.length, MAX_TXS_PER_SUBMISSION);
    // Exactly MAX_SUBMISSION_BYTES in total.
    const fixed = 101 + 4;
    const n = 16;
    const txBytes = Math.floor((MAX_SUBMISSION_BYTES - fixed) / n) - 4;
    const list = Array.from({ length: n }, () => new Uint8Array(txBytes));
    const rest = MAX_SUBMISSION_BYTES - fixed - n * (4 + txBytes);
    list[0] = new Uint8Array(txBytes + rest);
    const s = unsigned(list);
    assert.equal(submissionSize(s), MAX_SUBMISSION_BYTES);
    assert.equal(decodeSubmission(encodeSubmission(s)).transactions.length, n);
  });
});

describe('decode rejects', () => {
  test('zero transactions', () => {
    const bytes = encodeSubmission(unsigned([]));
    assert.throws(() => decodeSubmission(bytes), DecodeError);
    assert.throws(() => decodeSubmission(bytes), /at least one transaction/);
  });

  test('too many transactions', () => {
    const s = unsigned(Array.from({ length: MAX_TXS_PER_SUBMISSION + 1 }, () => new Uint8Array(0)));
    assert.throws(() => decodeSubmission(encodeSubmission(s)), new RegExp(`more than ${MAX_TXS_PER_SUBMISSION} transactions`));
    // The count alone is enough: refused before reading the list.
    const head = encodeSubmission(unsigned([rand(1)])).subarray(0, 105);
    new DataView(head.buffer, head.byteOffset).setUint32(101, 0xffffffff);
    assert.throws(() => decodeSubmission(head), new RegExp(`more than ${MAX_TXS_PER_SUBMISSION} transactions`));
  });

  test('an oversized transaction', () => {
    assert.throws(() => decodeSubmission(encodeSubmission(unsigned([new Uint8Array(MAX_TX_BYTES + 1)]))), new RegExp(`transaction larger than ${MAX_TX_BYTES} bytes`));
    // A huge length prefix is refused by the limit, not by truncation.
    const bytes = encodeSubmission(unsigned([rand(1)]));
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(105, 0xffffffff);
    assert.throws(() => decodeSubmission(bytes), /transaction larger than/);
  });

  test('an oversized submission', () => {
    const s = unsigned(Array.from({ length: 17 }, () => new Uint8Array(MAX_TX_BYTES)));
    assert.ok(submissionSize(s) > MAX_SUBMISSION_BYTES);
    assert.throws(() => decodeSubmission(encodeSubmission(s)), DecodeError);
    assert.throws(() => decodeSubmission(encodeSubmission(s)), new RegExp(`submission larger than ${MAX_SUBMISSION_BYTES} bytes`));
    // Exactly one byte over the limit.
    const n = 16;
    const txBytes = Math.floor((MAX_SUBMISSION_BYTES - 105) / n) - 4;
    const list = Array.from({ length: n }, () => new Uint8Array(txBytes));
    list[0] = new Uint8Array(txBytes + MAX_SUBMISSION_BYTES - 105 - n * (4 + txBytes) + 1);
    assert.equal(submissionSize(unsigned(list)), MAX_SUBMISSION_BYTES + 1);
    assert.throws(() => decodeSubmission(encodeSubmission(unsigned(list))), /submission larger than/);
  });

  test('truncated input at every length', () => {
    const bytes = encodeSubmission(makeSubmission(ALICE_KEY, 3n, [rand(5), rand(0), rand(9)]));
    for (let len = 0; len < bytes.byteLength; len++) {
      assert.throws(() => decodeSubmission(bytes.subarray(0, len)), DecodeError, `length ${len}`);
    }
  });

  test('trailing bytes', () => {
    const bytes = encodeSubmission(makeSubmission(ALICE_KEY, 3n, [rand(5)]));
    for (const extra of [1, 2, 100]) {
      assert.throws(() => decodeSubmission(new Uint8Array(Buffer.concat([bytes, new Uint8Array(extra)]))), /trailing bytes/);
    }
  });
});
