/**
 * Validator proofs, kinds 3-6 (core/vote-proofs.ts, wire/vote-proof-json.ts; docs/protocol.md §Equivocation proofs):
 * a table per kind of proofs and of honest pairs that must not judge as one, checkVoteProof's refusals, proofs from
 * two conflicting certificates, the JSON form and its strict parser, and the `proofs` test vectors. Signatures and
 * digests are checked against ethers (TypedDataEncoder, verifyTypedData) as the independent reference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TypedDataEncoder, solidityPackedKeccak256, verifyTypedData, type TypedDataField } from 'ethers';
import { ZERO32, equalBytes, fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { buildCertificate, checkCertificate, type CheckedCertificate } from '../../src/core/certificate.ts';
import { TYPED_DATA_TYPES, domainSeparator } from '../../src/core/eip712.ts';
import { headerHash, type Header } from '../../src/core/header.ts';
import { Membership } from '../../src/core/membership.ts';
import { addressFromPrivateKey, sign } from '../../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type LockRef, type SignedVote, type VoteContext } from '../../src/core/vote.ts';
import {
  VOTE_PROOF_KIND_CODE, checkVoteProof, digestOfProofTimeout, digestOfProofVote, judgeLockLie, judgeTimeoutConflict, judgeVoteConflict,
  judgeVoteFork, judgeVotePair, proofsFromConflictingCertificates, voteProofDigests, voteProofId, type SignedTimeout, type VoteProof,
} from '../../src/core/vote-proofs.ts';
import { headerToJson, type HeaderJson } from '../../src/wire/json.ts';
import { parseVoteProof, voteProofToJson, type VoteProofJson, type VoteProofScope } from '../../src/wire/vote-proof-json.ts';
import { encodeVoteSlashCalldata } from '../../src/chain/vote-slashing.ts';
import { VECTORS_PATH } from '../../scripts/gen-vectors.ts';
import { CHAIN_ID, DOMAIN, LOG_ID, MALLORY_KEY, SEPARATOR, ethersDomain, patternKey, rand } from './helpers.ts';

const VOTE_TYPES: Record<string, TypedDataField[]> = { Vote: [...TYPED_DATA_TYPES.Vote] };
const TIMEOUT_TYPES: Record<string, TypedDataField[]> = { Timeout: [...TYPED_DATA_TYPES.Timeout] };
/** docs/design/replication.md §9: n = 4, f = 1, quorum 3. */
const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const MEMBERSHIP = Membership.of(KEYS.map((k) => addressFromPrivateKey(k)));
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: MEMBERSHIP };
const SCOPE: VoteProofScope = { chainId: CHAIN_ID, logId: LOG_ID, membershipHash: MEMBERSHIP.hash };

const vote = (signer: number, kind: VoteKind, view: number, height: number, hash: Bytes, key = KEYS[signer]): SignedVote =>
  signVoteUnchecked(CTX, { kind, view, height, headerHash: hash }, key);
const timeout = (signer: number, view: number, lock: LockRef | null, key = KEYS[signer]): SignedTimeout =>
  ({ view, lock, signature: sign(digestOfProofTimeout(CTX, { view, lock }), key) });
const lockAt = (view: number, height: number, hash: Bytes = rand(32)): LockRef => ({ view, height, headerHash: hash });

function header(view: number, height: number, prevHeaderHash: Bytes, logId = LOG_ID): Header {
  return { logId, height, view, firstSeq: height * 10, count: 10, prevHeaderHash, headHash: rand(32), entriesRoot: rand(32), timestamp: 1_767_225_000_000 + height };
}

/** ethers' digest of a statement as the proof JSON has it: the independent reference for every digest here. */
function ethersDigest(side: { vote?: unknown; timeout?: unknown }): string {
  return side.vote !== undefined
    ? TypedDataEncoder.hash(ethersDomain(DOMAIN), VOTE_TYPES, side.vote as Record<string, unknown>)
    : TypedDataEncoder.hash(ethersDomain(DOMAIN), TIMEOUT_TYPES, side.timeout as Record<string, unknown>);
}
function ethersSigner(side: { vote?: unknown; timeout?: unknown; signature: string }): string {
  return side.vote !== undefined
    ? verifyTypedData(ethersDomain(DOMAIN), VOTE_TYPES, side.vote as Record<string, unknown>, side.signature)
    : verifyTypedData(ethersDomain(DOMAIN), TIMEOUT_TYPES, side.timeout as Record<string, unknown>, side.signature);
}

