/**
 * Votes: a validator's signed statement about one header of the log (docs/protocol.md §Vote). A lock vote (kind 1)
 * says "I verified and durably stored this header"; a commit vote (kind 2) says "I saw a quorum of lock votes on it
 * and my lock is now at least this high". The signed message is the EIP-712 `Vote` struct (eip712.ts), which binds
 * the log, the validator set (its hash), the header's view and height, the header hash and the kind.
 *
 * Binary forms (big-endian):
 *   vote body     kind u8 | view u64 | height u64 | headerHash[32]                       49 bytes
 *   signed vote   vote body | signature[65] (r | s | v)                                  114 bytes
 * The log id and validator set hash are not on the wire: both are the receiver's own configuration, and a vote made
 * for another log or set simply fails to verify.
 */
import { DecodeError, Reader, Writer, ZERO32, equalBytes, toHex, type Bytes } from './bytes.ts';
import { timeoutDigest, voteDigest, type VoteFields } from './eip712.ts';
import { InvalidArgumentError, VoteRejectedError } from './errors.ts';
import type { Membership } from './membership.ts';
import { recoverAddress, sign, SIGNATURE_BYTES, SignatureError } from './signature.ts';

export const VoteKind = { lock: 1, commit: 2 } as const;
export type VoteKind = (typeof VoteKind)[keyof typeof VoteKind];

export const VOTE_BODY_BYTES = 1 + 8 + 8 + 32;
export const SIGNED_VOTE_BYTES = VOTE_BODY_BYTES + SIGNATURE_BYTES;

/** What a vote is about; the log and validator set come from the voting context. */
export interface Vote {
  readonly kind: VoteKind;
  /** The voted header's view (a validator votes only for headers of the view it is in). */
  readonly view: number;
  readonly height: number;
  readonly headerHash: Bytes;
}

export interface SignedVote extends Vote {
  readonly signature: Bytes;
}

/** Where votes are made and judged: one log (its id and EIP-712 separator) and its validator set. LogRules fits. */
export interface VoteContext {
  readonly logId: Bytes;
  readonly separator: Bytes;
  readonly membership: Membership;
}

export function isVoteKind(kind: number): kind is VoteKind {
  return kind === VoteKind.lock || kind === VoteKind.commit;
}

export function voteKindName(kind: VoteKind): 'lock' | 'commit' {
  return kind === VoteKind.lock ? 'lock' : 'commit';
}

function fields(ctx: VoteContext, v: Vote): VoteFields {
  return { logId: ctx.logId, membershipHash: ctx.membership.hash, view: v.view, height: v.height, headerHash: v.headerHash, kind: v.kind };
}

/** The EIP-712 digest a validator signs for `v` in this log and validator set. */
export function digestOfVote(ctx: VoteContext, v: Vote): Bytes {
  return voteDigest(ctx.separator, fields(ctx, v));
}

/** A lock as a Timeout reports it: the rank and header hash of a certificate; null is "no lock" (⊥). */
export interface LockRef {
  readonly view: number;
  readonly height: number;
  readonly headerHash: Bytes;
}

/**
 * The EIP-712 digest of `Timeout(logId, membershipHash, view, lockView, lockHeight, lockHash)`: a validator leaving
 * `view` while holding `lock` (⊥ is encoded as zeros).
 */
export function digestOfTimeout(ctx: VoteContext, view: number, lock: LockRef | null): Bytes {
  return timeoutDigest(ctx.separator, {
    logId: ctx.logId, membershipHash: ctx.membership.hash, view,
    lockView: lock?.view ?? 0, lockHeight: lock?.height ?? 0, lockHash: lock?.headerHash ?? ZERO32,
  });
}

/** Signs `v` (RFC 6979: the same vote and key always give the same bytes). No safety check: see storage/safety-store.ts. */
export function signVoteUnchecked(ctx: VoteContext, v: Vote, privateKey: Uint8Array): SignedVote {
  return { kind: v.kind, view: v.view, height: v.height, headerHash: v.headerHash, signature: sign(digestOfVote(ctx, v), privateKey) };
}

/**
 * The index in the validator set of the member that signed `v`; throws VoteRejectedError otherwise. With
 * `expectedIndex` (the signer a message names), a signature by any other member is refused too.
 */
