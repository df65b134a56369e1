/**
 * Accountability for validators (docs/protocol.md §Equivocation proofs, kinds 3-6): two statements signed by one
 * validator of a log that no validator following the safety rules (safety.ts) ever signs together. Each proof is two
 * EIP-712 signatures by one address (plus, for kind 4, the preimage of one header) and is judged with nothing but the
 * log's domain and its validator set; the SequencerBond contract applies the same conditions on chain.
 *
 *   3 vote-conflict     votes a, b: same view and height, different header hash (any kinds)
 *   4 vote-fork         lock votes a (h), b (h + 1) of one view, and the header `child` b voted for, whose parent is
 *                       not the header a voted for
 *   5 lock-lie          commit vote a, timeout b of a view >= a.view reporting a lock below (a.view, a.height) or none
 *   6 timeout-conflict  timeouts a, b of the same view with different digests
 *
 * Both statements are always of this log and validator set: a vote or timeout carries neither on the wire, both come
 * from the context that verified it, so a pair judged here never mixes two contexts.
 *
 * The judges (`judge…`) take statements whose signatures the caller has already verified as validator `signer`'s
 * (vote.ts verifyVote, which every received vote passes anyway), and return the proof in canonical order or null:
 * they cost hashing only. `checkVoteProof` is for proofs from elsewhere: it re-verifies everything
 * (`checkVoteProofStatements` all but membership, for a party that knows only the set's hash).
 */
import { ZERO32, compareBytes, equalBytes, toHex, type Bytes } from './bytes.ts';
import { compareRank, hasSigner, type Certificate, type CheckedCertificate } from './certificate.ts';
import { keccak256 } from './hash.ts';
import { headerHash, type Header } from './header.ts';
import { InvalidArgumentError } from './errors.ts';
import { recoverAddress } from './signature.ts';
import { timeoutDigest, voteDigest } from './eip712.ts';
import { VoteKind, type LockRef, type SignedVote, type Vote, type VoteContext } from './vote.ts';

export type VoteProofKind = 'vote-conflict' | 'vote-fork' | 'lock-lie' | 'timeout-conflict';

/** The `kind` a proof has in its id, in the contract's Slashed event, and in docs/protocol.md (1, 2 are header proofs). */
export const VOTE_PROOF_KIND_CODE: Readonly<Record<VoteProofKind, number>> = {
  'vote-conflict': 3, 'vote-fork': 4, 'lock-lie': 5, 'timeout-conflict': 6,
};

/**
 * A validator's signed Timeout: it leaves `view` holding `lock` (null = ⊥, zeros in the signed struct). The same shape
 * as storage/safety-store.ts SignedTimeout, so what the safety store returns is judged as it is.
 */
export interface SignedTimeout {
  readonly view: number;
  readonly lock: LockRef | null;
  readonly signature: Bytes;
}

interface ProofBase {
  /** The validator's address (20 bytes): both signatures recover to it. */
  readonly signer: Bytes;
}

export interface VoteConflictProof extends ProofBase {
  readonly kind: 'vote-conflict';
  /** The vote with the smaller digest. */
  readonly a: SignedVote;
  readonly b: SignedVote;
}

export interface VoteForkProof extends ProofBase {
  readonly kind: 'vote-fork';
  /** The lock vote at height h. */
  readonly a: SignedVote;
  /** The lock vote at height h + 1, same view. */
  readonly b: SignedVote;
  /** The header b voted for (headerHash(child) = b.headerHash); its prevHeaderHash is not a.headerHash. */
  readonly child: Header;
}

export interface LockLieProof extends ProofBase {
  readonly kind: 'lock-lie';
  /** The commit vote. */
  readonly a: SignedVote;
  /** The timeout of a view >= a.view whose lock is below (a.view, a.height), or ⊥. */
  readonly b: SignedTimeout;
}

export interface TimeoutConflictProof extends ProofBase {
  readonly kind: 'timeout-conflict';
  /** The timeout with the smaller digest. */
  readonly a: SignedTimeout;
  readonly b: SignedTimeout;
}

export type VoteProof = VoteConflictProof | VoteForkProof | LockLieProof | TimeoutConflictProof;

/**
 * What the digests of a proof's statements depend on: the log (its id and EIP-712 separator) and the validator set's
 * hash. A VoteContext is one; a third party that knows only the set's hash (a proof's JSON carries it) builds one too.
 */
export interface ProofScope {
  readonly logId: Bytes;
  readonly separator: Bytes;
  readonly membership: { readonly hash: Bytes };
}

/** The digest the signer signed for a vote (vote.ts digestOfVote, for any ProofScope). */
export function digestOfProofVote(scope: ProofScope, v: Vote): Bytes {
  return voteDigest(scope.separator, {
    logId: scope.logId, membershipHash: scope.membership.hash, view: v.view, height: v.height, headerHash: v.headerHash, kind: v.kind,
  });
}

