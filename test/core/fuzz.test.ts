/**
 * Mutation fuzzing of the decoders and the batch verifier: whatever bytes arrive, they either decode and verify
 * to the original batch, or fail with DecodeError / BatchRejectedError; never another exception, never success
 * for altered contents. Deterministic (seeded), so a failure reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, equalBytes } from '../../src/core/bytes.ts';
import { decodeBatch, encodeBatch, GENESIS_TIP, sealBatch, verifyBatch } from '../../src/core/batch.ts';
import { BatchRejectedError } from '../../src/core/errors.ts';
import { decodeSubmission, encodeSubmission } from '../../src/core/submission.ts';
import { decodeSignedHeader } from '../../src/core/header.ts';
import { ALICE_KEY, BOB_KEY, PRIMARY_KEY, admit, makeRules, makeSubmission, txs } from './helpers.ts';

/** xorshift32: small, seeded, good enough to pick mutation sites. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function mutate(bytes: Uint8Array, rnd: () => number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const kind = Math.floor(rnd() * 4);
  if (kind === 0) out[Math.floor(rnd() * out.length)] ^= 1 << Math.floor(rnd() * 8); // flip a bit
  else if (kind === 1) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256); // overwrite a byte
  else if (kind === 2) return out.subarray(0, Math.floor(rnd() * out.length)); // truncate
  else { // splice in random bytes
    const at = Math.floor(rnd() * out.length);
    const extra = Uint8Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => Math.floor(rnd() * 256));
    const spliced = new Uint8Array(out.length + extra.length);
    spliced.set(out.subarray(0, at));
    spliced.set(extra, at);
    spliced.set(out.subarray(at), at + extra.length);
    return spliced;
  }
  return out;
}

const T0 = 1_700_000_000_000;
const rules = makeRules();
const subs = [
  makeSubmission(ALICE_KEY, 1n, txs('alpha', 'beta')),
  makeSubmission(BOB_KEY, 7n, txs('gamma')),
  makeSubmission(ALICE_KEY, 2n, txs('delta', 'epsilon', 'zeta')),
];
const sealed = sealBatch(rules, GENESIS_TIP, subs.map((s) => admit(s)), T0, PRIMARY_KEY);
const original = encodeBatch(sealed.batch);

test('mutated batches: decode and verify fail cleanly, and nothing altered ever verifies', () => {
  const rnd = prng(0xc0ffee);
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = mutate(original, rnd);
    try {
      const v = verifyBatch(rules, GENESIS_TIP, decodeBatch(bytes), T0);
      // Only a mutation that left the bytes as they were (e.g. a byte overwritten with itself) may verify.
      assert.ok(equalBytes(bytes, original), `mutation ${i} verified although the bytes changed`);
      assert.ok(equalBytes(v.tip.headHash, sealed.tip.headHash));
    } catch (e) {
      if (!(e instanceof DecodeError || e instanceof BatchRejectedError)) throw e;
      rejected++;
    }
  }
  assert.ok(rejected > 2900);
});

test('random and mutated inputs to the submission and header decoders fail with DecodeError only', () => {
  const rnd = prng(42);
  const submission = encodeSubmission(subs[2]);
  const header = original.subarray(1, 1 + 164 + 65);
  for (let i = 0; i < 3000; i++) {
    for (const [input, decode] of [[submission, decodeSubmission], [header, decodeSignedHeader]] as const) {
      const bytes = i % 3 === 0 ? Uint8Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)) : mutate(input, rnd);
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }
  }
});
