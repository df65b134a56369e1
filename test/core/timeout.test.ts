/**
 * Timeout messages, timeout certificates built from them and the timeouts topic framing (docs/protocol.md
 * §View change: timeout message, timeout certificate): byte layout, strict decoding, and every check refusing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError, u64be } from '../../src/core/bytes.ts';
import { certificateSize, checkTimeoutCertificate, encodeCertificate, encodeTimeoutCertificate, highLock } from '../../src/core/certificate.ts';
import { CertificateRejectedError } from '../../src/core/errors.ts';
import { sign } from '../../src/core/signature.ts';
import {
  buildTimeoutCertificate, checkTimeoutCertificateWithLock, checkTimeoutMessage, decodeTimeoutMessage, decodeTimeoutTopicMessage,
  encodeTimeoutMessage, encodeTimeoutTopicMessage,
} from '../../src/core/timeout.ts';
import { VoteKind, digestOfTimeout } from '../../src/core/vote.ts';
import { certOf, genesis, KEYS, lockOf, RULES, second, timeoutBy } from './view-fixtures.ts';

/** Fixed part of a timeout message: view, lock (48), signerIndex, signature, hasCert. */
const FIXED = 8 + 48 + 1 + 65 + 1;
const rejected = (code: string) => (e: unknown) => e instanceof CertificateRejectedError && e.code === code;

test('timeout message layout: view | lock | signerIndex | signature | hasCert | certificate', () => {
  const bottom = timeoutBy(2, 7, null);
  const b = encodeTimeoutMessage(bottom);
  assert.equal(b.byteLength, FIXED);
  assert.deepEqual(b.subarray(0, 8), u64be(7n));
  assert.deepEqual(b.subarray(8, 56), new Uint8Array(48));
  assert.equal(b[56], 2);
  assert.deepEqual(b.subarray(57, 122), bottom.signature);
  assert.equal(b[122], 0);
  const m = timeoutBy(1, 3, lockOf(second));
  const l = encodeTimeoutMessage(m);
  assert.equal(l.byteLength, FIXED + certificateSize(m.certificate!));
  assert.deepEqual(l.subarray(8, 16), u64be(0n));
  assert.deepEqual(l.subarray(16, 24), u64be(1n));
  assert.deepEqual(l.subarray(24, 56), second.headerHash);
  assert.equal(l[122], 1);
  assert.deepEqual(l.subarray(123), encodeCertificate(m.certificate!));
  const back = decodeTimeoutMessage(l);
  assert.deepEqual({ ...back, certificate: encodeCertificate(back.certificate!) }, { ...m, certificate: encodeCertificate(m.certificate!) });
  assert.deepEqual(decodeTimeoutMessage(b), { ...bottom, certificate: undefined });
});

test('decodeTimeoutMessage refuses every truncation, trailing bytes, a bad flag, ⊥ with a rank, a lock/certificate mismatch, u64 above 2^53-1', () => {
  const bytes = encodeTimeoutMessage(timeoutBy(1, 0, lockOf(second)));
  for (let len = 0; len < bytes.byteLength; len++) assert.throws(() => decodeTimeoutMessage(bytes.subarray(0, len)), DecodeError, `length ${len}`);
  assert.throws(() => decodeTimeoutMessage(Uint8Array.from([...bytes, 0])), /trailing/);
  const bottom = encodeTimeoutMessage(timeoutBy(2, 0, null));
  const flag2 = Uint8Array.from(bottom);
  flag2[122] = 2;
  assert.throws(() => decodeTimeoutMessage(flag2), /certificate flag 2/);
  const rankedBottom = Uint8Array.from(bottom);
  rankedBottom.set(u64be(1n), 16);
  assert.throws(() => decodeTimeoutMessage(rankedBottom), /zero hash must have a zero rank/);
  // ⊥ with a certificate after it, and a lock with none.
  const bottomWithCert = Uint8Array.from([...bottom.subarray(0, 122), 1, ...bytes.subarray(123)]);
  assert.throws(() => decodeTimeoutMessage(bottomWithCert), /exactly when its lock/);
  assert.throws(() => decodeTimeoutMessage(Uint8Array.from([...bytes.subarray(0, 122), 0])), /exactly when its lock/);
  for (const offset of [0, 8, 16]) {
    const big = Uint8Array.from(bytes);
    big.set(u64be(2n ** 53n), offset);
    assert.throws(() => decodeTimeoutMessage(big), /above 2\^53-1/, `offset ${offset}`);
  }
});