/** The digest the signer signed for a timeout (vote.ts digestOfTimeout, for any ProofScope). */
export function digestOfProofTimeout(scope: ProofScope, t: Pick<SignedTimeout, 'view' | 'lock'>): Bytes {
  return timeoutDigest(scope.separator, {
    logId: scope.logId, membershipHash: scope.membership.hash, view: t.view,
    lockView: t.lock?.view ?? 0, lockHeight: t.lock?.height ?? 0, lockHash: t.lock?.headerHash ?? ZERO32,
  });
}

function signerAddress(ctx: VoteContext, signer: number): Bytes {
  const address = ctx.membership.validators[signer];
  if (address === undefined) throw new InvalidArgumentError(`validator index ${signer} is outside 0..${ctx.membership.n - 1}`);
  return address;
}

// The judges proper, by signer address; the exported ones take the validator index a node knows its votes by.

function voteConflict(scope: ProofScope, signer: Bytes, x: SignedVote, y: SignedVote): VoteConflictProof | null {
  if (x.view !== y.view || x.height !== y.height || equalBytes(x.headerHash, y.headerHash)) return null;
  const [a, b] = compareBytes(digestOfProofVote(scope, x), digestOfProofVote(scope, y)) < 0 ? [x, y] : [y, x];
  return { kind: 'vote-conflict', signer, a, b };
}

function voteFork(scope: ProofScope, signer: Bytes, x: SignedVote, y: SignedVote, child: Header): VoteForkProof | null {
  if (x.kind !== VoteKind.lock || y.kind !== VoteKind.lock || x.view !== y.view) return null;
  const [a, b] = x.height + 1 === y.height ? [x, y] : y.height + 1 === x.height ? [y, x] : [null, null];
  if (a === null || b === null) return null;
  if (!childFits(scope, b, child) || equalBytes(child.prevHeaderHash, a.headerHash)) return null;
  return { kind: 'vote-fork', signer, a, b, child };
}

/** `child` is the header `vote` is about: of this log, at its view and height, with its hash. */
function childFits(scope: ProofScope, vote: Vote, child: Header): boolean {
  return equalBytes(child.logId, scope.logId) && child.view === vote.view && child.height === vote.height
    && equalBytes(headerHash(scope.separator, child), vote.headerHash);
}

function lockLie(signer: Bytes, vote: SignedVote, timeout: SignedTimeout): LockLieProof | null {
  if (vote.kind !== VoteKind.commit || timeout.view < vote.view) return null;
  if (timeout.lock !== null && compareRank(timeout.lock, vote) >= 0) return null;
  return { kind: 'lock-lie', signer, a: vote, b: timeout };
}

function timeoutConflict(scope: ProofScope, signer: Bytes, x: SignedTimeout, y: SignedTimeout): TimeoutConflictProof | null {
  if (x.view !== y.view) return null;
  const order = compareBytes(digestOfProofTimeout(scope, x), digestOfProofTimeout(scope, y));
  if (order === 0) return null;
  const [a, b] = order < 0 ? [x, y] : [y, x];
  return { kind: 'timeout-conflict', signer, a, b };
}

/** Kind 3: two votes by validator `signer` at one (view, height) for different headers, whatever their kinds. */
export function judgeVoteConflict(ctx: VoteContext, signer: number, x: SignedVote, y: SignedVote): VoteConflictProof | null {
  return voteConflict(ctx, signerAddress(ctx, signer), x, y);
}

/**
 * Kind 4: lock votes at consecutive heights of one view, where `child`, the header voted for at the higher one, does
 * not extend the header voted for at the lower one (within a view an honest validator's lock votes follow one chain,
 * rule L4). `child` must be the preimage of the higher vote's header hash; any other header gives null.
 */
export function judgeVoteFork(ctx: VoteContext, signer: number, x: SignedVote, y: SignedVote, child: Header): VoteForkProof | null {
  return voteFork(ctx, signerAddress(ctx, signer), x, y, child);
}

/**
 * Kind 5: a commit vote at (v, h) and a timeout of a view >= v that reports a lock below (v, h), or none. A commit
 * vote is only signed once the lock (v, h) is persisted (rule C3), and no vote is signed in a view already timed
 * out (C1), so every honest timeout of a view >= v reports a lock of at least (v, h). A timeout of an *earlier*
 * view may report anything lower: that pair is honest and gives null.
 */
export function judgeLockLie(ctx: VoteContext, signer: number, vote: SignedVote, timeout: SignedTimeout): LockLieProof | null {
  return lockLie(signerAddress(ctx, signer), vote, timeout);
}

/** Kind 6: two different timeouts by one validator for one view (an honest one signs one, and repeats it byte for byte). */
export function judgeTimeoutConflict(ctx: VoteContext, signer: number, x: SignedTimeout, y: SignedTimeout): TimeoutConflictProof | null {
  return timeoutConflict(ctx, signerAddress(ctx, signer), x, y);
}

/**
 * Any proof two votes of one validator make: kind 3, else kind 4 when `childOf` finds the header the higher vote is
 * about (by its hash; a node passes its store's or cache's lookup). For a node meeting a new vote next to one it holds.
 */
