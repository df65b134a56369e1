/**
 * Certificates (docs/protocol.md §Certificate): a quorum of validators' signatures on one and the same vote. A lock
 * certificate (QC1, kind 1) locks a header; a commit certificate (CC, kind 2) makes it final. A certificate is
 * self-contained: a third party checks it with nothing but the log's domain and its validator set.
 *
 * Binary form (big-endian):
 *   kind u8 | view u64 | height u64 | headerHash[32]          the vote (vote.ts vote body, 49 bytes)
 *   n u8                                                      size of the validator set (1..255)
 *   signers[ceil(n/8)]                                        validator i is bit (i & 7) of byte (i >> 3); bits >= n are 0
 *   k × signature[65]                                         k = popcount(signers), in ascending validator index
 * JSON form: {"kind": "lock"|"commit", "view", "height", "headerHash", "n", "signers": hex bitmap, "signatures": [hex]}.
 *
 * A timeout certificate TC(v) is a quorum of validators' Timeouts for one view v, each reporting its own lock:
 *   view u64 | n u8 | signers[ceil(n/8)] | per set bit, ascending: lockView u64 | lockHeight u64 | lockHash[32] | signature[65]
 * Its highest lock (highLock) is what the first header of view v + 1 must re-propose or extend.
 */
import { DecodeError, Reader, Writer, ZERO32, compareBytes, equalBytes, fromHex, toHex, type Bytes } from './bytes.ts';
import { CertificateRejectedError, InvalidArgumentError } from './errors.ts';
import type { Membership } from './membership.ts';
import { recoverAddress, SIGNATURE_BYTES, SignatureError } from './signature.ts';
import {
  VOTE_BODY_BYTES, VoteKind, digestOfTimeout, digestOfVote, type LockRef, isVoteKind, readVoteBody, voteKindName, writeVoteBody, type Vote, type VoteContext,
} from './vote.ts';

/** The largest validator set a certificate can describe (n is one byte). */
export const MAX_VALIDATORS = 255;

export interface Certificate extends Vote {
  /** Size of the validator set the bitmap is for. */
  readonly n: number;
  /** ceil(n / 8) bytes; bit i (LSB first within each byte) set = validator i signed. */
  readonly signers: Bytes;
  /** One per set bit, in ascending validator index. */
  readonly signatures: readonly Bytes[];
}

declare const checked: unique symbol;
/** A certificate that checkCertificate accepted for a given log and validator set (only it makes one). */
export type CheckedCertificate = Certificate & { readonly [checked]: true };

export function bitmapBytes(n: number): number {
  return (n + 7) >> 3;
}

export function hasSigner(signers: Uint8Array, index: number): boolean {
  return (signers[index >> 3] & (1 << (index & 7))) !== 0;
}

/** The validator indices whose bits are set, ascending. */
export function signerIndices(signers: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < signers.byteLength * 8; i++) if (hasSigner(signers, i)) out.push(i);
  return out;
}

/**
 * A certificate from signatures already verified one by one (vote.ts verifyVote), by validator index. Keeps the
 * lowest `limit` indices when given (a node uses exactly a quorum; more would be valid too).
 */
export function buildCertificate(n: number, vote: Vote, signatures: ReadonlyMap<number, Bytes>, limit = Infinity): Certificate {
  if (!Number.isInteger(n) || n < 1 || n > MAX_VALIDATORS) throw new InvalidArgumentError(`validator set size ${n} is outside 1..${MAX_VALIDATORS}`);
  const indices = [...signatures.keys()].sort((a, b) => a - b).slice(0, limit);
  const signers = new Uint8Array(bitmapBytes(n));
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new InvalidArgumentError(`validator index ${i} is outside 0..${n - 1}`);
    signers[i >> 3] |= 1 << (i & 7);
  }
  return { kind: vote.kind, view: vote.view, height: vote.height, headerHash: vote.headerHash, n, signers, signatures: indices.map((i) => signatures.get(i)!) };
}

