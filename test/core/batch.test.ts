import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BATCH_VERSION, decodeBatch, encodeBatch, GENESIS_TIP, JUSTIFIED_BATCH_VERSION, nonceKey, peekSignedHeader, sealBatch, submissionsOf, txCount,
  verifyBatch, verifyHeaderSignature, type Batch, type DecodedBatch, type Tip,
} from '../../src/core/batch.ts';
import { DecodeError, toHex, u64be, Writer, ZERO32 } from '../../src/core/bytes.ts';
import { EntryChain } from '../../src/core/entry.ts';
import { BatchNotYetValidError, BatchRejectedError } from '../../src/core/errors.ts';
import { encodeSignedHeader, headerHash, signHeader, type Header } from '../../src/core/header.ts';
import { encodeJustification, MAX_JUSTIFICATION_BYTES, type Justification } from '../../src/core/justification.ts';
import { MAX_BATCH_BYTES, MAX_BATCH_TXS, MAX_CLOCK_SKEW_MS, MAX_TX_BYTES, MAX_TXS_PER_SUBMISSION } from '../../src/core/limits.ts';
import { merkleRoot } from '../../src/core/merkle.ts';
import { sign } from '../../src/core/signature.ts';
import { encodeSubmission, submissionDigest, type Submission } from '../../src/core/submission.ts';
import {
  admit, ALICE, ALICE_KEY, BOB, BOB_KEY, makeRules, makeSubmission, MALLORY, MALLORY_KEY, PRIMARY_KEY, rand, SEPARATOR, sha256, txs,
} from './helpers.ts';

const T0 = 1767225000000;
const rules = makeRules([ALICE, BOB]);

function firstBatch(): { a: Submission; b: Submission; c: Submission; sealed: ReturnType<typeof sealBatch> } {
  const a = makeSubmission(ALICE_KEY, 1n, txs('alice-1'));
  const b = makeSubmission(BOB_KEY, 1n, txs('bob-1', '', 'bob-3'), { expiry: T0 / 1000 + 60 });
  const c = makeSubmission(ALICE_KEY, 2n, [rand(2000)]);
  const sealed = sealBatch(rules, GENESIS_TIP, [admit(a), admit(b), admit(c)], T0, PRIMARY_KEY);
  return { a, b, c, sealed };
}

function roundTrip(b: Batch): DecodedBatch {
  return decodeBatch(encodeBatch(b));
}

/** The same batch with header fields changed and re-signed (by the primary unless told otherwise). */
function resign(b: Batch, patch: Partial<Header>, key: Uint8Array = PRIMARY_KEY): Batch {
  const header = { ...b.header, ...patch };
  return { ...signHeader(SEPARATOR, header, key), submissions: b.submissions };
}