test('checkTimeoutMessage refuses a stranger index, another signer, another view, a bad signature, and a certificate that does not back the lock', () => {
  const m = timeoutBy(1, 4, lockOf(second));
  assert.equal(checkTimeoutMessage(RULES, m).certificate?.headerHash, second.headerHash);
  // A commit certificate backs a lock as well as a lock certificate.
  checkTimeoutMessage(RULES, { ...m, certificate: certOf(lockOf(second), [1, 2, 3], VoteKind.commit) });
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, signerIndex: 4 }), rejected('certificate-not-member'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, signerIndex: 0 }), rejected('certificate-wrong-signer'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, view: 5 }), rejected('certificate-wrong-signer'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, lock: lockOf(genesis) }), rejected('certificate-wrong-signer'));
  const badV = Uint8Array.from(m.signature);
  badV[64] = 9;
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, signature: badV }), rejected('certificate-signature'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: undefined }), rejected('certificate-malformed'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...timeoutBy(1, 4, null), certificate: m.certificate }), rejected('certificate-malformed'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: certOf(lockOf(second), [0, 1]) }), rejected('certificate-quorum'));
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: certOf(lockOf(second, 1)) }), /not for the lock/);
  assert.throws(() => checkTimeoutMessage(RULES, { ...m, certificate: certOf(lockOf(genesis)) }), /not for the lock/);
});

test('a TC from 3 of 4 timeouts checks, in ascending signer order whatever the arrival order; duplicates and other views do not count', () => {
  const ts = [timeoutBy(3, 2, null), timeoutBy(0, 2, lockOf(genesis)), timeoutBy(1, 2, lockOf(second))].map((t) => checkTimeoutMessage(RULES, t));
  const tc = buildTimeoutCertificate(4, 2, ts);
  assert.deepEqual(tc.signers, Uint8Array.of(0b1011));
  assert.deepEqual(tc.entries.map((e) => e.lock?.height ?? null), [0, 1, null]);
  checkTimeoutCertificate(RULES, tc);
  assert.deepEqual(highLock(tc), lockOf(second));
  const twice = buildTimeoutCertificate(4, 2, [ts[0], ts[1], ts[1]]);
  assert.throws(() => checkTimeoutCertificate(RULES, twice), rejected('certificate-quorum'));
  const otherView = checkTimeoutMessage(RULES, timeoutBy(2, 3, null));
  assert.equal(buildTimeoutCertificate(4, 2, [...ts, otherView]).entries.length, 3);
});

test('a TC with a forged entry, or an entry claiming another lock than it signed, is refused', () => {
  const tc = buildTimeoutCertificate(4, 2, [0, 1, 2].map((i) => checkTimeoutMessage(RULES, timeoutBy(i, 2, null))));
  // Validator 2's entry signed with validator 3's key (bit 3 not set), then with a stranger's.
  const byThree = sign(digestOfTimeout(RULES, 2, null), KEYS[3]);
  const forged = { ...tc, entries: [tc.entries[0], tc.entries[1], { lock: null, signature: byThree }] };
  assert.throws(() => checkTimeoutCertificate(RULES, forged), rejected('certificate-wrong-signer'));
  const stranger = sign(digestOfTimeout(RULES, 2, null), new Uint8Array(32).fill(0x77));
  assert.throws(() => checkTimeoutCertificate(RULES, { ...tc, entries: [tc.entries[0], tc.entries[1], { lock: null, signature: stranger }] }), rejected('certificate-not-member'));
  // An entry signed for ⊥ that claims a high lock (it would steer the next view's leader).
  const claims = { ...tc, entries: [tc.entries[0], tc.entries[1], { lock: lockOf(second, 1), signature: tc.entries[2].signature }] };
  assert.throws(() => checkTimeoutCertificate(RULES, claims), rejected('certificate-not-member'));
});