export function judgeVotePair(
  ctx: VoteContext, signer: number, x: SignedVote, y: SignedVote, childOf?: (headerHash: Bytes) => Header | undefined,
): VoteConflictProof | VoteForkProof | null {
  const conflict = judgeVoteConflict(ctx, signer, x, y);
  if (conflict || !childOf || x.view !== y.view || Math.abs(x.height - y.height) !== 1) return conflict;
  const child = childOf((x.height > y.height ? x : y).headerHash);
  return child ? judgeVoteFork(ctx, signer, x, y, child) : null;
}

/** The digests of a proof's two statements, in proof order. */
export function voteProofDigests(scope: ProofScope, p: VoteProof): [Bytes, Bytes] {
  switch (p.kind) {
    case 'vote-conflict':
    case 'vote-fork':
      return [digestOfProofVote(scope, p.a), digestOfProofVote(scope, p.b)];
    case 'lock-lie':
      return [digestOfProofVote(scope, p.a), digestOfProofTimeout(scope, p.b)];
    case 'timeout-conflict':
      return [digestOfProofTimeout(scope, p.a), digestOfProofTimeout(scope, p.b)];
  }
}

/** Stable identifier of a proof: keccak256(kind u8 | digestA | digestB), the digests in canonical order. */
export function voteProofId(scope: ProofScope, p: VoteProof): Bytes {
  const [a, b] = voteProofDigests(scope, p);
  const buf = new Uint8Array(65);
  buf[0] = VOTE_PROOF_KIND_CODE[p.kind];
  buf.set(a, 1);
  buf.set(b, 33);
  return keccak256(buf);
}

/** The proof the same two statements make according to the judges (canonical order), or null. */
function rejudge(scope: ProofScope, p: VoteProof): VoteProof | null {
  switch (p.kind) {
    case 'vote-conflict': return voteConflict(scope, p.signer, p.a, p.b);
    case 'vote-fork': return voteFork(scope, p.signer, p.a, p.b, p.child);
    case 'lock-lie': return lockLie(p.signer, p.a, p.b);
    case 'timeout-conflict': return timeoutConflict(scope, p.signer, p.a, p.b);
  }
}

/**
 * What can be checked of a proof without the validator list (the contract's checks, plus canonical order): both
 * signatures are valid (65 bytes, v 27/28, low s) and recover to `signer` in this log and set, the statements
 * conflict as the kind says, and they are in canonical order (so one equivocation has one proof id; the contract
 * accepts either order of kinds 3 and 6, nodes publish only the canonical one). Null when valid, else the reason.
 */
export function checkVoteProofStatements(scope: ProofScope, p: VoteProof): string | null {
  const [digestA, digestB] = voteProofDigests(scope, p);
  for (const [name, digest, signature] of [['a', digestA, p.a.signature], ['b', digestB, p.b.signature]] as const) {
    try {
      if (!equalBytes(recoverAddress(digest, signature), p.signer)) return `${name} is not signed by the signer (in this log and validator set)`;
    } catch (e) {
      return `${name}: ${(e as Error).message}`;
    }
  }
  const judged = rejudge(scope, p);
  if (!judged) return `the statements are not a ${p.kind}`;
  if (judged.a !== p.a) return 'the statements are not in canonical order';
  return null;
}

/**
 * Checks a proof from anywhere (gossip, RPC, a file) against this log and validator set: `signer` is one of the
 * validators, and checkVoteProofStatements holds. Returns null when valid, else the reason.
 */
export function checkVoteProof(ctx: VoteContext, p: VoteProof): string | null {
  if (!ctx.membership.includes(p.signer)) return `signer ${toHex(p.signer)} is not a validator of this set`;
  return checkVoteProofStatements(ctx, p);
}

/**
 * The kind-3 proofs two conflicting certificates make: one per validator that signed both (a certificate's votes all
 * share one (view, height) and header hash, so any two at one (view, height) for different headers make every double
 * signer a vote conflict). Both certificates are checked (certificate.ts checkCertificate, the type says so) against `ctx`;
 * certificates at different (view, height), or for one header, give none. Quorum intersection guarantees at least
 * `2q - n` proofs for two checked conflicting certificates.
 */
export function proofsFromConflictingCertificates(ctx: VoteContext, certA: CheckedCertificate, certB: CheckedCertificate): VoteConflictProof[] {
  if (certA.view !== certB.view || certA.height !== certB.height || equalBytes(certA.headerHash, certB.headerHash)) return [];
  const proofs: VoteConflictProof[] = [];
  const signatureOf = (c: Certificate, index: number): Bytes => {
    let k = 0;
    for (let i = 0; i < index; i++) if (hasSigner(c.signers, i)) k++;
    return c.signatures[k];
  };
  for (let i = 0; i < ctx.membership.n; i++) {
    if (!hasSigner(certA.signers, i) || !hasSigner(certB.signers, i)) continue;
    const voteOf = (c: Certificate): SignedVote => ({ kind: c.kind, view: c.view, height: c.height, headerHash: c.headerHash, signature: signatureOf(c, i) });
    const proof = judgeVoteConflict(ctx, i, voteOf(certA), voteOf(certB));
    if (proof) proofs.push(proof);
  }
  return proofs;
}