/** Everything a valid proof must satisfy, checked against ethers where it can be. */
function assertValidProof(p: VoteProof, signer: number): void {
  assert.equal(checkVoteProof(CTX, p), null);
  assert.ok(equalBytes(p.signer, MEMBERSHIP.validators[signer]));
  const json = voteProofToJson(SCOPE, p);
  // the statements as JSON are the EIP-712 messages: ethers recovers the signer and computes the same digests
  assert.equal(ethersSigner(json.a).toLowerCase(), toHex(p.signer));
  assert.equal(ethersSigner(json.b).toLowerCase(), toHex(p.signer));
  const [dA, dB] = voteProofDigests(CTX, p);
  assert.equal(toHex(dA), ethersDigest(json.a));
  assert.equal(toHex(dB), ethersDigest(json.b));
  assert.equal(toHex(voteProofId(CTX, p)), solidityPackedKeccak256(['uint8', 'bytes32', 'bytes32'], [VOTE_PROOF_KIND_CODE[p.kind], toHex(dA), toHex(dB)]));
  if (p.kind === 'vote-conflict' || p.kind === 'timeout-conflict') assert.ok(BigInt(toHex(dA)) < BigInt(toHex(dB)), 'a has the smaller digest');
}

describe('kind 3 vote-conflict', () => {
  const h1 = rand(32);
  const h2 = rand(32);
  const cases: { name: string; x: SignedVote; y: SignedVote; proof: boolean }[] = [
    { name: 'two lock votes, same (view, height), different headers', x: vote(1, VoteKind.lock, 4, 9, h1), y: vote(1, VoteKind.lock, 4, 9, h2), proof: true },
    { name: 'a lock and a commit vote for different headers', x: vote(1, VoteKind.lock, 4, 9, h1), y: vote(1, VoteKind.commit, 4, 9, h2), proof: true },
    { name: 'two commit votes for different headers', x: vote(1, VoteKind.commit, 0, 0, h1), y: vote(1, VoteKind.commit, 0, 0, h2), proof: true },
    { name: 'honest: lock and commit vote on one header', x: vote(1, VoteKind.lock, 4, 9, h1), y: vote(1, VoteKind.commit, 4, 9, h1), proof: false },
    { name: 'honest: the same vote twice', x: vote(1, VoteKind.lock, 4, 9, h1), y: vote(1, VoteKind.lock, 4, 9, h1), proof: false },
    { name: 'honest: a re-proposal pair (same height, views 4 and 5)', x: vote(1, VoteKind.commit, 4, 9, h1), y: vote(1, VoteKind.lock, 5, 9, h2), proof: false },
    { name: 'honest: votes of views 0 and 7 at one height', x: vote(1, VoteKind.lock, 0, 3, h1), y: vote(1, VoteKind.lock, 7, 3, h2), proof: false },
    { name: 'honest: consecutive heights of one view', x: vote(1, VoteKind.lock, 4, 9, h1), y: vote(1, VoteKind.lock, 4, 10, h2), proof: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = judgeVoteConflict(CTX, 1, c.x, c.y);
      const swapped = judgeVoteConflict(CTX, 1, c.y, c.x);
      if (!c.proof) {
        assert.equal(p, null);
        assert.equal(swapped, null);
        assert.equal(judgeVotePair(CTX, 1, c.x, c.y, () => undefined), null);
        return;
      }
      assert.ok(p && swapped);
      assert.equal(p.kind, 'vote-conflict');
      assert.deepEqual(swapped, p, 'one equivocation, one proof, whatever the order met');
      assertValidProof(p, 1);
      assert.deepEqual(judgeVotePair(CTX, 1, c.x, c.y), p);
    });
  }
});

