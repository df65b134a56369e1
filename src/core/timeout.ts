/**
 * Timeout messages and what the timeouts topic carries (docs/protocol.md §Timeout message). A validator leaving view v
 * signs Timeout(v, its lock) (vote.ts digestOfTimeout) and sends it with the certificate of that lock, so every lock a
 * timeout certificate reports is backed by a certificate some node held: a signer cannot claim a lock no quorum made
 * and stall the next view. Wire form (big-endian):
 *   view u64 | lockView u64 | lockHeight u64 | lockHash[32] | signerIndex u8 | signature[65] | hasCert u8 | [certificate]
 * with lock ⊥ = all zeros and hasCert = 0 exactly when the lock is ⊥. The topic's messages are one of
 *   0x01 | timeout message        0x02 | TC | hasCert u8 | [certificate of the TC's highest lock]
 */
import { DecodeError, Reader, Writer, ZERO32, equalBytes, type Bytes } from './bytes.ts';
import {
  bitmapBytes, certificateSize, checkCertificate, checkTimeoutCertificate, compareRank, encodeCertificate, encodeTimeoutCertificate,
  highLock, readCertificate, readTimeoutCertificate, timeoutCertificateSize,
  type Certificate, type CheckedCertificate, type CheckedTimeoutCertificate, type TimeoutCertificate,
} from './certificate.ts';
import { CertificateRejectedError } from './errors.ts';
import { recoverAddress, SIGNATURE_BYTES, SignatureError } from './signature.ts';
import { digestOfTimeout, type LockRef, type VoteContext } from './vote.ts';

export interface TimeoutMessage {
  /** The view the signer leaves. */
  readonly view: number;
  /** The signer's lock when it signed; null for ⊥. */
  readonly lock: LockRef | null;
  readonly signerIndex: number;
  readonly signature: Bytes;
  /** The certificate (either kind) of `lock`; present exactly when the lock is not ⊥. */
  readonly certificate?: Certificate;
}

declare const checked: unique symbol;
/** A timeout message checkTimeoutMessage accepted: the signature is the validator's, the certificate its lock's. */
export type CheckedTimeoutMessage = TimeoutMessage & { readonly certificate?: CheckedCertificate; readonly [checked]: true };

const TIMEOUT_FIXED_BYTES = 8 + 8 + 8 + 32 + 1 + SIGNATURE_BYTES + 1;

export function encodeTimeoutMessage(m: TimeoutMessage): Bytes {
  const cert = m.certificate;
  const w = new Writer(TIMEOUT_FIXED_BYTES + (cert ? certificateSize(cert) : 0)).u64(m.view);
  if (m.lock === null) w.u64(0).u64(0).raw(ZERO32);
  else w.u64(m.lock.view).u64(m.lock.height).raw(m.lock.headerHash);
  w.u8(m.signerIndex).raw(m.signature).u8(cert ? 1 : 0);
  if (cert) w.raw(encodeCertificate(cert));
  return w.finish();
}

function readLock(r: Reader): LockRef | null {
  const view = r.u64();
  const height = r.u64();
  const headerHash = r.raw(32);
  if (!equalBytes(headerHash, ZERO32)) return { view, height, headerHash };
  if (view !== 0 || height !== 0) throw new DecodeError('a lock with a zero hash must have a zero rank');
  return null;
}

function readOptionalCertificate(r: Reader): Certificate | undefined {
  const has = r.u8();
  if (has > 1) throw new DecodeError(`certificate flag ${has}, not 0 or 1`);
  return has === 1 ? readCertificate(r) : undefined;
}

export function readTimeoutMessage(r: Reader): TimeoutMessage {
  const view = r.u64();
  const lock = readLock(r);
  const signerIndex = r.u8();
  const signature = r.raw(SIGNATURE_BYTES);
  const certificate = readOptionalCertificate(r);
  if ((lock === null) !== (certificate === undefined)) throw new DecodeError('a timeout carries a certificate exactly when its lock is not ⊥');
  return { view, lock, signerIndex, signature, certificate };
}

/** Strict: the exact length. Throws DecodeError. */
export function decodeTimeoutMessage(bytes: Uint8Array): TimeoutMessage {
  const r = new Reader(bytes);
  const m = readTimeoutMessage(r);
  r.end();
  return m;
}

/**
 * Checks a timeout: the signature recovers to validators[signerIndex] over Timeout(view, lock), and the certificate
 * (either kind) checks and is for exactly the lock. Throws CertificateRejectedError.
 */