test('a TC goes with the certificate of its highest lock: missing, superfluous or for another lock is refused', () => {
  const high = lockOf(second);
  const tc = buildTimeoutCertificate(4, 0, [timeoutBy(0, 0, lockOf(genesis)), timeoutBy(1, 0, high), timeoutBy(2, 0, null)].map((t) => checkTimeoutMessage(RULES, t)));
  assert.equal(checkTimeoutCertificateWithLock(RULES, tc, certOf(high)).highLockCert?.height, 1);
  assert.throws(() => checkTimeoutCertificateWithLock(RULES, tc, undefined), /highest lock is missing/);
  assert.throws(() => checkTimeoutCertificateWithLock(RULES, tc, certOf(lockOf(genesis))), /not for the TC's highest lock/);
  const none = buildTimeoutCertificate(4, 0, [0, 1, 2].map((i) => checkTimeoutMessage(RULES, timeoutBy(i, 0, null))));
  assert.equal(checkTimeoutCertificateWithLock(RULES, none, undefined).highLockCert, undefined);
  assert.throws(() => checkTimeoutCertificateWithLock(RULES, none, certOf(high)), /highest lock is ⊥/);
});

test('timeouts topic framing: 0x01 | timeout, 0x02 | TC | hasCert | [certificate]; anything else is refused', () => {
  const m = timeoutBy(1, 0, lockOf(second));
  const framed = encodeTimeoutTopicMessage({ kind: 'timeout', message: m });
  assert.equal(framed[0], 1);
  assert.deepEqual(framed.subarray(1), encodeTimeoutMessage(m));
  const decoded = decodeTimeoutTopicMessage(framed);
  assert.ok(decoded.kind === 'timeout' && decoded.message.signerIndex === 1);
  const tc = buildTimeoutCertificate(4, 0, [timeoutBy(0, 0, null), m, timeoutBy(2, 0, null)].map((t) => checkTimeoutMessage(RULES, t)));
  const cert = m.certificate!;
  const tcBytes = encodeTimeoutCertificate(tc);
  const withCert = encodeTimeoutTopicMessage({ kind: 'tc', tc, highLockCert: cert });
  assert.deepEqual(withCert, Uint8Array.from([2, ...tcBytes, 1, ...encodeCertificate(cert)]));
  const back = decodeTimeoutTopicMessage(withCert);
  assert.equal(back.kind, 'tc');
  if (back.kind !== 'tc') return;
  assert.deepEqual(encodeCertificate(back.highLockCert!), encodeCertificate(cert), 'the certificate comes back byte for byte');
  checkTimeoutCertificateWithLock(RULES, back.tc, back.highLockCert);
  const noCert = encodeTimeoutTopicMessage({ kind: 'tc', tc });
  assert.deepEqual(noCert, Uint8Array.from([2, ...tcBytes, 0]));
  assert.equal((decodeTimeoutTopicMessage(noCert) as { highLockCert?: unknown }).highLockCert, undefined);
  for (const bad of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(3), Uint8Array.from([0xff, ...framed.subarray(1)])]) {
    assert.throws(() => decodeTimeoutTopicMessage(bad), DecodeError);
  }
  assert.throws(() => decodeTimeoutTopicMessage(Uint8Array.from([...framed, 0])), /trailing/);
  assert.throws(() => decodeTimeoutTopicMessage(Uint8Array.from([2, ...tcBytes, 2])), /certificate flag 2/);
  assert.throws(() => decodeTimeoutTopicMessage(Uint8Array.from([2, ...tcBytes])), DecodeError);
  for (let len = 1; len < withCert.byteLength; len++) assert.throws(() => decodeTimeoutTopicMessage(withCert.subarray(0, len)), DecodeError, `length ${len}`);
});