export function verifyVote(ctx: VoteContext, v: SignedVote, expectedIndex?: number): number {
  let signer: Bytes;
  try {
    signer = recoverAddress(digestOfVote(ctx, v), v.signature);
  } catch (e) {
    throw new VoteRejectedError('vote-signature', `vote signature: ${(e as SignatureError).message}`, { cause: e });
  }
  const index = ctx.membership.indexOf(signer);
  if (index < 0) throw new VoteRejectedError('vote-not-member', `vote signed by ${toHex(signer)}, not a validator of this set`, { details: { signer: toHex(signer) } });
  if (expectedIndex !== undefined && index !== expectedIndex) {
    throw new VoteRejectedError('vote-wrong-signer', `vote signed by validator ${index}, not ${expectedIndex}`, { details: { signer: toHex(signer), index, expectedIndex } });
  }
  return index;
}

export function writeVoteBody(w: Writer, v: Vote): void {
  w.u8(v.kind).u64(v.view).u64(v.height).raw(v.headerHash);
}

/** Reads a vote body; throws DecodeError on a kind other than 1 or 2, a u64 above 2^53-1, or a zero header hash. */
export function readVoteBody(r: Reader): Vote {
  const kind = r.u8();
  if (!isVoteKind(kind)) throw new DecodeError(`vote kind ${kind} is neither 1 (lock) nor 2 (commit)`);
  const view = r.u64();
  const height = r.u64();
  const headerHash = r.raw(32);
  // A header hash is a keccak digest, never zero; zero stands for "none" in the safety state, so refuse it here.
  if (equalBytes(headerHash, ZERO32)) throw new DecodeError('vote header hash is zero');
  return { kind, view, height, headerHash };
}

export function encodeSignedVote(v: SignedVote): Bytes {
  const w = new Writer(SIGNED_VOTE_BYTES);
  writeVoteBody(w, v);
  return w.raw(v.signature).finish();
}

/** Strict: exactly 114 bytes. Throws VoteRejectedError('vote-malformed'). The fields are views into `bytes`. */
export function decodeSignedVote(bytes: Uint8Array): SignedVote {
  try {
    const r = new Reader(bytes);
    const v = readVoteBody(r);
    const signature = r.raw(SIGNATURE_BYTES);
    r.end();
    return { ...v, signature };
  } catch (e) {
    throw new VoteRejectedError('vote-malformed', `malformed vote: ${(e as Error).message}`, { cause: e });
  }
}


/**
 * A vote bundle: the votes one validator signed together (a commit of h and a lock of h + 1 under load), as one
 * gossip message (docs/protocol.md §Vote, bundle):
 *   version u8 = 1 | signerIndex u8 | count u8 (1..16) | count × signed vote (114 bytes)
 * Each vote is verified on its own against `validators[signerIndex]` (verifyVote with that index).
 */
export const VOTE_BUNDLE_VERSION = 1;
export const MAX_BUNDLE_VOTES = 16;

export interface VoteBundle {
  readonly signerIndex: number;
  readonly votes: readonly SignedVote[];
}

export function encodeVoteBundle(b: VoteBundle): Bytes {
  if (b.votes.length < 1 || b.votes.length > MAX_BUNDLE_VOTES) throw new InvalidArgumentError(`a vote bundle holds 1..${MAX_BUNDLE_VOTES} votes, not ${b.votes.length}`);
  if (!Number.isInteger(b.signerIndex) || b.signerIndex < 0 || b.signerIndex > 254) throw new InvalidArgumentError(`signer index ${b.signerIndex} is outside 0..254`);
  const w = new Writer(3 + SIGNED_VOTE_BYTES * b.votes.length).u8(VOTE_BUNDLE_VERSION).u8(b.signerIndex).u8(b.votes.length);
  for (const v of b.votes) {
    writeVoteBody(w, v);
    w.raw(v.signature);
  }
  return w.finish();
}

/** Strict: version 1, 1..16 votes, the exact length. Throws VoteRejectedError('vote-malformed'). */
export function decodeVoteBundle(bytes: Uint8Array): VoteBundle {
  try {
    const r = new Reader(bytes);
    const version = r.u8();
    if (version !== VOTE_BUNDLE_VERSION) throw new DecodeError(`unknown vote bundle version ${version}`);
    const signerIndex = r.u8();
    const count = r.u8();
    if (count < 1 || count > MAX_BUNDLE_VOTES) throw new DecodeError(`a vote bundle holds 1..${MAX_BUNDLE_VOTES} votes, not ${count}`);
    const votes: SignedVote[] = [];
    for (let i = 0; i < count; i++) votes.push({ ...readVoteBody(r), signature: r.raw(SIGNATURE_BYTES) });
    r.end();
    return { signerIndex, votes };
  } catch (e) {
    throw new VoteRejectedError('vote-malformed', `malformed vote bundle: ${(e as Error).message}`, { cause: e });
  }
}
