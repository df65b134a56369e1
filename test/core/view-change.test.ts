/**
 * The pure pieces of a view change (docs/protocol.md §View change): timeout messages and their checks, timeout
 * certificates built from them, the timeouts topic framing, the batch wire form 2 with its justification, and the
 * view-entry check of the first header of a view (rule L3: extend or re-propose the TC's highest lock).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError, ZERO32 } from '../../src/core/bytes.ts';
import { GENESIS_TIP, decodeBatch, encodeBatch, sealBatch, submissionsOf, type Tip } from '../../src/core/batch.ts';
import { buildCertificate, checkTimeoutCertificate, highLock, type Certificate } from '../../src/core/certificate.ts';
import { BatchRejectedError, CertificateRejectedError } from '../../src/core/errors.ts';
import { headerHash, isAllowedView } from '../../src/core/header.ts';
import { checkViewEntry, decodeJustification, encodeJustification, type Justification } from '../../src/core/justification.ts';
import { Membership } from '../../src/core/membership.ts';
import type { LogRules } from '../../src/core/rules.ts';
import { addressFromPrivateKey, sign } from '../../src/core/signature.ts';
import { submissionDigest } from '../../src/core/submission.ts';
import {
  buildTimeoutCertificate, checkTimeoutMessage, decodeTimeoutMessage, decodeTimeoutTopicMessage, encodeTimeoutMessage, encodeTimeoutTopicMessage,
  type TimeoutMessage,
} from '../../src/core/timeout.ts';
import { VoteKind, digestOfTimeout, signVoteUnchecked, type LockRef, type Vote } from '../../src/core/vote.ts';
import { SubmissionSigner } from '../../src/client/submission-signer.ts';
import { LOG_ID, patternKey, SEPARATOR } from './helpers.ts';

const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))), isAllowed: () => true };
const client = new SubmissionSigner(patternKey(0x22), SEPARATOR);
let nonce = 0n;

/** A batch of one submission sealed by the leader of `view` on `tip`. */
function seal(tip: Tip, view: number, timestamp = 1_700_000_000_000) {
  const s = client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] });
  return sealBatch(RULES, tip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], timestamp, KEYS[view % 4], view);
}

const genesis = seal(GENESIS_TIP, 0);
const second = seal(genesis.tip, 0);
const lockOf = (b: typeof genesis, view = 0): LockRef => ({ view, height: b.tip.height, headerHash: b.headerHash });
const lockCert = (lock: LockRef, signers = [0, 1, 2]): Certificate => {
  const vote: Vote = { kind: VoteKind.lock, ...lock };
  return buildCertificate(4, vote, new Map(signers.map((i) => [i, signVoteUnchecked(RULES, vote, KEYS[i]).signature])));
};
function timeout(i: number, view: number, lock: LockRef | null): TimeoutMessage {
  return { view, lock, signerIndex: i, signature: sign(digestOfTimeout(RULES, view, lock), KEYS[i]), certificate: lock ? lockCert(lock) : undefined };
}

test('a timeout message round-trips and checks; a forged signer, a lock without its certificate, or a certificate of another header is refused', () => {
  const m = timeout(1, 0, lockOf(second));
  const back = decodeTimeoutMessage(encodeTimeoutMessage(m));
  assert.deepEqual(back.lock, m.lock);
  assert.equal(checkTimeoutMessage(RULES, back).signerIndex, 1);
  const bottom = timeout(2, 0, null);
  assert.equal(decodeTimeoutMessage(encodeTimeoutMessage(bottom)).lock, null);
  checkTimeoutMessage(RULES, bottom);
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, signerIndex: 2 }), CertificateRejectedError);
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: undefined }), CertificateRejectedError);
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: lockCert(lockOf(genesis)) }), /not for the lock/);
  const bytes = encodeTimeoutMessage(m);
  assert.throws(() => decodeTimeoutMessage(bytes.subarray(0, bytes.byteLength - 1)), DecodeError);
  const noCert = encodeTimeoutMessage({ ...m, certificate: undefined });
  assert.throws(() => decodeTimeoutMessage(noCert), /exactly when its lock/);
});