export function certificateSize(c: Pick<Certificate, 'n' | 'signatures'>): number {
  return VOTE_BODY_BYTES + 1 + bitmapBytes(c.n) + SIGNATURE_BYTES * c.signatures.length;
}

/** The structural rules of the binary form, shared by the decoder and the checker (a JSON certificate skips the decoder). */
function structureFault(c: Certificate): string | null {
  if (!isVoteKind(c.kind)) return `kind ${c.kind} is neither 1 (lock) nor 2 (commit)`;
  if (!Number.isSafeInteger(c.view) || c.view < 0 || !Number.isSafeInteger(c.height) || c.height < 0) return 'view or height is not a u64 up to 2^53-1';
  if (c.headerHash.byteLength !== 32 || equalBytes(c.headerHash, ZERO32)) return 'header hash is not 32 bytes, or is zero';
  if (!Number.isInteger(c.n) || c.n < 1 || c.n > MAX_VALIDATORS) return `n ${c.n} is outside 1..${MAX_VALIDATORS}`;
  if (c.signers.byteLength !== bitmapBytes(c.n)) return `signer bitmap is ${c.signers.byteLength} bytes, not ${bitmapBytes(c.n)}`;
  const indices = signerIndices(c.signers);
  if (indices.length > 0 && indices[indices.length - 1] >= c.n) return `signer bit ${indices[indices.length - 1]} set beyond n = ${c.n}`;
  if (c.signatures.length !== indices.length) return `${c.signatures.length} signatures for ${indices.length} signer bits`;
  if (c.signatures.some((s) => s.byteLength !== SIGNATURE_BYTES)) return 'a signature is not 65 bytes';
  return null;
}

export function encodeCertificate(c: Certificate): Bytes {
  const fault = structureFault(c);
  if (fault) throw new InvalidArgumentError(`cannot encode certificate: ${fault}`);
  const w = new Writer(certificateSize(c));
  writeVoteBody(w, c);
  w.u8(c.n).raw(c.signers);
  for (const s of c.signatures) w.raw(s);
  return w.finish();
}

/** Reads one certificate at the reader's position (for containers that embed one). Throws DecodeError. */
export function readCertificate(r: Reader): Certificate {
  const vote = readVoteBody(r);
  const n = r.u8();
  if (n < 1) throw new DecodeError('certificate for an empty validator set');
  const signers = r.raw(bitmapBytes(n));
  const indices = signerIndices(signers);
  if (indices.length > 0 && indices[indices.length - 1] >= n) throw new DecodeError(`signer bit ${indices[indices.length - 1]} set beyond n = ${n}`);
  const signatures: Bytes[] = [];
  for (let i = 0; i < indices.length; i++) signatures.push(r.raw(SIGNATURE_BYTES));
  return { ...vote, n, signers, signatures };
}