export function checkTimeoutMessage(ctx: VoteContext, m: TimeoutMessage): CheckedTimeoutMessage {
  const { membership } = ctx;
  if (m.signerIndex >= membership.n) {
    throw new CertificateRejectedError('certificate-not-member', `timeout by validator ${m.signerIndex}, the set has ${membership.n}`);
  }
  let signer: Bytes;
  try {
    signer = recoverAddress(digestOfTimeout(ctx, m.view, m.lock), m.signature);
  } catch (e) {
    throw new CertificateRejectedError('certificate-signature', `timeout signature: ${(e as SignatureError).message}`, { cause: e });
  }
  if (!equalBytes(signer, membership.validators[m.signerIndex])) {
    throw new CertificateRejectedError('certificate-wrong-signer', `timeout for validator ${m.signerIndex} is not signed by it`);
  }
  if ((m.lock === null) !== (m.certificate === undefined)) {
    throw new CertificateRejectedError('certificate-malformed', 'a timeout carries a certificate exactly when its lock is not ⊥');
  }
  let certificate: CheckedCertificate | undefined;
  if (m.certificate && m.lock) {
    certificate = checkCertificate(ctx, m.certificate);
    if (compareRank(certificate, m.lock) !== 0 || !equalBytes(certificate.headerHash, m.lock.headerHash)) {
      throw new CertificateRejectedError('certificate-malformed', 'the timeout\'s certificate is not for the lock it reports');
    }
  }
  return { ...m, certificate } as CheckedTimeoutMessage;
}

/** TC(view) from checked timeouts of that view by distinct validators (at least a quorum, else checkTimeoutCertificate refuses it). */
export function buildTimeoutCertificate(n: number, view: number, timeouts: readonly CheckedTimeoutMessage[]): TimeoutCertificate {
  const byIndex = new Map<number, CheckedTimeoutMessage>();
  for (const t of timeouts) if (t.view === view) byIndex.set(t.signerIndex, t);
  const indices = [...byIndex.keys()].sort((a, b) => a - b);
  const signers = new Uint8Array(bitmapBytes(n));
  for (const i of indices) signers[i >> 3] |= 1 << (i & 7);
  return { view, n, signers, entries: indices.map((i) => ({ lock: byIndex.get(i)!.lock, signature: byIndex.get(i)!.signature })) };
}

/** A view entry: TC(v − 1), checked, and the checked certificate of its highest lock (absent when that lock is ⊥). */
export interface CheckedViewEntry {
  readonly tc: CheckedTimeoutCertificate;
  readonly highLockCert?: CheckedCertificate;
}

/**
 * Checks a TC and the certificate of its highest lock: the TC holds (checkTimeoutCertificate), and the certificate
 * is present exactly when the highest lock is not ⊥, checks, and is for exactly that lock. Throws CertificateRejectedError.
 */
export function checkTimeoutCertificateWithLock(ctx: VoteContext, tc: TimeoutCertificate, cert: Certificate | undefined): CheckedViewEntry {
  const checkedTc = checkTimeoutCertificate(ctx, tc);
  const high = highLock(checkedTc);
  if (high === null) {
    if (cert) throw new CertificateRejectedError('certificate-malformed', 'a lock certificate for a TC whose highest lock is ⊥');
    return { tc: checkedTc };
  }
  if (!cert) throw new CertificateRejectedError('certificate-malformed', 'the certificate of the TC\'s highest lock is missing');
  const highLockCert = checkCertificate(ctx, cert);
  if (compareRank(highLockCert, high) !== 0 || !equalBytes(highLockCert.headerHash, high.headerHash)) {
    throw new CertificateRejectedError('certificate-malformed', 'the lock certificate is not for the TC\'s highest lock');
  }
  return { tc: checkedTc, highLockCert };
}

export type TimeoutTopicMessage =
  | { readonly kind: 'timeout'; readonly message: TimeoutMessage }
  | { readonly kind: 'tc'; readonly tc: TimeoutCertificate; readonly highLockCert?: Certificate };

const TOPIC_TIMEOUT = 1;
const TOPIC_TC = 2;

export function encodeTimeoutTopicMessage(m: TimeoutTopicMessage): Bytes {
  if (m.kind === 'timeout') {
    const body = encodeTimeoutMessage(m.message);
    return new Writer(1 + body.byteLength).u8(TOPIC_TIMEOUT).raw(body).finish();
  }
  const cert = m.highLockCert;
  const w = new Writer(1 + timeoutCertificateSize(m.tc) + 1 + (cert ? certificateSize(cert) : 0)).u8(TOPIC_TC).raw(encodeTimeoutCertificate(m.tc)).u8(cert ? 1 : 0);
  if (cert) w.raw(encodeCertificate(cert));
  return w.finish();
}

/** Strict: the exact length, a known first byte. Throws DecodeError. */
export function decodeTimeoutTopicMessage(bytes: Uint8Array): TimeoutTopicMessage {
  const r = new Reader(bytes);
  const type = r.u8();
  let m: TimeoutTopicMessage;
  if (type === TOPIC_TIMEOUT) m = { kind: 'timeout', message: readTimeoutMessage(r) };
  else if (type === TOPIC_TC) m = { kind: 'tc', tc: readTimeoutCertificate(r), highLockCert: readOptionalCertificate(r) };
  else throw new DecodeError(`unknown timeouts topic message type ${type}`);
  r.end();
  return m;
}