describe('kind 4 vote-fork', () => {
  const parent = rand(32);
  const child = header(2, 6, rand(32));
  const childHash = headerHash(SEPARATOR, child);
  const a = vote(2, VoteKind.lock, 2, 5, parent);
  const b = vote(2, VoteKind.lock, 2, 6, childHash);
  const extending = header(2, 6, parent);
  const extendingHash = headerHash(SEPARATOR, extending);

  test('lock votes at h and h + 1 whose child does not extend the first, either order', () => {
    const p = judgeVoteFork(CTX, 2, a, b, child);
    assert.ok(p);
    assert.equal(p.kind, 'vote-fork');
    assert.equal(p.a, a, 'a is the lower height');
    assert.deepEqual(judgeVoteFork(CTX, 2, b, a, child), p);
    assertValidProof(p, 2);
    // judgeVotePair finds it through the lookup of the higher vote's header
    assert.deepEqual(judgeVotePair(CTX, 2, b, a, (h) => (equalBytes(h, childHash) ? child : undefined)), p);
    assert.equal(judgeVotePair(CTX, 2, b, a, () => undefined), null, 'without the child header there is no proof');
  });

  const negatives: { name: string; x: SignedVote; y: SignedVote; child: Header }[] = [
    { name: 'honest: the child extends the first vote\'s header', x: a, y: vote(2, VoteKind.lock, 2, 6, extendingHash), child: extending },
    { name: 'commit votes (kind 4 is about lock votes)', x: vote(2, VoteKind.commit, 2, 5, parent), y: vote(2, VoteKind.commit, 2, 6, childHash), child },
    { name: 'a commit vote at h', x: vote(2, VoteKind.commit, 2, 5, parent), y: b, child },
    { name: 'honest: different views (h in view 1, h + 1 in view 2)', x: vote(2, VoteKind.lock, 1, 5, parent), y: b, child },
    { name: 'heights h and h + 2', x: vote(2, VoteKind.lock, 2, 4, parent), y: b, child },
    { name: 'the same height', x: vote(2, VoteKind.lock, 2, 6, parent), y: b, child },
    { name: 'a child that is not the voted header', x: a, y: b, child: header(2, 6, rand(32)) },
    { name: 'a child of another view with the voted hash claimed', x: a, y: vote(2, VoteKind.lock, 2, 6, headerHash(SEPARATOR, header(3, 6, rand(32)))), child: header(3, 6, rand(32)) },
  ];
  for (const c of negatives) {
    test(`no proof: ${c.name}`, () => {
      assert.equal(judgeVoteFork(CTX, 2, c.x, c.y, c.child), null);
      assert.equal(judgeVoteFork(CTX, 2, c.y, c.x, c.child), null);
    });
  }
  test('no proof: a child of another log (its hash voted as if it were this log\'s)', () => {
    const foreign = header(2, 6, rand(32), rand(32));
    assert.equal(judgeVoteFork(CTX, 2, a, vote(2, VoteKind.lock, 2, 6, headerHash(SEPARATOR, foreign)), foreign), null);
  });
  test('no proof: a child whose view and height differ from the vote although its hash matches', () => {
    // b's header hash with a child at another height: the vote and the header disagree, nothing is proved
    const shifted = { ...child, height: 7 };
    assert.equal(judgeVoteFork(CTX, 2, a, vote(2, VoteKind.lock, 2, 6, headerHash(SEPARATOR, shifted)), shifted), null);
  });
});

describe('kind 5 lock-lie', () => {
  const h = rand(32);
  const commit = vote(3, VoteKind.commit, 4, 9, h);
  const cases: { name: string; c: SignedVote; t: SignedTimeout; proof: boolean }[] = [
    { name: 'timeout of the same view with no lock', c: commit, t: timeout(3, 4, null), proof: true },
    { name: 'timeout of the same view with a lock one height lower', c: commit, t: timeout(3, 4, lockAt(4, 8)), proof: true },
    { name: 'timeout of a later view with a lock of an earlier view but higher height', c: commit, t: timeout(3, 6, lockAt(3, 50)), proof: true },
    { name: 'honest: timeout of the same view reporting exactly that lock', c: commit, t: timeout(3, 4, lockAt(4, 9, h)), proof: false },
    { name: 'honest: timeout of a later view with a higher lock', c: commit, t: timeout(3, 5, lockAt(5, 2)), proof: false },
    { name: 'honest: timeout of an EARLIER view with a lower lock', c: commit, t: timeout(3, 3, lockAt(3, 1)), proof: false },
    { name: 'honest: timeout of an earlier view with no lock', c: commit, t: timeout(3, 3, null), proof: false },
    { name: 'a lock vote (not a commit) and a timeout with no lock', c: vote(3, VoteKind.lock, 4, 9, h), t: timeout(3, 4, null), proof: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = judgeLockLie(CTX, 3, c.c, c.t);
      if (!c.proof) return assert.equal(p, null);
      assert.ok(p);
      assert.equal(p.kind, 'lock-lie');
      assert.equal(p.a, c.c, 'a is the vote');
      assertValidProof(p, 3);
    });
  }
});

