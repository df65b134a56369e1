/** Certificates (core/certificate.ts, docs/protocol.md §Certificate): codec, JSON, and every check with its own error. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toHex, type Bytes } from '../../src/core/bytes.ts';
import {
  checkTimeoutCertificate, decodeTimeoutCertificate, encodeTimeoutCertificate, highLock, type TimeoutCertificate,
  buildCertificate, certificateFromJson, certificateToJson, checkCertificate, decodeCertificate, encodeCertificate, signerIndices,
  type Certificate,
} from '../../src/core/certificate.ts';
import { Membership } from '../../src/core/membership.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { VoteKind, digestOfTimeout, signVoteUnchecked, type LockRef, type Vote, type VoteContext } from '../../src/core/vote.ts';
import { sign } from '../../src/core/signature.ts';
import { LOG_ID, MALLORY_KEY, patternKey, rand, SEPARATOR } from './helpers.ts';

const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))) };
const VOTE: Vote = { kind: VoteKind.commit, view: 3, height: 17, headerHash: rand(32) };

const sig = (i: number, v: Vote = VOTE, key = KEYS[i]): Bytes => signVoteUnchecked(CTX, v, key).signature;
const certOf = (signers: number[], v: Vote = VOTE): Certificate => buildCertificate(4, v, new Map(signers.map((i) => [i, sig(i, v)])));
const withSignatures = (c: Certificate, signatures: Bytes[]): Certificate => ({ ...c, signatures });

describe('certificate codec', () => {
  test('encodes as in the protocol (246 bytes for 3 of 4) and decodes back', () => {
    const c = certOf([3, 0, 1]);
    assert.equal(toHex(c.signers), '0x0b');
    assert.deepEqual(signerIndices(c.signers), [0, 1, 3]);
    const bytes = encodeCertificate(c);
    assert.equal(bytes.byteLength, 246);
    assert.equal(bytes[0], 2);
    assert.equal(bytes[49], 4);
    assert.deepEqual(decodeCertificate(bytes), { ...c, headerHash: bytes.subarray(17, 49), signers: bytes.subarray(50, 51), signatures: c.signatures.map((_, i) => bytes.subarray(51 + 65 * i, 116 + 65 * i)) });
    assert.deepEqual(certificateFromJson(JSON.parse(JSON.stringify(certificateToJson(c)))), c);
  });

  test('buildCertificate keeps the lowest `limit` signers', () => {
    const c = buildCertificate(4, VOTE, new Map([3, 2, 1, 0].map((i) => [i, sig(i)])), 3);
    assert.deepEqual(signerIndices(c.signers), [0, 1, 2]);
    checkCertificate(CTX, c);
  });

  test('bitmaps of sets larger than 8 use LSB-first bytes', () => {
    const c = buildCertificate(10, VOTE, new Map([[0, sig(0)], [8, sig(1)], [9, sig(2)]]));
    assert.equal(toHex(c.signers), '0x0103');
    assert.deepEqual(signerIndices(decodeCertificate(encodeCertificate(c)).signers), [0, 8, 9]);
  });

  test('strict decoding: truncation, trailing bytes, kind, stray bits beyond n, n = 0', () => {
    const bytes = encodeCertificate(certOf([0, 1, 3]));
    const kind3 = Uint8Array.from(bytes); kind3[0] = 3;
    const stray = Uint8Array.of(...bytes, ...sig(2)); stray[50] |= 0x10;
    const n0 = Uint8Array.from(bytes.subarray(0, 50)); n0[49] = 0;
    for (const b of [bytes.subarray(0, 245), Uint8Array.of(...bytes, 0), kind3, stray, n0]) {
      assert.throws(() => decodeCertificate(b), { name: 'CertificateRejectedError', code: 'certificate-malformed' });
    }
  });
});

describe('checkCertificate', () => {
  test('accepts a quorum (3 of 4) and more (4 of 4), of either kind', () => {
    for (const c of [certOf([0, 1, 3]), certOf([0, 1, 2, 3]), certOf([1, 2, 3], { ...VOTE, kind: VoteKind.lock })]) {
      assert.equal(checkCertificate(CTX, decodeCertificate(encodeCertificate(c))).height, 17);
    }
  });

  test('q - 1 signatures: certificate-quorum', () => {
    assert.throws(() => checkCertificate(CTX, certOf([0, 3])), { code: 'certificate-quorum' });
  });

  test('a certificate for a set of another size: certificate-membership', () => {
    const five = buildCertificate(5, VOTE, new Map([0, 1, 3].map((i) => [i, sig(i)])));
    assert.throws(() => checkCertificate(CTX, five), { code: 'certificate-membership' });
  });

  test('one signature under two bits: certificate-duplicate-signer', () => {
    const c = certOf([0, 1, 3]);
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], c.signatures[0], c.signatures[2]])), { code: 'certificate-duplicate-signer' });
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], c.signatures[2], c.signatures[2]])), { code: 'certificate-duplicate-signer' });
  });

  test('signatures out of ascending order: certificate-signer-order', () => {
    const c = certOf([0, 1, 3]);
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[1], c.signatures[0], c.signatures[2]])), { code: 'certificate-signer-order' });
  });

  test("a member's signature under another member's bit: certificate-wrong-signer", () => {
    const c = certOf([0, 1, 3]);
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], sig(2), c.signatures[2]])), { code: 'certificate-wrong-signer' });
  });

  test('a signer outside the membership: certificate-not-member, naming the address it recovered', () => {
    const c = certOf([0, 1, 3]);
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], sig(0, VOTE, MALLORY_KEY), c.signatures[2]])), (e: Error & { code: string; details: { recovered: string } }) => {
      assert.equal(e.code, 'certificate-not-member');
      assert.equal(e.details.recovered, toHex(addressFromPrivateKey(MALLORY_KEY)));
      return true;
    });
  });

  test('a signature over another view, height, kind or header: certificate-not-member (it recovers to no validator)', () => {
    const c = certOf([0, 1, 3]);
    for (const other of [{ view: 4 }, { height: 16 }, { kind: VoteKind.lock }, { headerHash: rand(32) }] as Partial<Vote>[]) {
      const forged = withSignatures(c, [c.signatures[0], sig(1, { ...VOTE, ...other }), c.signatures[2]]);
      assert.throws(() => checkCertificate(CTX, forged), { code: 'certificate-not-member' }, JSON.stringify(Object.keys(other)));
    }
    // And the honest certificate relabelled: the same signatures claimed for another view, height or kind.
    for (const other of [{ view: 4 }, { height: 16 }, { kind: VoteKind.lock }] as Partial<Certificate>[]) {
      assert.throws(() => checkCertificate(CTX, { ...c, ...other }), { code: 'certificate-not-member' });
    }
  });

  test('a malformed or high-s signature: certificate-signature', () => {
    const c = certOf([0, 1, 3]);
    const high = Uint8Array.from(c.signatures[1]);
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = N - BigInt(toHex(high.subarray(32, 64)));
    high.set(Buffer.from(s.toString(16).padStart(64, '0'), 'hex'), 32);
    high[64] = 55 - high[64];
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], high, c.signatures[2]])), { code: 'certificate-signature' });
    const badV = Uint8Array.from(c.signatures[1]); badV[64] = 0;
    assert.throws(() => checkCertificate(CTX, withSignatures(c, [c.signatures[0], badV, c.signatures[2]])), { code: 'certificate-signature' });
  });

  test('stray bits, a missing or extra signature, or a zero header hash in an object (JSON): certificate-malformed', () => {
    const c = certOf([0, 1, 3]);
    const stray = Uint8Array.from(c.signers); stray[0] |= 0x80;
    const cases: Certificate[] = [
      { ...c, signers: stray, signatures: [...c.signatures, sig(2), sig(2), sig(2), sig(2), sig(2)] },
      withSignatures(c, c.signatures.slice(0, 2)),
      withSignatures(c, [...c.signatures, sig(2)]),
      { ...c, signers: Uint8Array.of(0x0b, 0x00) },
      { ...c, headerHash: new Uint8Array(32) },
      { ...c, kind: 3 as VoteKind },
      { ...c, view: 2 ** 53 },
    ];
    for (const bad of cases) assert.throws(() => checkCertificate(CTX, bad), { code: 'certificate-malformed' });
  });
});

describe('timeout certificates', () => {
  const L1: LockRef = { view: 0, height: 4, headerHash: rand(32) };
  const L2: LockRef = { view: 1, height: 2, headerHash: rand(32) };
  const entry = (i: number, lock: LockRef | null, view = 2, key = KEYS[i]) => ({ lock, signature: sign(digestOfTimeout(CTX, view, lock), key) });
  const tcOf = (entries: [number, LockRef | null][]): TimeoutCertificate => {
    const signers = new Uint8Array(1);
    for (const [i] of entries) signers[0] |= 1 << i;
    return { view: 2, n: 4, signers, entries: entries.sort((a, b) => a[0] - b[0]).map(([i, lock]) => entry(i, lock)) };
  };

  test('each entry is checked over its own lock; highLock is the highest rank (⊥ when all are ⊥)', () => {
    const tc = tcOf([[0, L1], [2, null], [3, L2]]);
    const bytes = encodeTimeoutCertificate(tc);
    assert.equal(bytes.byteLength, 349);
    const decoded = checkTimeoutCertificate(CTX, decodeTimeoutCertificate(bytes));
    assert.deepEqual(highLock(decoded), { ...L2, headerHash: bytes.subarray(8 + 1 + 1 + 113 * 2 + 16, 8 + 1 + 1 + 113 * 2 + 48) });
    assert.equal(highLock(tcOf([[0, null], [1, null], [2, null]])), null);
    // Equal ranks with different hashes (someone equivocated): every node picks the smaller hash.
    const a: LockRef = { ...L2, headerHash: new Uint8Array(32).fill(0xaa) };
    const b: LockRef = { ...L2, headerHash: new Uint8Array(32).fill(0x0b) };
    assert.deepEqual(highLock(tcOf([[0, a], [1, b], [2, L1]])), b);
  });

  test('a lie about the lock breaks its signature; the other checks as for certificates', () => {
    const tc = tcOf([[0, L1], [1, L1], [3, null]]);
    const lied = { ...tc, entries: [tc.entries[0], { ...tc.entries[1], lock: L2 }, tc.entries[2]] };
    assert.throws(() => checkTimeoutCertificate(CTX, lied), { code: 'certificate-not-member' });
    assert.throws(() => checkTimeoutCertificate(CTX, { ...tc, view: 3 }), { code: 'certificate-not-member' });
    assert.throws(() => checkTimeoutCertificate(CTX, tcOf([[0, L1], [1, L1]])), { code: 'certificate-quorum' });
    assert.throws(() => checkTimeoutCertificate(CTX, { ...tc, entries: [tc.entries[0], tc.entries[0], tc.entries[2]] }), { code: 'certificate-duplicate-signer' });
    const bytes = encodeTimeoutCertificate(tc);
    const nonZeroRankOfNone = Uint8Array.from(bytes); nonZeroRankOfNone[10 + 113 * 2 + 7] = 1;
    for (const bad of [Uint8Array.of(...bytes, 0), bytes.subarray(0, 348), nonZeroRankOfNone]) {
      assert.throws(() => decodeTimeoutCertificate(bad), { code: 'certificate-malformed' });
    }
  });
});