test('three timeouts of one view make a TC that checks, whose highest lock is the highest reported; two do not', () => {
  const ts = [timeout(0, 0, lockOf(genesis)), timeout(1, 0, lockOf(second)), timeout(3, 0, null)].map((t) => checkTimeoutMessage(RULES, t));
  const tc = buildTimeoutCertificate(4, 0, ts);
  checkTimeoutCertificate(RULES, tc);
  assert.deepEqual(highLock(tc), lockOf(second));
  assert.throws(() => checkTimeoutCertificate(RULES, buildTimeoutCertificate(4, 0, ts.slice(0, 2))), /quorum/);
  // The topic carries the TC with its lock certificate.
  const framed = decodeTimeoutTopicMessage(encodeTimeoutTopicMessage({ kind: 'tc', tc, highLockCert: ts[1].certificate }));
  assert.equal(framed.kind, 'tc');
  assert.throws(() => decodeTimeoutTopicMessage(Uint8Array.of(9)), DecodeError);
});

function tcOf(view: number, locks: (LockRef | null)[]) {
  return buildTimeoutCertificate(4, view, locks.map((l, i) => checkTimeoutMessage(RULES, timeout(i, view, l))));
}

test('batch wire form 2 carries the justification; form 1 bytes are unchanged; submissionsOf skips it', () => {
  const tc = tcOf(0, [lockOf(second), null, null]);
  const j: Justification = { tc, highLockCert: lockCert(lockOf(second)) };
  assert.deepEqual(decodeJustification(encodeJustification(j)).tc?.view, 0);
  const next = seal(second.tip, 1);
  const v2 = encodeBatch({ ...next.batch, justification: j });
  assert.equal(v2[0], 2);
  const decoded = decodeBatch(v2);
  assert.equal(decoded.justification?.tc?.view, 0);
  assert.equal([...submissionsOf(v2)].length, 1);
  assert.equal(encodeBatch(next.batch)[0], 1);
  assert.equal(decodeBatch(encodeBatch(next.batch)).justification, undefined);
  assert.throws(() => decodeJustification(Uint8Array.of(2)), /without its timeout certificate/);
  assert.throws(() => decodeJustification(Uint8Array.of(4)), /unknown bits/);
});

test('a view entry: extending or re-proposing the highest lock is accepted; anything else is refused', () => {
  const high = lockOf(second);
  const j: Justification = { tc: tcOf(0, [high, lockOf(genesis), null]), highLockCert: lockCert(high) };
  const extension = seal(second.tip, 1).batch.header;
  const entry = checkViewEntry(RULES, extension, j);
  assert.deepEqual(entry.viewEntry, { tcView: 0, highLock: high, reproposal: false });
  // The re-proposal: the locked header itself but for its view.
  const reproposal = { ...second.batch.header, view: 1 };
  assert.equal(checkViewEntry(RULES, reproposal, j).viewEntry.reproposal, true);
  assert.throws(() => checkViewEntry(RULES, { ...reproposal, timestamp: reproposal.timestamp + 1 }, j), BatchRejectedError);
  assert.throws(() => checkViewEntry(RULES, { ...extension, height: extension.height + 1 }, j), /re-propose or extend/);
  assert.throws(() => checkViewEntry(RULES, { ...extension, prevHeaderHash: genesis.headerHash }, j), /re-propose or extend/);
  assert.throws(() => checkViewEntry(RULES, { ...extension, view: 2 }, j), /not TC\(1\)/);
  assert.throws(() => checkViewEntry(RULES, extension, { tc: j.tc }), /highest lock is missing/);
  assert.throws(() => checkViewEntry(RULES, extension, { tc: j.tc, highLockCert: lockCert(lockOf(genesis)) }), /not for the TC's highest lock/);
  assert.throws(() => checkViewEntry(RULES, extension, {}), /no timeout certificate/);
  // With every lock ⊥ the view starts the log.
  const none: Justification = { tc: tcOf(0, [null, null, null]) };
  assert.equal(checkViewEntry(RULES, { ...genesis.batch.header, view: 1, prevHeaderHash: ZERO32 }, none).viewEntry.highLock, null);
  assert.throws(() => checkViewEntry(RULES, extension, none), /must start the log/);
  assert.equal(headerHash(SEPARATOR, second.batch.header).byteLength, 32);
});

test('views: a log of one validator allows view 0 only; a log of more, any view up to 2^53 - 1', () => {
  assert.equal(isAllowedView(0, 1), true);
  assert.equal(isAllowedView(1, 1), false);
  assert.equal(isAllowedView(7, 4), true);
  assert.equal(isAllowedView(-1, 4), false);
});