describe('kind 6 timeout-conflict', () => {
  const cases: { name: string; x: SignedTimeout; y: SignedTimeout; proof: boolean }[] = [
    { name: 'no lock and a lock, same view', x: timeout(0, 2, null), y: timeout(0, 2, lockAt(1, 4)), proof: true },
    { name: 'two different locks, same view', x: timeout(0, 2, lockAt(1, 4)), y: timeout(0, 2, lockAt(1, 5)), proof: true },
    { name: 'honest: the same timeout twice', x: timeout(0, 2, null), y: timeout(0, 2, null), proof: false },
    { name: 'honest: timeouts of views 2 and 3 with different locks', x: timeout(0, 2, null), y: timeout(0, 3, lockAt(2, 4)), proof: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const p = judgeTimeoutConflict(CTX, 0, c.x, c.y);
      if (!c.proof) return assert.equal(p, null);
      assert.ok(p);
      assert.deepEqual(judgeTimeoutConflict(CTX, 0, c.y, c.x), p);
      assertValidProof(p, 0);
    });
  }
});

describe('checkVoteProof refuses', () => {
  const h1 = rand(32);
  const h2 = rand(32);
  const good = judgeVoteConflict(CTX, 1, vote(1, VoteKind.lock, 0, 0, h1), vote(1, VoteKind.lock, 0, 0, h2))!;
  const lie = judgeLockLie(CTX, 1, vote(1, VoteKind.commit, 0, 0, h1), timeout(1, 0, null))!;
  const cases: { name: string; proof: VoteProof; reason: RegExp }[] = [
    { name: 'a signer outside the set', proof: { ...good, signer: addressFromPrivateKey(MALLORY_KEY) }, reason: /not a validator/ },
    { name: 'the signer named is another validator', proof: { ...good, signer: MEMBERSHIP.validators[2] }, reason: /not signed by the signer/ },
    { name: 'b signed by another validator', proof: { ...good, b: vote(2, VoteKind.lock, 0, 0, good.b.headerHash) }, reason: /b is not signed/ },
    { name: 'a signed by a key outside the set', proof: { ...good, a: vote(1, VoteKind.lock, 0, 0, good.a.headerHash, MALLORY_KEY) }, reason: /a is not signed/ },
    { name: 'a and b swapped', proof: { ...good, a: good.b, b: good.a }, reason: /canonical order/ },
    { name: 'statements that do not conflict', proof: { ...good, b: vote(1, VoteKind.commit, 0, 0, good.a.headerHash) }, reason: /not a vote-conflict/ },
    { name: 'a high-s signature', proof: { ...good, a: { ...good.a, signature: highS(good.a.signature) } }, reason: /^a: / },
    { name: 'a 64-byte signature', proof: { ...good, b: { ...good.b, signature: good.b.signature.subarray(0, 64) } }, reason: /^b: / },
    { name: 'a lock-lie whose timeout reports the commit\'s lock', proof: { ...lie, b: timeout(1, 0, lockAt(0, 0, h1)) }, reason: /not a lock-lie/ },
  ];
  for (const c of cases) test(c.name, () => assert.match(checkVoteProof(CTX, c.proof) ?? 'valid', c.reason));

  test('a proof signed for another log or another validator set', () => {
    const otherLog: VoteContext = { ...CTX, logId: rand(32), separator: domainSeparator({ chainId: CHAIN_ID, logId: rand(32) }) };
    assert.match(checkVoteProof(otherLog, good) ?? 'valid', /not signed by the signer/);
    const otherSet: VoteContext = { ...CTX, membership: Membership.of([...MEMBERSHIP.validators, addressFromPrivateKey(MALLORY_KEY)]) };
    assert.match(checkVoteProof(otherSet, good) ?? 'valid', /not signed by the signer/);
  });
});

