/**
 * JSON form of the validator proofs, kinds 3-6 (core/vote-proofs.ts; docs/protocol.md §Equivocation proofs): what
 * nodes serve, `sequencer slash` reads and the contract tooling turns into calldata.
 *
 *   {"kind": "vote-conflict"|"vote-fork"|"lock-lie"|"timeout-conflict",
 *    "domain": {"name": "Sequencer", "version": "1", "chainId", "salt": logId},
 *    "signer": address,
 *    "a": {"vote": Vote} | {"timeout": Timeout}, plus "signature",
 *    "b": likewise,
 *    "child": header (vote-fork only)}
 *
 * `vote` and `timeout` are the signed EIP-712 messages field for field (Vote: logId, membershipHash, view, height,
 * headerHash, kind 1|2; Timeout: logId, membershipHash, view, lockView, lockHeight, lockHash; ⊥ = all three zero), so
 * ethers' verifyTypedData checks a signature with the object as it stands. The parser is strict: unknown fields, a
 * statement of the wrong type for the kind, a `child` outside vote-fork, statements of two logs or validator sets,
 * and a half-zero lock are refused with InvalidParamsError naming the field.
 */
import { getAddress } from 'ethers';
import { ZERO32, equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import { InvalidParamsError } from '../core/errors.ts';
import { isVoteKind, type SignedVote } from '../core/vote.ts';
import type { SignedTimeout, VoteProof, VoteProofKind } from '../core/vote-proofs.ts';
import { HEADER_FIELDS, headerToJson, isObject, parseHeader, parseHex, parseIndex, refuseUnknownFields, type HeaderJson } from './json.ts';

export interface VoteJson {
  logId: string; membershipHash: string; view: number; height: number; headerHash: string; kind: number;
}

export interface TimeoutJson {
  logId: string; membershipHash: string; view: number; lockView: number; lockHeight: number; lockHash: string;
}

export interface SignedVoteJson { vote: VoteJson; signature: string }
export interface SignedTimeoutJson { timeout: TimeoutJson; signature: string }

export interface ProofDomainJson { name: 'Sequencer'; version: '1'; chainId: number; salt: string }

interface ProofJsonBase { domain: ProofDomainJson; signer: string }

export type VoteProofJson =
  | ProofJsonBase & { kind: 'vote-conflict'; a: SignedVoteJson; b: SignedVoteJson }
  | ProofJsonBase & { kind: 'vote-fork'; a: SignedVoteJson; b: SignedVoteJson; child: HeaderJson }
  | ProofJsonBase & { kind: 'lock-lie'; a: SignedVoteJson; b: SignedTimeoutJson }
  | ProofJsonBase & { kind: 'timeout-conflict'; a: SignedTimeoutJson; b: SignedTimeoutJson };

/** What a proof's statements are bound to besides their own fields: the chain, the log, the validator set. */
export interface VoteProofScope {
  readonly chainId: number;
  readonly logId: Bytes;
  readonly membershipHash: Bytes;
}

export interface ParsedVoteProof extends VoteProofScope {
  readonly proof: VoteProof;
}

export const VOTE_PROOF_KINDS: readonly VoteProofKind[] = ['vote-conflict', 'vote-fork', 'lock-lie', 'timeout-conflict'];

/** Which statement each side of a kind is. */
const SIDES: Record<VoteProofKind, readonly ['vote' | 'timeout', 'vote' | 'timeout']> = {
  'vote-conflict': ['vote', 'vote'], 'vote-fork': ['vote', 'vote'], 'lock-lie': ['vote', 'timeout'], 'timeout-conflict': ['timeout', 'timeout'],
};

const PROOF_FIELDS: ReadonlySet<string> = new Set(['kind', 'domain', 'signer', 'a', 'b', 'child']);
const DOMAIN_FIELDS: ReadonlySet<string> = new Set(['name', 'version', 'chainId', 'salt']);
const VOTE_FIELDS: ReadonlySet<string> = new Set(['logId', 'membershipHash', 'view', 'height', 'headerHash', 'kind']);
const TIMEOUT_FIELDS: ReadonlySet<string> = new Set(['logId', 'membershipHash', 'view', 'lockView', 'lockHeight', 'lockHash']);

export function signedVoteToJson(scope: VoteProofScope, v: SignedVote): SignedVoteJson {
  return {
    vote: { logId: toHex(scope.logId), membershipHash: toHex(scope.membershipHash), view: v.view, height: v.height, headerHash: toHex(v.headerHash), kind: v.kind },
    signature: toHex(v.signature),
  };
}

export function signedTimeoutToJson(scope: VoteProofScope, t: SignedTimeout): SignedTimeoutJson {
  return {
    timeout: {
      logId: toHex(scope.logId), membershipHash: toHex(scope.membershipHash), view: t.view,
      lockView: t.lock?.view ?? 0, lockHeight: t.lock?.height ?? 0, lockHash: toHex(t.lock?.headerHash ?? ZERO32),
    },
    signature: toHex(t.signature),
  };
}

export function voteProofToJson(scope: VoteProofScope, p: VoteProof): VoteProofJson {
  const base: ProofJsonBase = {
    domain: { name: 'Sequencer', version: '1', chainId: scope.chainId, salt: toHex(scope.logId) },
    signer: getAddress(toHex(p.signer)),
  };
  switch (p.kind) {
    case 'vote-conflict': return { kind: p.kind, ...base, a: signedVoteToJson(scope, p.a), b: signedVoteToJson(scope, p.b) };
    case 'vote-fork': return { kind: p.kind, ...base, a: signedVoteToJson(scope, p.a), b: signedVoteToJson(scope, p.b), child: headerToJson(p.child) };
    case 'lock-lie': return { kind: p.kind, ...base, a: signedVoteToJson(scope, p.a), b: signedTimeoutToJson(scope, p.b) };
    case 'timeout-conflict': return { kind: p.kind, ...base, a: signedTimeoutToJson(scope, p.a), b: signedTimeoutToJson(scope, p.b) };
  }
}

/** Checks one statement's log and validator set against the proof's (a proof never pairs two contexts). */
function requireScope(o: Record<string, unknown>, field: string, scope: { logId: Bytes; membershipHash: Bytes | null }): Bytes {
  const logId = parseHex(o.logId, `${field}.logId`, 32);
  if (!equalBytes(logId, scope.logId)) throw new InvalidParamsError(`${field}.logId: differs from proof.domain.salt`);
  const membershipHash = parseHex(o.membershipHash, `${field}.membershipHash`, 32);
  if (scope.membershipHash !== null && !equalBytes(membershipHash, scope.membershipHash)) throw new InvalidParamsError(`${field}.membershipHash: differs from proof.a's`);
  return membershipHash;
}

function parseSide(
  v: unknown, field: string, type: 'vote' | 'timeout', scope: { logId: Bytes; membershipHash: Bytes | null },
): { statement: SignedVote | SignedTimeout; membershipHash: Bytes } {
  if (!isObject(v)) throw new InvalidParamsError(`${field}: expected an object`);
  refuseUnknownFields(v, new Set([type, 'signature']), `${field}.`);
  const o = v[type];
  const at = `${field}.${type}`;
  if (!isObject(o)) throw new InvalidParamsError(`${at}: expected an object`);
  refuseUnknownFields(o, type === 'vote' ? VOTE_FIELDS : TIMEOUT_FIELDS, `${at}.`);
  const membershipHash = requireScope(o, at, scope);
  const signature = parseHex(v.signature, `${field}.signature`, 65);
  const view = parseIndex(o.view, `${at}.view`);
  if (type === 'vote') {
    const kind = o.kind;
    if (typeof kind !== 'number' || !isVoteKind(kind)) throw new InvalidParamsError(`${at}.kind: expected 1 (lock) or 2 (commit)`);
    const headerHash = parseHex(o.headerHash, `${at}.headerHash`, 32);
    if (equalBytes(headerHash, ZERO32)) throw new InvalidParamsError(`${at}.headerHash: zero is no header's hash`);
    return { statement: { kind, view, height: parseIndex(o.height, `${at}.height`), headerHash, signature }, membershipHash };
  }
  const lockView = parseIndex(o.lockView, `${at}.lockView`);
  const lockHeight = parseIndex(o.lockHeight, `${at}.lockHeight`);
  const lockHash = parseHex(o.lockHash, `${at}.lockHash`, 32);
  // ⊥ is all zeros; a zero hash with a rank (or the reverse) is no lock the protocol signs, so it has no meaning here.
  const none = equalBytes(lockHash, ZERO32);
  if (none && (lockView !== 0 || lockHeight !== 0)) throw new InvalidParamsError(`${at}.lockHash: zero (no lock) with a nonzero lockView or lockHeight`);
  const lock = none ? null : { view: lockView, height: lockHeight, headerHash: lockHash };
  return { statement: { view, lock, signature }, membershipHash };
}

/** Parses the JSON form strictly (shape, hex, ranges, one log and validator set); checkVoteProof judges the rest. */
export function parseVoteProof(v: unknown): ParsedVoteProof {
  if (!isObject(v)) throw new InvalidParamsError('proof: expected an object');
  refuseUnknownFields(v, PROOF_FIELDS, 'proof.');
  const kind = v.kind;
  if (typeof kind !== 'string' || !(VOTE_PROOF_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidParamsError(`proof.kind: expected one of ${VOTE_PROOF_KINDS.map((k) => `"${k}"`).join(', ')}`);
  }
  const k = kind as VoteProofKind;
  const d = v.domain;
  if (!isObject(d) || d.name !== 'Sequencer' || d.version !== '1') throw new InvalidParamsError('proof.domain: expected {name: "Sequencer", version: "1", chainId, salt}');
  refuseUnknownFields(d, DOMAIN_FIELDS, 'proof.domain.');
  const chainId = parseIndex(d.chainId, 'proof.domain.chainId');
  const logId = parseHex(d.salt, 'proof.domain.salt', 32);
  const signer = parseHex(typeof v.signer === 'string' ? v.signer.toLowerCase() : v.signer, 'proof.signer', 20);
  const [typeA, typeB] = SIDES[k];
  const a = parseSide(v.a, 'proof.a', typeA, { logId, membershipHash: null });
  const membershipHash = a.membershipHash;
  const b = parseSide(v.b, 'proof.b', typeB, { logId, membershipHash });
  if ((k === 'vote-fork') !== (v.child !== undefined)) {
    throw new InvalidParamsError(k === 'vote-fork' ? 'proof.child: required for a vote-fork' : `proof.child: only a vote-fork has one`);
  }
  const scope = { chainId, logId, membershipHash };
  const [va, vb] = [a.statement as SignedVote, b.statement as SignedVote];
  const [ta, tb] = [a.statement as SignedTimeout, b.statement as SignedTimeout];
  switch (k) {
    case 'vote-conflict': return { ...scope, proof: { kind: k, signer, a: va, b: vb } };
    case 'vote-fork': {
      if (isObject(v.child)) refuseUnknownFields(v.child, HEADER_FIELDS, 'proof.child.');
      return { ...scope, proof: { kind: k, signer, a: va, b: vb, child: parseHeader(v.child, 'proof.child') } };
    }
    case 'lock-lie': return { ...scope, proof: { kind: k, signer, a: va, b: tb } };
    case 'timeout-conflict': return { ...scope, proof: { kind: k, signer, a: ta, b: tb } };
  }
}

/** Whether a JSON value claims to be a validator proof (kinds 3-6) rather than a header proof (kinds 1-2). */
export function isVoteProofJson(v: unknown): boolean {
  return isObject(v) && typeof v.kind === 'string' && (VOTE_PROOF_KINDS as readonly string[]).includes(v.kind);
}
