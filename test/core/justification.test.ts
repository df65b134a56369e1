/**
 * A batch's justification (docs/protocol.md §Batch, wire form 2) and the view-entry check of the first header of a
 * view (rule L3: TC(v − 1), the certificate of its highest lock, and a header that re-proposes or extends it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError, ZERO32 } from '../../src/core/bytes.ts';
import { encodeCertificate, encodeTimeoutCertificate } from '../../src/core/certificate.ts';
import { BatchRejectedError, CertificateRejectedError } from '../../src/core/errors.ts';
import { contentEqual, headerHash, type Header } from '../../src/core/header.ts';
import { checkViewEntry, decodeJustification, encodeJustification, MAX_JUSTIFICATION_BYTES, type Justification } from '../../src/core/justification.ts';
import { sign } from '../../src/core/signature.ts';
import { VoteKind, digestOfTimeout } from '../../src/core/vote.ts';
import { certOf, genesis, KEYS, lockOf, RULES, seal, second, tcOf } from './view-fixtures.ts';

const high = lockOf(second);
const justified: Justification = { tc: tcOf(0, [high, lockOf(genesis), null]), highLockCert: certOf(high) };
const extension = seal(second.tip, 1).batch.header;
/** The locked header of height 1 but for its view: what the leader of view 1 re-proposes. */
const reproposal: Header = { ...second.batch.header, view: 1 };

/** Refused by checkViewEntry with a BatchRejectedError whose message matches. */
function refused(header: Header, j: Justification, message: RegExp): void {
  assert.throws(() => checkViewEntry(RULES, header, j), (e: unknown) => e instanceof BatchRejectedError && message.test(e.message));
}

test('justification layout: flags | [TC] | [certificate]; it round-trips with either part', () => {
  const bytes = encodeJustification(justified);
  assert.deepEqual(bytes, Uint8Array.from([3, ...encodeTimeoutCertificate(justified.tc!), ...encodeCertificate(justified.highLockCert!)]));
  const back = decodeJustification(bytes);
  assert.deepEqual(encodeJustification(back), bytes);
  const tcOnly = encodeJustification({ tc: justified.tc });
  assert.equal(tcOnly[0], 1);
  assert.equal(decodeJustification(tcOnly).highLockCert, undefined);
});

test('decodeJustification refuses unknown flags, a certificate without its TC, trailing bytes, truncation, and more than 65536 bytes', () => {
  for (const flags of [4, 8, 0x80, 0xff]) assert.throws(() => decodeJustification(Uint8Array.of(flags)), /unknown bits/, `flags ${flags}`);
  assert.throws(() => decodeJustification(Uint8Array.from([2, ...encodeCertificate(certOf(high))])), /without its timeout certificate/);
  const bytes = encodeJustification(justified);
  assert.throws(() => decodeJustification(Uint8Array.from([...bytes, 0])), /trailing/);
  for (let len = 0; len < bytes.byteLength; len++) assert.throws(() => decodeJustification(bytes.subarray(0, len)), DecodeError, `length ${len}`);
  const huge = new Uint8Array(MAX_JUSTIFICATION_BYTES + 1);
  huge.set(bytes);
  assert.throws(() => decodeJustification(huge), new RegExp(`at most ${MAX_JUSTIFICATION_BYTES}`));
});