function highS(signature: Bytes): Bytes {
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const out = Uint8Array.from(signature);
  out.set(fromHex('0x' + (N - BigInt(toHex(signature.subarray(32, 64)))).toString(16).padStart(64, '0'), 32), 32);
  out[64] = 55 - signature[64];
  return out;
}

describe('proofs from two conflicting certificates', () => {
  const X = rand(32);
  const Y = rand(32);
  const certOf = (hash: Bytes, signers: number[], kind: VoteKind = VoteKind.commit, height = 12): CheckedCertificate =>
    checkCertificate(CTX, buildCertificate(4, { kind, view: 3, height, headerHash: hash }, new Map(signers.map((i) => [i, vote(i, kind, 3, height, hash).signature]))));

  test('commit certificates by {0, 1, 2} and {0, 1, 3}: one proof against each of 0 and 1, none against 2 or 3', () => {
    const proofs = proofsFromConflictingCertificates(CTX, certOf(X, [0, 1, 2]), certOf(Y, [0, 1, 3]));
    assert.deepEqual(proofs.map((p) => toHex(p.signer)), [0, 1].map((i) => toHex(MEMBERSHIP.validators[i])));
    for (const [i, p] of proofs.entries()) assertValidProof(p, i);
  });
  test('a lock certificate against a commit certificate of another header (mixed kinds)', () => {
    assert.equal(proofsFromConflictingCertificates(CTX, certOf(X, [1, 2, 3], VoteKind.lock), certOf(Y, [0, 1, 3])).length, 2);
  });
  test('no proofs: the same header, or another height', () => {
    assert.deepEqual(proofsFromConflictingCertificates(CTX, certOf(X, [0, 1, 2]), certOf(X, [0, 1, 3], VoteKind.lock)), []);
    assert.deepEqual(proofsFromConflictingCertificates(CTX, certOf(X, [0, 1, 2]), certOf(Y, [0, 1, 3], VoteKind.commit, 13)), []);
  });
});

