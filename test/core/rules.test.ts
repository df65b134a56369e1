/**
 * The rule book (src/core/rules.ts): one judgement for the primary and every verifier, in one order, with the
 * reason each of them gives. The verifier's messages are also asserted, batch by batch, in batch.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toHex } from '../../src/core/bytes.ts';
import { ErrorCode } from '../../src/core/errors.ts';
import { MAX_SUBMISSION_BYTES, MAX_TX_BYTES, MAX_TXS_PER_SUBMISSION } from '../../src/core/limits.ts';
import { admissionError, describeViolation, judgeSubmission, limitViolation, nonceViolation, type Violation } from '../../src/core/rules.ts';
import { submissionDigest, type Submission } from '../../src/core/submission.ts';
import { ALICE, ALICE_KEY, BOB, MALLORY, MALLORY_KEY, makeRules, makeSubmission, SEPARATOR, txs } from './helpers.ts';

const T0 = 1767225000000;
const rules = makeRules([ALICE, BOB]);

function judge(s: Submission, at = T0): Violation | null {
  return judgeSubmission(rules, s, { at, digest: submissionDigest(SEPARATOR, s) });
}

describe('judgeSubmission', () => {
  test('a well-formed, allowed, unexpired submission signed by its sender passes', () => {
    assert.equal(judge(makeSubmission(ALICE_KEY, 1n, txs('a', 'b'))), null);
    assert.equal(judge(makeSubmission(ALICE_KEY, 1n, txs('a'), { expiry: T0 / 1000 })), null, 'valid through the whole millisecond expiry * 1000');
  });

  test('limits, then allowlist, then expiry, then signature: the first failure decides', () => {
    const expired = { expiry: T0 / 1000 - 1 };
    const empty = { ...makeSubmission(MALLORY_KEY, 1n, txs('x'), expired), transactions: [] };
    assert.equal(judge(empty)?.kind, 'empty');
    const forged = { ...makeSubmission(MALLORY_KEY, 1n, txs('x'), expired), signature: new Uint8Array(65) };
    assert.equal(judge(forged)?.kind, 'not-allowed');
    assert.equal(judge({ ...makeSubmission(ALICE_KEY, 1n, txs('x'), expired), signature: new Uint8Array(65) })?.kind, 'expired');
    assert.equal(judge({ ...makeSubmission(ALICE_KEY, 1n, txs('x')), signature: new Uint8Array(65) })?.kind, 'bad-signature');
  });

  test('each limit of one submission', () => {
    const over = (transactions: Uint8Array[]) => limitViolation({ ...makeSubmission(ALICE_KEY, 1n, txs('x')), transactions });
    assert.deepEqual(over(Array.from({ length: MAX_TXS_PER_SUBMISSION + 1 }, () => new Uint8Array(1))), { kind: 'too-large', limit: 'transactions per submission', max: MAX_TXS_PER_SUBMISSION });
    assert.deepEqual(over([new Uint8Array(MAX_TX_BYTES + 1)]), { kind: 'too-large', limit: 'transaction size in bytes', max: MAX_TX_BYTES });
    assert.deepEqual(over(Array.from({ length: 17 }, () => new Uint8Array(MAX_TX_BYTES))), { kind: 'too-large', limit: 'submission size in bytes', max: MAX_SUBMISSION_BYTES });
    assert.equal(over([new Uint8Array(MAX_TX_BYTES)]), null);
  });

  test('a signature by another key names the signer; one that does not recover says why', () => {
    const s = makeSubmission(MALLORY_KEY, 1n, txs('x'), { sender: ALICE });
    const v = judge(s);
    assert.equal(v?.kind, 'bad-signature');
    assert.deepEqual(v?.kind === 'bad-signature' && v.signer, MALLORY);
    const broken = judge({ ...makeSubmission(ALICE_KEY, 1n, txs('x')), signature: new Uint8Array(65) });
    assert.ok(broken?.kind === 'bad-signature' && broken.signer === null && broken.reason.length > 0);
  });
});

describe('nonceViolation', () => {
  const s = makeSubmission(ALICE_KEY, 7n, txs('x'));
  test('unused passes; used at a height, or earlier in the same batch, is a replay', () => {
    assert.equal(nonceViolation(s, undefined), null);
    assert.deepEqual(nonceViolation(s, 3), { kind: 'nonce-replayed', sender: s.sender, nonce: 7n, height: 3 });
    assert.deepEqual(nonceViolation(s, 'in-batch'), { kind: 'nonce-replayed', sender: s.sender, nonce: 7n, height: null });
  });
});

describe('one violation, two voices: the primary\'s RPC error and the verifier\'s rejection reason', () => {
  const s = makeSubmission(ALICE_KEY, 5n, txs('x'));
  const cases: [Violation, number, string][] = [
    [{ kind: 'empty' }, ErrorCode.InvalidParams, 'a submission needs at least one transaction'],
    [{ kind: 'too-large', limit: 'transactions per submission', max: 1024 }, ErrorCode.TooLarge, 'more than 1024 transactions in a submission'],
    [{ kind: 'not-allowed', sender: ALICE }, ErrorCode.NotAllowed, `sender ${toHex(ALICE)} not allowed`],
    [{ kind: 'expired', sender: ALICE, expiry: 10, at: 20_500 }, ErrorCode.Expired, `submission of ${toHex(ALICE)} expired before the batch`],
    [{ kind: 'bad-signature', sender: ALICE, signer: MALLORY, reason: 'signed by another key' }, ErrorCode.BadSignature, `submission signature of ${toHex(ALICE)} does not match`],
    [{ kind: 'bad-signature', sender: ALICE, signer: null, reason: 'signature v must be 27 or 28' }, ErrorCode.BadSignature, 'submission signature: signature v must be 27 or 28'],
    [nonceViolation(s, 'in-batch')!, ErrorCode.NonceReplayed, 'nonce 5 repeated in the batch'],
    [nonceViolation(s, 2)!, ErrorCode.NonceReplayed, `nonce 5 of ${toHex(ALICE)} was used at height 2`],
  ];
  for (const [v, code, reason] of cases) {
    test(`${v.kind}: ${reason}`, () => {
      assert.equal(admissionError(v).code, code);
      assert.equal(describeViolation(v), reason);
    });
  }
  test('the primary\'s messages', () => {
    assert.equal(admissionError({ kind: 'too-large', limit: 'transaction size in bytes', max: MAX_TX_BYTES }).message, `transaction size in bytes exceeds the limit of ${MAX_TX_BYTES}`);
    assert.equal(admissionError({ kind: 'expired', sender: ALICE, expiry: 10, at: 20_500 }).message, 'submission expired at 10 (now 20)');
    assert.equal(admissionError({ kind: 'bad-signature', sender: ALICE, signer: MALLORY, reason: '' }).message, `bad signature: signed by ${toHex(MALLORY)}, not by the sender ${toHex(ALICE)}`);
  });
});