function rejects(b: Batch, tip: Tip, message: RegExp, now = T0, r = rules): void {
  const decoded = roundTrip(b);
  assert.throws(() => verifyBatch(r, tip, decoded, now), (e: unknown) => {
    assert.ok(e instanceof BatchRejectedError, `expected BatchRejectedError, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  });
}

describe('seal, encode, decode, verify', () => {
  test('a sealed batch verifies against the tip and yields the same tip', () => {
    const { a, b, c, sealed } = firstBatch();
    const h = sealed.batch.header;
    assert.equal(h.height, 0);
    assert.equal(h.view, 0);
    assert.equal(h.firstSeq, 0);
    assert.equal(h.count, 5);
    assert.deepEqual(h.prevHeaderHash, ZERO32);
    assert.equal(h.timestamp, T0);
    assert.deepEqual(h.logId, rules.logId);
    assert.deepEqual(sealed.headerHash, headerHash(SEPARATOR, h));
    assert.deepEqual(sealed.tip, { height: 0, headerHash: sealed.headerHash, nextSeq: 5, headHash: h.headHash, timestamp: T0 });
    assert.equal(sealed.tree.size, 5);
    assert.deepEqual(sealed.tree.root, h.entriesRoot);

    const v = verifyBatch(rules, GENESIS_TIP, roundTrip(sealed.batch), T0);
    assert.deepEqual(v.tip, sealed.tip);
    assert.deepEqual(v.headerHash, sealed.headerHash);
    assert.deepEqual(v.digests, [a, b, c].map((s) => submissionDigest(SEPARATOR, s)));
    assert.deepEqual(v.nonceKeys, [nonceKey(ALICE, 1n), nonceKey(BOB, 1n), nonceKey(ALICE, 2n)]);
    assert.deepEqual(v.batch.submissions.map((s) => s.transactions.length), [1, 3, 1]);
  });

  test('entries, head and root are the documented chain and tree', () => {
    const { a, b, c, sealed } = firstBatch();
    const chain = new EntryChain(ZERO32, 0);
    const leaves: Uint8Array[] = [];
    for (const s of [a, b, c]) {
      const d = submissionDigest(SEPARATOR, s);
      for (const tx of s.transactions) leaves.push(chain.append(s.sender, d, tx));
    }
    assert.deepEqual(sealed.batch.header.headHash, leaves[4]);
    assert.deepEqual(sealed.batch.header.entriesRoot, merkleRoot(new Uint8Array(Buffer.concat(leaves))));
    for (let i = 0; i < 5; i++) assert.deepEqual(sealed.tree.leaf(i), leaves[i]);
  });

  test('two consecutive batches chain', () => {
    const { sealed } = firstBatch();
    const d = makeSubmission(BOB_KEY, 2n, txs('x', 'y'));
    const next = sealBatch(rules, sealed.tip, [admit(d)], T0 + 1000, PRIMARY_KEY);
    const h = next.batch.header;
    assert.equal(h.height, 1);
    assert.equal(h.firstSeq, 5);
    assert.equal(h.count, 2);
    assert.deepEqual(h.prevHeaderHash, sealed.headerHash);
    // The chain continues from the previous head across the batch boundary.
    const chain = new EntryChain(sealed.tip.headHash, 5);
    const dg = submissionDigest(SEPARATOR, d);
    chain.append(BOB, dg, d.transactions[0]);
    assert.deepEqual(h.headHash, chain.append(BOB, dg, d.transactions[1]));

    const v1 = verifyBatch(rules, GENESIS_TIP, roundTrip(sealed.batch), T0 + 1000);
    const v2 = verifyBatch(rules, v1.tip, roundTrip(next.batch), T0 + 1000);
    assert.deepEqual(v2.tip, next.tip);
    assert.deepEqual(v2.tip, { height: 1, headerHash: next.headerHash, nextSeq: 7, headHash: h.headHash, timestamp: T0 + 1000 });
    // The second batch does not verify against genesis, nor the first against the new tip.
    rejects(next.batch, GENESIS_TIP, /height 1 does not follow -1/);
    rejects(sealed.batch, v2.tip, /height 0 does not follow 1/);
  });

  test('sealBatch never lets the timestamp go backwards', () => {
    const { sealed } = firstBatch();
    const next = sealBatch(rules, sealed.tip, [admit(makeSubmission(BOB_KEY, 9n, txs('z')))], T0 - 5000, PRIMARY_KEY);
    assert.equal(next.batch.header.timestamp, T0);
    verifyBatch(rules, sealed.tip, roundTrip(next.batch), T0);
  });

  test('sequence numbers above 2^32 round trip and verify', () => {
    const tip: Tip = { height: 2 ** 33, headerHash: rand(32), nextSeq: 2 ** 32 + 17, headHash: rand(32), timestamp: T0 };
    const sealed = sealBatch(rules, tip, [admit(makeSubmission(ALICE_KEY, 2n ** 63n, txs('big')))], T0, PRIMARY_KEY);
    const v = verifyBatch(rules, tip, roundTrip(sealed.batch), T0);
    assert.equal(v.tip.nextSeq, 2 ** 32 + 18);
    assert.equal(v.tip.height, 2 ** 33 + 1);
  });

  test('the same nonce from two different senders is fine', () => {
    const s = sealBatch(rules, GENESIS_TIP, [admit(makeSubmission(ALICE_KEY, 7n, txs('a'))), admit(makeSubmission(BOB_KEY, 7n, txs('b')))], T0, PRIMARY_KEY);
    verifyBatch(rules, GENESIS_TIP, roundTrip(s.batch), T0);
  });

  test('a submission expiring exactly at the header timestamp is accepted; expiry 0 never expires', () => {
    const s = makeSubmission(ALICE_KEY, 3n, txs('a'), { expiry: T0 / 1000 });
    const t = makeSubmission(BOB_KEY, 3n, txs('b'), { expiry: 0 });
    const sealed = sealBatch(rules, GENESIS_TIP, [admit(s), admit(t)], T0, PRIMARY_KEY);
    verifyBatch(rules, GENESIS_TIP, roundTrip(sealed.batch), T0);
  });

  test('a header at exactly now + MAX_CLOCK_SKEW_MS is accepted', () => {
    const { sealed } = firstBatch();
    verifyBatch(rules, GENESIS_TIP, roundTrip(sealed.batch), T0 - MAX_CLOCK_SKEW_MS);
  });

  test('wire layout: version | header | signature | count u32 | submissions', () => {
    const { a, b, c, sealed } = firstBatch();
    const bytes = encodeBatch(sealed.batch);
    assert.equal(BATCH_VERSION, 1);
    assert.equal(bytes[0], 1);
    assert.deepEqual(bytes.subarray(1, 230), encodeSignedHeader(sealed.batch));
    assert.equal(toHex(bytes.subarray(230, 234)), '0x00000003');
    assert.deepEqual(bytes.subarray(234), new Uint8Array(Buffer.concat([a, b, c].map(encodeSubmission))));
    assert.deepEqual(peekSignedHeader(bytes).signature, sealed.batch.signature);
    assert.deepEqual({ ...peekSignedHeader(bytes).header }, { ...sealed.batch.header });
    const d = decodeBatch(bytes);
    assert.deepEqual(encodeBatch(d), bytes);
    assert.equal(txCount(d.submissions), 5);
  });

  test('nonceKey is sender[20] | nonce u64', () => {
    assert.deepEqual(nonceKey(ALICE, 2n ** 64n - 1n), new Uint8Array([...ALICE, ...u64be(2n ** 64n - 1n)]));
  });

  test('verifyHeaderSignature returns the header hash', () => {
    const { sealed } = firstBatch();
    assert.deepEqual(verifyHeaderSignature(rules, sealed.batch), sealed.headerHash);
  });
});

describe('verifyBatch rejects', () => {
  const { a, sealed } = firstBatch();
  const batch = sealed.batch;

  test('a batch of another log id', () => {
    rejects(batch, GENESIS_TIP, /^batch for another log$/, T0, makeRules([ALICE, BOB], { logId: rand(32) }));
    rejects(resign(batch, { logId: rand(32) }), GENESIS_TIP, /^batch for another log$/);
  });

  test('a header signed by a non-primary key', () => {
    rejects(resign(batch, {}, MALLORY_KEY), GENESIS_TIP, new RegExp(`^header signed by ${toHex(MALLORY)}, not by the primary$`));
    // Also: the right key but another primary configured.
    rejects(batch, GENESIS_TIP, /not by the primary/, T0, makeRules([ALICE, BOB], { primary: MALLORY }));
    // Also: a signature over another chain's domain recovers someone else.
    rejects(batch, GENESIS_TIP, /not by the primary/, T0, makeRules([ALICE, BOB], { chainId: 1 }));
  });

  test('a malleated (high-s) header signature', () => {
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const sig = new Uint8Array(batch.signature);
    const s = BigInt(toHex(sig.subarray(32, 64)));
    sig.set(Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex'), 32);
    sig[64] = sig[64] === 27 ? 28 : 27;
    rejects({ ...batch, signature: sig }, GENESIS_TIP, /^header signature: .*upper half/);
  });

  test('a malformed header signature', () => {
    const sig = new Uint8Array(batch.signature);
    sig[64] = 1;
    rejects({ ...batch, signature: sig }, GENESIS_TIP, /^header signature: signature v must be 27 or 28$/);
  });

  test('a non-zero view', () => {
    rejects(resign(batch, { view: 1 }), GENESIS_TIP, /^unknown view 1$/);
    // Already by the header check alone, which gossip, sync and the equivocation watch use before keeping a header.
    assert.throws(() => verifyHeaderSignature(rules, resign(batch, { view: 1, height: 5 })), { name: 'BatchRejectedError', message: 'unknown view 1' });
  });

  test('a wrong height', () => {
    rejects(resign(batch, { height: 1 }), GENESIS_TIP, /^height 1 does not follow -1$/);
    rejects(batch, { ...GENESIS_TIP, height: 0 }, /^height 0 does not follow 0$/);
  });

  test('a wrong prevHeaderHash', () => {
    rejects(resign(batch, { prevHeaderHash: rand(32) }), GENESIS_TIP, /^previous header hash does not match$/);
    rejects(batch, { ...GENESIS_TIP, headerHash: rand(32) }, /^previous header hash does not match$/);
  });

  test('a wrong firstSeq', () => {
    rejects(resign(batch, { firstSeq: 1 }), GENESIS_TIP, /^first sequence number 1, expected 0$/);
    rejects(batch, { ...GENESIS_TIP, nextSeq: 3 }, /^first sequence number 0, expected 3$/);
  });

  test('a timestamp going backwards', () => {
    rejects(batch, { ...GENESIS_TIP, timestamp: T0 + 1 }, /^timestamp goes backwards$/);
    const next = sealBatch(rules, sealed.tip, [admit(makeSubmission(BOB_KEY, 5n, txs('n')))], T0, PRIMARY_KEY);
    rejects(resign(next.batch, { timestamp: T0 - 1 }), sealed.tip, /^timestamp goes backwards$/);
  });

  test('a timestamp too far in the future', () => {
    rejects(batch, GENESIS_TIP, /^timestamp too far in the future$/, T0 - MAX_CLOCK_SKEW_MS - 1);
    rejects(resign(batch, { timestamp: T0 + MAX_CLOCK_SKEW_MS + 1 }), GENESIS_TIP, /^timestamp too far in the future$/, T0);
    // Clock-dependent, so "not yet valid" (ignored and retried) rather than invalid (rejected, peer penalised).
    assert.throws(() => verifyBatch(rules, GENESIS_TIP, roundTrip(batch), T0 - MAX_CLOCK_SKEW_MS - 1), BatchNotYetValidError);
  });

  test('a count mismatch', () => {
    rejects(resign(batch, { count: 6 }), GENESIS_TIP, /^header counts 6 transactions, batch holds 5$/);
    rejects(resign(batch, { count: 4 }), GENESIS_TIP, /^header counts 4 transactions, batch holds 5$/);
    rejects({ ...resign(batch, { count: 0 }), submissions: [] }, GENESIS_TIP, /^header counts 0 transactions, batch holds 0$/);
    rejects({ ...batch, submissions: batch.submissions.slice(0, 2) }, GENESIS_TIP, /^header counts 5 transactions, batch holds 4$/);
  });

  test('a sender not allowed', () => {
    rejects(batch, GENESIS_TIP, new RegExp(`^sender ${toHex(ALICE)} not allowed$`), T0, makeRules([BOB]));
    const m = sealBatch(rules, GENESIS_TIP, [admit(makeSubmission(MALLORY_KEY, 1n, txs('m')))], T0, PRIMARY_KEY);
    rejects(m.batch, GENESIS_TIP, new RegExp(`^sender ${toHex(MALLORY)} not allowed$`));
  });

  test('an expired submission (expiry * 1000 < header timestamp)', () => {
    const s = makeSubmission(ALICE_KEY, 4n, txs('late'), { expiry: T0 / 1000 - 1 });
    const e = sealBatch(rules, GENESIS_TIP, [admit(s)], T0, PRIMARY_KEY);
    rejects(e.batch, GENESIS_TIP, new RegExp(`^submission of ${toHex(ALICE)} expired before the batch$`));
    // One millisecond past the expiry second.
    const s2 = makeSubmission(ALICE_KEY, 4n, txs('late'), { expiry: T0 / 1000 });
    const e2 = sealBatch(rules, GENESIS_TIP, [admit(s2)], T0 + 1, PRIMARY_KEY);
    rejects(e2.batch, GENESIS_TIP, /expired before the batch/);
  });

  test('a submission signed by someone else', () => {
    const forged = makeSubmission(MALLORY_KEY, 1n, txs('forged'), { sender: ALICE });
    const f = sealBatch(rules, GENESIS_TIP, [admit(forged)], T0, PRIMARY_KEY);
    rejects(f.batch, GENESIS_TIP, new RegExp(`^submission signature of ${toHex(ALICE)} does not match$`));
  });

  test('a malformed submission signature', () => {
    const bad = { ...a, signature: new Uint8Array(a.signature) };
    bad.signature[64] = 0;
    const f = sealBatch(rules, GENESIS_TIP, [admit(bad)], T0, PRIMARY_KEY);
    rejects(f.batch, GENESIS_TIP, /^submission signature: signature v must be 27 or 28$/);
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const high = { ...a, signature: new Uint8Array(a.signature) };
    high.signature.set(Buffer.from((N - BigInt(toHex(a.signature.subarray(32, 64)))).toString(16).padStart(64, '0'), 'hex'), 32);
    high.signature[64] = a.signature[64] === 27 ? 28 : 27;
    rejects(sealBatch(rules, GENESIS_TIP, [admit(high)], T0, PRIMARY_KEY).batch, GENESIS_TIP, /^submission signature: .*upper half/);
  });

  test('a payload changed after sealing', () => {
    // Flipping a payload byte breaks the submission signature first...
    const bytes = encodeBatch(batch);
    const idx = 234 + 101 + 4 + 4; // first payload byte of the first submission
    assert.equal(bytes[idx], 'a'.charCodeAt(0));
    const tampered = new Uint8Array(bytes);
    tampered[idx] ^= 1;
    assert.throws(() => verifyBatch(rules, GENESIS_TIP, decodeBatch(tampered), T0), /^BatchRejectedError: submission signature of .* does not match$/);
    // ...and with the submission re-signed by its sender over the new payload (header re-signed, count still
    // correct), the entry chain no longer reaches the signed head.
    const changed = makeSubmission(ALICE_KEY, 1n, [new Uint8Array([...'alice-1'].map((ch, i) => ch.charCodeAt(0) ^ (i === 0 ? 1 : 0)))]);
    const subs = [changed, ...batch.submissions.slice(1)];
    const b2 = resign({ ...batch, submissions: subs }, { count: 5 });
    rejects(b2, GENESIS_TIP, /^chain head does not match the entries$/);
  });

  test('a wrong entriesRoot with the correct headHash', () => {
    rejects(resign(batch, { entriesRoot: rand(32) }), GENESIS_TIP, /^entries root does not match the entries$/);
    // Leaves in another order give another root.
    const leaves = [0, 1, 2, 3, 4].map((i) => sealed.tree.leaf(i));
    const swapped = merkleRoot(new Uint8Array(Buffer.concat([leaves[1], leaves[0], ...leaves.slice(2)])));
    rejects(resign(batch, { entriesRoot: swapped }), GENESIS_TIP, /^entries root does not match the entries$/);
  });

  test('a wrong headHash', () => {
    rejects(resign(batch, { headHash: rand(32) }), GENESIS_TIP, /^chain head does not match the entries$/);
    rejects(batch, { ...GENESIS_TIP, headHash: rand(32) }, /^chain head does not match the entries$/);
  });

  test('a nonce repeated within the batch', () => {
    const x = makeSubmission(ALICE_KEY, 5n, txs('one'));
    const y = makeSubmission(ALICE_KEY, 5n, txs('two'));
    const r = sealBatch(rules, GENESIS_TIP, [admit(x), admit(y)], T0, PRIMARY_KEY);
    rejects(r.batch, GENESIS_TIP, /^nonce 5 repeated in the batch$/);
    // The same submission twice.
    rejects(sealBatch(rules, GENESIS_TIP, [admit(x), admit(x)], T0, PRIMARY_KEY).batch, GENESIS_TIP, /^nonce 5 repeated in the batch$/);
  });

  test('checks run in the documented order', () => {
    // view before height before link before firstSeq before timestamps before count.
    rejects(resign(batch, { logId: rand(32), view: 1 }), GENESIS_TIP, /another log/);
    rejects(resign(batch, { view: 2, height: 9 }, MALLORY_KEY), GENESIS_TIP, /not by the primary/);
    rejects(resign(batch, { view: 2, height: 9 }), GENESIS_TIP, /unknown view/);
    rejects(resign(batch, { height: 9, prevHeaderHash: rand(32) }), GENESIS_TIP, /height 9/);
    rejects(resign(batch, { prevHeaderHash: rand(32), firstSeq: 3 }), GENESIS_TIP, /previous header hash/);
    rejects(resign(batch, { firstSeq: 3, timestamp: T0 * 2 }), GENESIS_TIP, /first sequence number/);
    rejects(resign(batch, { timestamp: T0 * 2, count: 1 }), GENESIS_TIP, /future/);
    rejects(resign(batch, { count: 1, headHash: rand(32) }), GENESIS_TIP, /header counts/);
    // Per submission: allowlist, expiry, signature, nonce; then chain head, then root.
    const forgedExpired = makeSubmission(MALLORY_KEY, 1n, txs('f'), { sender: ALICE, expiry: 1 });
    rejects(sealBatch(rules, GENESIS_TIP, [admit(forgedExpired)], T0, PRIMARY_KEY).batch, GENESIS_TIP, /not allowed/, T0, makeRules([BOB]));
    rejects(sealBatch(rules, GENESIS_TIP, [admit(forgedExpired)], T0, PRIMARY_KEY).batch, GENESIS_TIP, /expired/);
    rejects(resign(batch, { headHash: rand(32), entriesRoot: rand(32) }), GENESIS_TIP, /chain head/);
  });
});

describe('decodeBatch rejects', () => {
  const { sealed } = firstBatch();
  const bytes = encodeBatch(sealed.batch);

  test('an unknown version', () => {
    for (const v of [0, 3, 255]) {
      const b = new Uint8Array(bytes);
      b[0] = v;
      assert.throws(() => decodeBatch(b), DecodeError);
      assert.throws(() => decodeBatch(b), new RegExp(`unknown batch version ${v}`));
      assert.throws(() => peekSignedHeader(b), /unknown batch version/);
    }
  });

  test('truncated input at every length', () => {
    for (let len = 0; len < bytes.byteLength; len++) assert.throws(() => decodeBatch(bytes.subarray(0, len)), DecodeError, `length ${len}`);
    for (let len = 0; len < 230; len++) assert.throws(() => peekSignedHeader(bytes.subarray(0, len)), DecodeError);
  });

  test('trailing bytes', () => {
    assert.throws(() => decodeBatch(new Uint8Array([...bytes, 0])), /1 trailing bytes/);
    // A submission count lower than the submissions present leaves trailing bytes.
    const b = new Uint8Array(bytes);
    b[233] = 2;
    assert.throws(() => decodeBatch(b), /trailing bytes/);
  });

  test('a batch over MAX_BATCH_BYTES', () => {
    const big = new Uint8Array(MAX_BATCH_BYTES + 1);
    big.set(bytes);
    assert.throws(() => decodeBatch(big), new RegExp(`batch larger than ${MAX_BATCH_BYTES} bytes`));
    // Exactly MAX_BATCH_BYTES passes the size check (and then fails on content, not size).
    const exact = new Uint8Array(MAX_BATCH_BYTES);
    exact.set(bytes);
    assert.throws(() => decodeBatch(exact), /trailing bytes/);
  });

  test('a submission count over MAX_BATCH_TXS', () => {
    const b = new Uint8Array(bytes);
    new DataView(b.buffer).setUint32(230, MAX_BATCH_TXS + 1);
    assert.throws(() => decodeBatch(b), /too many submissions/);
  });

  test('more than MAX_BATCH_TXS transactions in total', () => {
    const fake = (i: number): Submission => ({
      sender: rand(20), nonce: BigInt(i), expiry: 0, signature: rand(65), transactions: Array.from({ length: MAX_TXS_PER_SUBMISSION }, () => new Uint8Array(0)),
    });
    const n = MAX_BATCH_TXS / MAX_TXS_PER_SUBMISSION;
    const ok: Batch = { ...sealed.batch, submissions: Array.from({ length: n }, (_, i) => fake(i)) };
    assert.equal(txCount(decodeBatch(encodeBatch(ok)).submissions), MAX_BATCH_TXS);
    const over: Batch = { ...sealed.batch, submissions: [...ok.submissions, { ...fake(99), transactions: [new Uint8Array(0)] }] };
    assert.throws(() => decodeBatch(encodeBatch(over)), new RegExp(`more than ${MAX_BATCH_TXS} transactions in a batch`));
  });

  test('submission-level limits inside a batch', () => {
    const over: Batch = {
      ...sealed.batch,
      submissions: [{ sender: rand(20), nonce: 1n, expiry: 0, signature: rand(65), transactions: [new Uint8Array(MAX_TX_BYTES + 1)] }],
    };
    assert.throws(() => decodeBatch(encodeBatch(over)), /transaction larger than/);
    const empty: Batch = { ...sealed.batch, submissions: [{ sender: rand(20), nonce: 1n, expiry: 0, signature: rand(65), transactions: [] }] };
    assert.throws(() => decodeBatch(encodeBatch(empty)), /at least one transaction/);
  });

  test('header u64 fields above 2^53-1', () => {
    const b = new Uint8Array(bytes);
    b.set(u64be(2n ** 60n), 1 + 32);
    assert.throws(() => decodeBatch(b), /above 2\^53-1/);
  });
});

describe('digests used in verification', () => {
  test('verifyBatch hashes the wire txList (sha256) to get each digest', () => {
    const { sealed } = firstBatch();
    const d = roundTrip(sealed.batch);
    const v = verifyBatch(rules, GENESIS_TIP, d, T0);
    for (let i = 0; i < d.submissions.length; i++) {
      const s = d.submissions[i];
      assert.deepEqual(v.digests[i], submissionDigest(SEPARATOR, s, sha256(s.txList)));
    }
  });

  test('a signature by the primary over a submission digest is not a header signature', () => {
    const { sealed } = firstBatch();
    const wrong = sign(submissionDigest(SEPARATOR, sealed.batch.submissions[0]), PRIMARY_KEY);
    rejects({ ...sealed.batch, signature: wrong }, GENESIS_TIP, /not by the primary/);
  });
});

describe('wire form 2 (the first header of a view, with its justification)', () => {
  const { a, b, c, sealed } = firstBatch();
  // Structurally valid parts: decoding judges the form only (checkViewEntry judges the signatures).
  const threeOfFour = Uint8Array.of(0b0111);
  const justification: Justification = {
    tc: { view: 4, n: 4, signers: threeOfFour, entries: [0, 1, 2].map(() => ({ lock: null, signature: rand(65) })) },
    highLockCert: { kind: 1, view: 3, height: 0, headerHash: rand(32), n: 4, signers: threeOfFour, signatures: [rand(65), rand(65), rand(65)] },
  };
  const j = encodeJustification(justification);
  const u32be = (n: number) => new Writer(4).u32(n).finish();
  const bytes = encodeBatch({ ...sealed.batch, justification });

  test('layout: version 2 | header | signature | justificationLength u32 | justification | count u32 | submissions', () => {
    assert.equal(JUSTIFIED_BATCH_VERSION, 2);
    assert.equal(bytes[0], 2);
    assert.deepEqual(bytes.subarray(1, 230), encodeSignedHeader(sealed.batch));
    assert.deepEqual(bytes.subarray(230, 234), u32be(j.byteLength));
    assert.deepEqual(bytes.subarray(234, 234 + j.byteLength), j);
    assert.deepEqual(bytes.subarray(234 + j.byteLength, 238 + j.byteLength), u32be(3));
    assert.deepEqual(bytes.subarray(238 + j.byteLength), new Uint8Array(Buffer.concat([a, b, c].map(encodeSubmission))));
    const d = decodeBatch(bytes);
    assert.deepEqual(encodeJustification(d.justification!), j);
    assert.deepEqual(encodeBatch(d), bytes);
    assert.deepEqual(peekSignedHeader(bytes).signature, sealed.batch.signature);
    assert.equal([...submissionsOf(bytes)].length, 3);
    // Without a justification the form is 1, byte for byte, and decodes with none.
    const plain = encodeBatch(sealed.batch);
    assert.deepEqual(plain, Uint8Array.from([1, ...bytes.subarray(1, 230), ...bytes.subarray(234 + j.byteLength)]));
    assert.equal(decodeBatch(plain).justification, undefined);
  });

  test('decodeBatch refuses a justification over 65536 bytes, one overrunning or underrunning its length, a malformed one, truncation', () => {
    const length = (n: number) => Uint8Array.from([...bytes.subarray(0, 230), ...u32be(n), ...bytes.subarray(234)]);
    assert.throws(() => decodeBatch(length(MAX_JUSTIFICATION_BYTES + 1)), /justification of 65537 bytes, at most 65536/);
    assert.throws(() => decodeBatch(length(j.byteLength + 1)), /trailing/);
    assert.throws(() => decodeBatch(length(j.byteLength - 1)), DecodeError);
    assert.throws(() => decodeBatch(length(0)), DecodeError);
    const flags = Uint8Array.from(bytes);
    flags[234] = 0b111;
    assert.throws(() => decodeBatch(flags), /unknown bits/);
    for (let len = 0; len < 234 + j.byteLength + 4; len++) assert.throws(() => decodeBatch(bytes.subarray(0, len)), DecodeError, `length ${len}`);
    assert.throws(() => decodeBatch(Uint8Array.from([...bytes, 0])), /trailing/);
  });
});