describe('JSON form', () => {
  const h1 = rand(32);
  const child = header(0, 1, rand(32));
  const proofs: VoteProof[] = [
    judgeVoteConflict(CTX, 1, vote(1, VoteKind.lock, 0, 0, h1), vote(1, VoteKind.commit, 0, 0, rand(32)))!,
    judgeVoteFork(CTX, 2, vote(2, VoteKind.lock, 0, 0, h1), vote(2, VoteKind.lock, 0, 1, headerHash(SEPARATOR, child)), child)!,
    judgeLockLie(CTX, 3, vote(3, VoteKind.commit, 2, 5, h1), timeout(3, 2, lockAt(1, 9)))!,
    judgeTimeoutConflict(CTX, 0, timeout(0, 2, null), timeout(0, 2, lockAt(2 ** 53 - 1, 2 ** 53 - 1)))!,
  ];
  for (const p of proofs) {
    test(`${p.kind}: round trip through JSON text`, () => {
      const json = voteProofToJson(SCOPE, p);
      const parsed = parseVoteProof(JSON.parse(JSON.stringify(json)));
      assert.deepEqual(parsed, { ...SCOPE, proof: p });
      assert.deepEqual(voteProofToJson(parsed, parsed.proof), json);
      assert.equal(checkVoteProof(CTX, parsed.proof), null);
    });
  }

  const [conflict, fork, lie] = proofs.map((p) => voteProofToJson(SCOPE, p)) as [VoteProofJson & { kind: 'vote-conflict' }, VoteProofJson & { kind: 'vote-fork' }, VoteProofJson & { kind: 'lock-lie' }];
  /** A deep copy of `j` changed by `f` (which writes through untyped JSON: the point is to break the shape). */
  const edit = <T>(j: T, f: (copy: any) => void): unknown => {
    const copy = structuredClone(j);
    f(copy);
    return copy;
  };
  const errors: { name: string; value: unknown; error: RegExp }[] = [
    { name: 'not an object', value: [conflict], error: /^proof: expected an object/ },
    { name: 'an unknown field', value: { ...conflict, extra: 1 }, error: /proof\.extra: unknown field/ },
    { name: 'a header proof kind', value: { ...conflict, kind: 'conflict' }, error: /proof\.kind/ },
    { name: 'no domain', value: edit(conflict, (c) => { delete c.domain; }), error: /proof\.domain/ },
    { name: 'a domain of another name', value: edit(conflict, (c) => { c.domain.name = 'Other'; }), error: /proof\.domain/ },
    { name: 'an unknown domain field', value: edit(conflict, (c) => { c.domain.verifyingContract = '0x00'; }), error: /proof\.domain\.verifyingContract: unknown/ },
    { name: 'a 19-byte signer', value: { ...conflict, signer: conflict.signer.slice(0, 40) }, error: /proof\.signer/ },
    { name: 'a vote where a timeout belongs', value: edit(lie, (c) => { c.b = c.a; }), error: /proof\.b\.vote: unknown field/ },
    { name: 'an unknown vote field', value: edit(conflict, (c) => { c.a.vote.round = 1; }), error: /proof\.a\.vote\.round: unknown/ },
    { name: 'a vote of another log', value: edit(conflict, (c) => { c.b.vote.logId = toHex(rand(32)); }), error: /proof\.b\.vote\.logId: differs/ },
    { name: 'votes of two validator sets', value: edit(conflict, (c) => { c.b.vote.membershipHash = toHex(rand(32)); }), error: /proof\.b\.vote\.membershipHash: differs/ },
    { name: 'vote kind 3', value: edit(conflict, (c) => { c.a.vote.kind = 3; }), error: /proof\.a\.vote\.kind/ },
    { name: 'vote kind as a name', value: edit(conflict, (c) => { c.a.vote.kind = 'lock'; }), error: /proof\.a\.vote\.kind/ },
    { name: 'a zero header hash', value: edit(conflict, (c) => { c.a.vote.headerHash = toHex(ZERO32); }), error: /proof\.a\.vote\.headerHash: zero/ },
    { name: 'a view beyond 2^53 - 1', value: edit(conflict, (c) => { c.a.vote.view = 2 ** 53; }), error: /proof\.a\.vote\.view/ },
    { name: 'a negative height', value: edit(conflict, (c) => { c.b.vote.height = -1; }), error: /proof\.b\.vote\.height/ },
    { name: 'a 64-byte signature', value: edit(conflict, (c) => { c.a.signature = c.a.signature.slice(0, 130); }), error: /proof\.a\.signature/ },
    { name: 'a child outside vote-fork', value: { ...conflict, child: fork.child }, error: /proof\.child: only a vote-fork/ },
    { name: 'a vote-fork without its child', value: edit(fork, (c) => { delete c.child; }), error: /proof\.child: required/ },
    { name: 'an unknown child field', value: edit(fork, (c) => { c.child.extra = 0; }), error: /proof\.child\.extra: unknown/ },
    { name: 'a lock with a zero hash but a rank', value: edit(lie, (c) => { c.b.timeout.lockHash = toHex(ZERO32); }), error: /proof\.b\.timeout\.lockHash: zero/ },
    { name: 'a timeout without lockHeight', value: edit(lie, (c) => { delete c.b.timeout.lockHeight; }), error: /proof\.b\.timeout\.lockHeight/ },
  ];
  for (const e of errors) {
    test(`strict parse refuses ${e.name}`, () => {
      assert.throws(() => parseVoteProof(e.value), (err: Error & { code?: unknown }) => {
        assert.equal(err.name, 'InvalidParamsError');
        assert.match(err.message, e.error);
        return true;
      });
    });
  }
  test('a checksummed or lower-case signer parses alike', () => {
    assert.deepEqual(parseVoteProof({ ...conflict, signer: conflict.signer.toLowerCase() }), parseVoteProof(conflict));
  });
});