/** Reads one `what` that must span `bytes` exactly; any failure is CertificateRejectedError('certificate-malformed'). */
function decodeExactly<T>(bytes: Uint8Array, read: (r: Reader) => T, what: string): T {
  try {
    const r = new Reader(bytes);
    const value = read(r);
    r.end();
    return value;
  } catch (e) {
    throw new CertificateRejectedError('certificate-malformed', `malformed ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Strict: the exact length, nothing after it. Throws CertificateRejectedError('certificate-malformed'). */
export function decodeCertificate(bytes: Uint8Array): Certificate {
  return decodeExactly(bytes, readCertificate, 'certificate');
}

/**
 * Checks a certificate for this log and validator set: well-formed, made for a set of this size, at least a quorum
 * of signers, and each signature, in ascending index, recovers to the validator its bit names for exactly this vote
 * (kind, view, height, header hash, log, set). Throws CertificateRejectedError with the failed check as its code.
 * Costs one recovery per signature.
 */
export function checkCertificate(ctx: VoteContext, c: Certificate): CheckedCertificate {
  const fault = structureFault(c);
  if (fault) throw new CertificateRejectedError('certificate-malformed', `malformed certificate: ${fault}`);
  const digest = digestOfVote(ctx, c);
  checkSigners(ctx.membership, c.n, c.signers, c.signatures, () => digest);
  return c as CheckedCertificate;
}

/**
 * The checks every quorum of signatures shares (a certificate's, a timeout certificate's): a set of this size, a
 * quorum of bits, and the signature at each position recovering to the validator of its bit for the digest of that
 * position. Throws CertificateRejectedError.
 */
function checkSigners(
  membership: Membership, n: number, signers: Uint8Array, signatures: readonly Bytes[], digestAt: (position: number) => Bytes,
): void {
  if (n !== membership.n) {
    throw new CertificateRejectedError('certificate-membership', `certificate for ${n} validators, the set has ${membership.n}`, { details: { n, expected: membership.n } });
  }
  const indices = signerIndices(signers);
  if (indices.length < membership.quorum) {
    throw new CertificateRejectedError('certificate-quorum', `${indices.length} signers, the quorum is ${membership.quorum}`, { details: { signers: indices.length, quorum: membership.quorum } });
  }
  indices.forEach((index, position) => {
    let signer: Bytes;
    try {
      signer = recoverAddress(digestAt(position), signatures[position]);
    } catch (e) {
      throw new CertificateRejectedError('certificate-signature', `signature of validator ${index}: ${(e as SignatureError).message}`, { details: { index }, cause: e });
    }
    if (equalBytes(signer, membership.validators[index])) return;
    throw misplacedSignature(digestAt, signers, signatures, index, signer, membership.validators);
  });
}

/**
 * Names what is wrong with a signature that recovers to `signer` instead of validator `index` (the failure path
 * only: it recovers every signature once more). A member signing twice is a duplicate; members all present but in
 * the wrong positions are an order fault; a member whose bit is not set is a wrong signer; anyone else is not a
 * member (a stranger's key, or a member's signature over another vote, which recovers to an unrelated address).
 */
function misplacedSignature(
  digestAt: (position: number) => Bytes, signers: Uint8Array, signatures: readonly Bytes[], index: number, signer: Bytes, validators: readonly Bytes[],
): CertificateRejectedError {
  const details = { index, recovered: toHex(signer) };
  const member = validators.findIndex((a) => equalBytes(a, signer));
  if (member < 0) {
    return new CertificateRejectedError('certificate-not-member', `signature for validator ${index} recovers to ${toHex(signer)}, not a validator (another key, or another vote)`, { details });
  }
  if (!hasSigner(signers, member)) {
    return new CertificateRejectedError('certificate-wrong-signer', `signature for validator ${index} is by validator ${member}, whose bit is not set`, { details: { ...details, signer: member } });
  }
  const recovered = signatures.map((s, position) => {
    try { return validators.findIndex((a) => equalBytes(a, recoverAddress(digestAt(position), s))); } catch { return -1; }
  });
  if (recovered.filter((m) => m === member).length > 1) {
    return new CertificateRejectedError('certificate-duplicate-signer', `validator ${member} signed twice`, { details: { ...details, signer: member } });
  }
  return new CertificateRejectedError('certificate-signer-order', `signature for validator ${index} is by validator ${member}: signatures not in ascending validator order`, { details: { ...details, signer: member } });
}

/** Rank order of (view, height): negative, zero or positive. */
export function compareRank(a: { view: number; height: number }, b: { view: number; height: number }): number {
  return a.view !== b.view ? a.view - b.view : a.height - b.height;
}

export interface CertificateJson {
  readonly kind: 'lock' | 'commit';
  readonly view: number;
  readonly height: number;
  readonly headerHash: string;
  readonly n: number;
  readonly signers: string;
  readonly signatures: readonly string[];
}

export function certificateToJson(c: Certificate): CertificateJson {
  return {
    kind: voteKindName(c.kind), view: c.view, height: c.height, headerHash: toHex(c.headerHash), n: c.n,
    signers: toHex(c.signers), signatures: c.signatures.map(toHex),
  };
}

/** Parses the JSON form (shape and hex only; checkCertificate judges the rest). Throws InvalidArgumentError. */
export function certificateFromJson(json: unknown): Certificate {
  const j = json as Partial<CertificateJson> | null;
  if (typeof j !== 'object' || j === null) throw new InvalidArgumentError('a certificate is a JSON object');
  if (j.kind !== 'lock' && j.kind !== 'commit') throw new InvalidArgumentError('certificate kind must be "lock" or "commit"');
  for (const f of ['view', 'height', 'n'] as const) {
    if (!Number.isSafeInteger(j[f]) || (j[f] as number) < 0) throw new InvalidArgumentError(`certificate ${f} must be a non-negative integer`);
  }
  if (!Array.isArray(j.signatures)) throw new InvalidArgumentError('certificate signatures must be an array');
  return {
    kind: j.kind === 'lock' ? VoteKind.lock : VoteKind.commit,
    view: j.view!, height: j.height!, headerHash: fromHex(j.headerHash as string, 32), n: j.n!,
    signers: fromHex(j.signers as string), signatures: j.signatures.map((s) => fromHex(s as string, SIGNATURE_BYTES)),
  };
}

// ---- Timeout certificates ----

export interface TimeoutEntry {
  /** The signer's lock: null for ⊥ (zeros on the wire). */
  readonly lock: LockRef | null;
  readonly signature: Bytes;
}

export interface TimeoutCertificate {
  /** The view the signers left. */
  readonly view: number;
  readonly n: number;
  readonly signers: Bytes;
  /** One per set bit, in ascending validator index. */
  readonly entries: readonly TimeoutEntry[];
}

declare const checkedTc: unique symbol;
export type CheckedTimeoutCertificate = TimeoutCertificate & { readonly [checkedTc]: true };

const TC_ENTRY_BYTES = 8 + 8 + 32 + SIGNATURE_BYTES;

export function timeoutCertificateSize(tc: Pick<TimeoutCertificate, 'n' | 'entries'>): number {
  return 8 + 1 + bitmapBytes(tc.n) + TC_ENTRY_BYTES * tc.entries.length;
}

function timeoutStructureFault(tc: TimeoutCertificate): string | null {
  if (!Number.isSafeInteger(tc.view) || tc.view < 0) return 'view is not a u64 up to 2^53-1';
  if (!Number.isInteger(tc.n) || tc.n < 1 || tc.n > MAX_VALIDATORS) return `n ${tc.n} is outside 1..${MAX_VALIDATORS}`;
  if (tc.signers.byteLength !== bitmapBytes(tc.n)) return `signer bitmap is ${tc.signers.byteLength} bytes, not ${bitmapBytes(tc.n)}`;
  const indices = signerIndices(tc.signers);
  if (indices.length > 0 && indices[indices.length - 1] >= tc.n) return `signer bit ${indices[indices.length - 1]} set beyond n = ${tc.n}`;
  if (tc.entries.length !== indices.length) return `${tc.entries.length} entries for ${indices.length} signer bits`;
  for (const e of tc.entries) {
    if (e.signature.byteLength !== SIGNATURE_BYTES) return 'a signature is not 65 bytes';
    if (e.lock === null) continue;
    if (!Number.isSafeInteger(e.lock.view) || e.lock.view < 0 || !Number.isSafeInteger(e.lock.height) || e.lock.height < 0) return 'a lock rank is not a u64 up to 2^53-1';
    if (e.lock.headerHash.byteLength !== 32 || equalBytes(e.lock.headerHash, ZERO32)) return 'a lock hash is not 32 bytes, or is zero';
  }
  return null;
}

export function encodeTimeoutCertificate(tc: TimeoutCertificate): Bytes {
  const fault = timeoutStructureFault(tc);
  if (fault) throw new InvalidArgumentError(`cannot encode timeout certificate: ${fault}`);
  const w = new Writer(timeoutCertificateSize(tc)).u64(tc.view).u8(tc.n).raw(tc.signers);
  for (const e of tc.entries) {
    if (e.lock === null) w.u64(0).u64(0).raw(ZERO32);
    else w.u64(e.lock.view).u64(e.lock.height).raw(e.lock.headerHash);
    w.raw(e.signature);
  }
  return w.finish();
}

/** Reads one TC at the reader's position. ⊥ must be all zeros: a zero hash with a non-zero rank is refused. Throws DecodeError. */
export function readTimeoutCertificate(r: Reader): TimeoutCertificate {
  const view = r.u64();
  const n = r.u8();
  if (n < 1) throw new DecodeError('timeout certificate for an empty validator set');
  const signers = r.raw(bitmapBytes(n));
  const indices = signerIndices(signers);
  if (indices.length > 0 && indices[indices.length - 1] >= n) throw new DecodeError(`signer bit ${indices[indices.length - 1]} set beyond n = ${n}`);
  const entries: TimeoutEntry[] = [];
  for (let i = 0; i < indices.length; i++) {
    const lockView = r.u64();
    const lockHeight = r.u64();
    const lockHash = r.raw(32);
    const none = equalBytes(lockHash, ZERO32);
    if (none && (lockView !== 0 || lockHeight !== 0)) throw new DecodeError('a lock with a zero hash must have a zero rank');
    entries.push({ lock: none ? null : { view: lockView, height: lockHeight, headerHash: lockHash }, signature: r.raw(SIGNATURE_BYTES) });
  }
  return { view, n, signers, entries };
}

/** Strict: the exact length. Throws CertificateRejectedError('certificate-malformed'). */
export function decodeTimeoutCertificate(bytes: Uint8Array): TimeoutCertificate {
  return decodeExactly(bytes, readTimeoutCertificate, 'timeout certificate');
}

/**
 * Checks TC(view) for this log and set: well-formed, a quorum of distinct validators, and each entry's signature,
 * in ascending index, recovering to the validator of its bit over that entry's own Timeout struct (view, and the lock
 * it reports). Throws CertificateRejectedError with the same codes as checkCertificate.
 */
export function checkTimeoutCertificate(ctx: VoteContext, tc: TimeoutCertificate): CheckedTimeoutCertificate {
  const fault = timeoutStructureFault(tc);
  if (fault) throw new CertificateRejectedError('certificate-malformed', `malformed timeout certificate: ${fault}`);
  const digests = tc.entries.map((e) => digestOfTimeout(ctx, tc.view, e.lock));
  checkSigners(ctx.membership, tc.n, tc.signers, tc.entries.map((e) => e.signature), (position) => digests[position]);
  return tc as CheckedTimeoutCertificate;
}

/**
 * The highest lock a TC reports: the entry of greatest rank (view, height); between equal ranks (equal hashes unless
 * someone equivocated) the smallest hash, so every node picks the same one. null when every entry is ⊥.
 */
export function highLock(tc: TimeoutCertificate): LockRef | null {
  let best: LockRef | null = null;
  for (const { lock } of tc.entries) {
    if (lock === null) continue;
    const order = best === null ? 1 : compareRank(lock, best);
    if (order > 0 || (order === 0 && compareBytes(lock.headerHash, best!.headerHash) < 0)) best = lock;
  }
  return best;
}

export interface TimeoutCertificateJson {
  readonly view: number;
  readonly n: number;
  readonly signers: string;
  readonly entries: readonly { readonly lockView: number; readonly lockHeight: number; readonly lockHash: string; readonly signature: string }[];
}

export function timeoutCertificateToJson(tc: TimeoutCertificate): TimeoutCertificateJson {
  return {
    view: tc.view, n: tc.n, signers: toHex(tc.signers),
    entries: tc.entries.map((e) => ({
      lockView: e.lock?.view ?? 0, lockHeight: e.lock?.height ?? 0, lockHash: toHex(e.lock?.headerHash ?? ZERO32), signature: toHex(e.signature),
    })),
  };
}