test('checkViewEntry accepts an extension and a re-proposal of the highest lock, with either kind of certificate for it', () => {
  const e = checkViewEntry(RULES, extension, justified);
  assert.deepEqual(e.viewEntry, { tcView: 0, highLock: high, reproposal: false });
  assert.equal(e.highLockCert?.headerHash, second.headerHash);
  assert.deepEqual(checkViewEntry(RULES, reproposal, justified).viewEntry, { tcView: 0, highLock: high, reproposal: true });
  const byCommit = { ...justified, highLockCert: certOf(high, [1, 2, 3], VoteKind.commit) };
  assert.equal(checkViewEntry(RULES, extension, byCommit).highLockCert?.kind, VoteKind.commit);
  // A lock on view 1's re-proposal is re-proposed again in view 2: judged by the hash the header has in the lock's view.
  const relocked = { view: 1, height: 1, headerHash: headerHash(RULES.separator, reproposal) };
  const j: Justification = { tc: tcOf(1, [relocked, high, null]), highLockCert: certOf(relocked) };
  assert.equal(checkViewEntry(RULES, { ...reproposal, view: 2 }, j).viewEntry.reproposal, true);
  const claimed = { view: 1, height: 1, headerHash: second.headerHash };
  refused({ ...reproposal, view: 2 }, { tc: tcOf(1, [claimed, null, null]), highLockCert: certOf(claimed) }, /not a re-proposal/);
});

test('checkViewEntry refuses a wrong TC view, a missing or wrong highLock certificate, an off-by-one height, changed content', () => {
  refused({ ...extension, view: 2 }, justified, /carries TC\(0\), not TC\(1\)/);
  refused(extension, {}, /no timeout certificate/);
  refused(extension, { tc: justified.tc }, /highest lock is missing/);
  refused(extension, { ...justified, highLockCert: certOf(lockOf(genesis)) }, /not for the TC's highest lock/);
  refused(extension, { ...justified, highLockCert: certOf(high, [0, 1]) }, /justification: 2 signers, the quorum is 3/);
  refused({ ...extension, height: 3 }, justified, /re-propose or extend/);
  refused({ ...extension, height: 0 }, justified, /re-propose or extend/);
  refused({ ...extension, prevHeaderHash: genesis.headerHash }, justified, /re-propose or extend/);
  for (const change of [{ timestamp: reproposal.timestamp + 1 }, { entriesRoot: ZERO32 }, { prevHeaderHash: ZERO32 }, { firstSeq: 2 }, { count: 2 }]) {
    refused({ ...reproposal, ...change }, justified, /not a re-proposal of the locked header/);
  }
  refused({ ...extension, view: 0 }, justified, /view 0 has no view entry/);
});

test('checkViewEntry refuses a TC that does not hold, with the certificate failure as its cause', () => {
  const tc = justified.tc!;
  const forged = { ...tc, entries: [tc.entries[0], tc.entries[1], { lock: null, signature: sign(digestOfTimeout(RULES, 0, null), KEYS[3]) }] };
  assert.throws(() => checkViewEntry(RULES, extension, { ...justified, tc: forged }), (e: unknown) => (
    e instanceof BatchRejectedError && e.cause instanceof CertificateRejectedError && e.cause.code === 'certificate-wrong-signer'
  ));
  const two = tcOf(0, [high, null]);
  refused(extension, { tc: two, highLockCert: certOf(high) }, /quorum/);
});

test('with every lock ⊥ the view starts the log: height 0 on nothing, and no certificate', () => {
  const none: Justification = { tc: tcOf(0, [null, null, null]) };
  const start = { ...genesis.batch.header, view: 1 };
  assert.deepEqual(checkViewEntry(RULES, start, none).viewEntry, { tcView: 0, highLock: null, reproposal: false });
  refused(extension, none, /must start the log/);
  refused({ ...start, prevHeaderHash: second.headerHash }, none, /must start the log/);
  refused(start, { ...none, highLockCert: certOf(high) }, /highest lock is ⊥/);
});

test('contentEqual: every field but the view', () => {
  assert.ok(contentEqual(second.batch.header, reproposal));
  assert.ok(contentEqual(reproposal, reproposal));
  const h = second.batch.header;
  const changes: Partial<Header>[] = [
    { logId: ZERO32 }, { height: h.height + 1 }, { firstSeq: h.firstSeq + 1 }, { count: h.count + 1 }, { prevHeaderHash: ZERO32 },
    { headHash: ZERO32 }, { entriesRoot: ZERO32 }, { timestamp: h.timestamp + 1 },
  ];
  for (const change of changes) assert.equal(contentEqual(h, { ...h, ...change }), false, Object.keys(change)[0]);
});