describe('test vectors: proofs', () => {
  const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as {
    domain: { chainId: number; logId: string };
    finality: { membership: { addresses: string[] } };
    proofs: {
      valid: { name: string; signerIndex: number; json: VoteProofJson; digests: string[]; proofId: string; calldata: string }[];
      honest: { name: string; judge: string; signerIndex: number; a: Record<string, unknown>; b: Record<string, unknown>; child?: HeaderJson }[];
    };
  };
  const logId = fromHex(vectors.domain.logId, 32);
  const membership = Membership.of(vectors.finality.membership.addresses.map((a) => fromHex(a, 20)));
  const ctx: VoteContext = { logId, separator: domainSeparator({ chainId: vectors.domain.chainId, logId }), membership };
  const domain = { name: 'Sequencer', version: '1', chainId: vectors.domain.chainId, salt: vectors.domain.logId };

  test('the four kinds, once each', () => {
    assert.deepEqual(vectors.proofs.valid.map((v) => v.json.kind), ['vote-conflict', 'vote-fork', 'lock-lie', 'timeout-conflict']);
  });
  for (const v of vectors.proofs.valid) {
    test(`valid: ${v.name}`, () => {
      const parsed = parseVoteProof(v.json);
      assert.ok(equalBytes(parsed.membershipHash, membership.hash) && equalBytes(parsed.logId, logId));
      assert.equal(checkVoteProof(ctx, parsed.proof), null);
      assert.ok(equalBytes(parsed.proof.signer, membership.validators[v.signerIndex]));
      assert.deepEqual(voteProofDigests(ctx, parsed.proof).map(toHex), v.digests);
      assert.equal(toHex(voteProofId(ctx, parsed.proof)), v.proofId);
      assert.equal(encodeVoteSlashCalldata(v.json), v.calldata);
      // independent: ethers recovers the signer of both statements and agrees on their digests
      for (const [side, digest] of [[v.json.a, v.digests[0]], [v.json.b, v.digests[1]]] as const) {
        const isVote = 'vote' in side;
        const types = isVote ? VOTE_TYPES : TIMEOUT_TYPES;
        const message = (isVote ? side.vote : side.timeout) as unknown as Record<string, unknown>;
        assert.equal(TypedDataEncoder.hash(domain, types, message), digest);
        assert.equal(verifyTypedData(domain, types, message, side.signature), v.json.signer);
      }
    });
  }
  for (const h of vectors.proofs.honest) {
    test(`honest pair: ${h.name}`, () => {
      // wrapped into a proof of the kind it might be mistaken for, the pair parses, its signatures check, and it is no proof
      const json = { kind: h.judge, domain, signer: vectors.finality.membership.addresses[h.signerIndex], a: h.a, b: h.b, ...(h.child ? { child: h.child } : {}) };
      const { proof } = parseVoteProof(json);
      assert.match(checkVoteProof(ctx, proof) ?? 'valid', new RegExp(`not a ${h.judge}`));
      const judged = (() => {
        switch (proof.kind) {
          case 'vote-conflict': return judgeVoteConflict(ctx, h.signerIndex, proof.a, proof.b);
          case 'vote-fork': return judgeVoteFork(ctx, h.signerIndex, proof.a, proof.b, proof.child);
          case 'lock-lie': return judgeLockLie(ctx, h.signerIndex, proof.a, proof.b);
          case 'timeout-conflict': return judgeTimeoutConflict(ctx, h.signerIndex, proof.a, proof.b);
        }
      })();
      assert.equal(judged, null);
    });
  }
  test('digests of the vectors equal the core digest functions', () => {
    const p = parseVoteProof(vectors.proofs.valid[2].json).proof;
    assert.equal(p.kind, 'lock-lie');
    if (p.kind === 'lock-lie') {
      assert.equal(toHex(digestOfProofVote(ctx, p.a)), vectors.proofs.valid[2].digests[0]);
      assert.equal(toHex(digestOfProofTimeout(ctx, p.b)), vectors.proofs.valid[2].digests[1]);
    }
  });
});

test('header JSON of a vote-fork child is the wire header JSON', () => {
  const child = header(0, 1, rand(32));
  const p = judgeVoteFork(CTX, 2, vote(2, VoteKind.lock, 0, 0, rand(32)), vote(2, VoteKind.lock, 0, 1, headerHash(SEPARATOR, child)), child)!;
  const json = voteProofToJson(SCOPE, p);
  assert.equal(json.kind, 'vote-fork');
  if (json.kind === 'vote-fork') assert.deepEqual(json.child, headerToJson(child));
});
