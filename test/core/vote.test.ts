/** Votes (core/vote.ts, docs/protocol.md §Vote): the EIP-712 Vote and Timeout structs against ethers, the codec, signing and verification. */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { TypedDataEncoder, Wallet, type TypedDataField } from 'ethers';
import { toHex, ZERO32 } from '../../src/core/bytes.ts';
import {
  TIMEOUT_TYPE, TYPED_DATA_TYPES, VOTE_TYPE, domainSeparator, timeoutDigest, timeoutStructHash, voteDigest, voteStructHash,
  type LogDomain, type TimeoutFields, type VoteFields,
} from '../../src/core/eip712.ts';
import { Membership } from '../../src/core/membership.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import {
  SIGNED_VOTE_BYTES, VoteKind, decodeSignedVote, decodeVoteBundle, encodeVoteBundle, digestOfVote, encodeSignedVote, signVoteUnchecked, verifyVote, type Vote, type VoteContext,
} from '../../src/core/vote.ts';
import { DOMAIN, ethersDomain, LOG_ID, MALLORY_KEY, patternKey, rand, SEPARATOR } from './helpers.ts';

const VOTE_TYPES: Record<string, TypedDataField[]> = { Vote: [...TYPED_DATA_TYPES.Vote] };
const TIMEOUT_TYPES: Record<string, TypedDataField[]> = { Timeout: [...TYPED_DATA_TYPES.Timeout] };
const VALIDATOR_KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const MEMBERSHIP = Membership.of(VALIDATOR_KEYS.map((k) => addressFromPrivateKey(k)));
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: MEMBERSHIP };

function randomSafe(): number {
  const bits = randomInt(0, 54);
  return bits === 0 ? 0 : Math.floor(Math.random() * 2 ** bits);
}
function voteValue(v: VoteFields): Record<string, unknown> {
  return { logId: toHex(v.logId), membershipHash: toHex(v.membershipHash), view: v.view, height: v.height, headerHash: toHex(v.headerHash), kind: v.kind };
}
function timeoutValue(t: TimeoutFields): Record<string, unknown> {
  return { logId: toHex(t.logId), membershipHash: toHex(t.membershipHash), view: t.view, lockView: t.lockView, lockHeight: t.lockHeight, lockHash: toHex(t.lockHash) };
}
const vote = (over: Partial<Vote> = {}): Vote => ({ kind: VoteKind.lock, view: 0, height: 7, headerHash: rand(32), ...over });

describe('EIP-712 Vote and Timeout', () => {
  test('type strings are what ethers derives from TYPED_DATA_TYPES', () => {
    assert.equal(TypedDataEncoder.from(VOTE_TYPES).encodeType('Vote'), VOTE_TYPE);
    assert.equal(TypedDataEncoder.from(TIMEOUT_TYPES).encodeType('Timeout'), TIMEOUT_TYPE);
    assert.equal(VOTE_TYPE, 'Vote(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 height,bytes32 headerHash,uint8 kind)');
  });

  test('struct hashes and digests equal ethers TypedDataEncoder on random inputs and domains', () => {
    for (let i = 0; i < 40; i++) {
      const domain: LogDomain = i === 0 ? DOMAIN : { chainId: [1, 31337, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER][randomInt(0, 4)], logId: rand(32) };
      const separator = domainSeparator(domain);
      const v: VoteFields = { logId: domain.logId, membershipHash: rand(32), view: randomSafe(), height: randomSafe(), headerHash: rand(32), kind: [1, 2][i % 2] };
      assert.equal(toHex(voteStructHash(v)), TypedDataEncoder.from(VOTE_TYPES).hash(voteValue(v)));
      assert.equal(toHex(voteDigest(separator, v)), TypedDataEncoder.hash(ethersDomain(domain), VOTE_TYPES, voteValue(v)));
      const t: TimeoutFields = {
        logId: domain.logId, membershipHash: rand(32), view: randomSafe(), lockView: randomSafe(), lockHeight: randomSafe(), lockHash: i % 3 === 0 ? ZERO32 : rand(32),
      };
      assert.equal(toHex(timeoutStructHash(t)), TypedDataEncoder.from(TIMEOUT_TYPES).hash(timeoutValue(t)));
      assert.equal(toHex(timeoutDigest(separator, t)), TypedDataEncoder.hash(ethersDomain(domain), TIMEOUT_TYPES, timeoutValue(t)));
    }
  });

  test('a vote signed by the core is the signature ethers Wallet.signTypedData makes (RFC 6979)', async () => {
    const v = vote({ kind: VoteKind.commit, view: 3, height: 17 });
    const signed = signVoteUnchecked(CTX, v, VALIDATOR_KEYS[2]);
    const wallet = new Wallet(toHex(VALIDATOR_KEYS[2]));
    const value = voteValue({ logId: LOG_ID, membershipHash: MEMBERSHIP.hash, ...v });
    assert.equal(toHex(signed.signature), await wallet.signTypedData(ethersDomain(DOMAIN), VOTE_TYPES, value));
  });
});

describe('vote codec', () => {
  test('round-trips in 114 bytes', () => {
    const signed = signVoteUnchecked(CTX, vote({ kind: VoteKind.commit, view: 2 ** 53 - 1 }), VALIDATOR_KEYS[1]);
    const bytes = encodeSignedVote(signed);
    assert.equal(bytes.byteLength, SIGNED_VOTE_BYTES);
    assert.equal(SIGNED_VOTE_BYTES, 114);
    assert.deepEqual(decodeSignedVote(bytes), { ...signed, headerHash: bytes.subarray(17, 49), signature: bytes.subarray(49) });
  });

  test('refuses a truncated or longer form, a kind other than 1 or 2, a u64 above 2^53-1, a zero header hash', () => {
    const bytes = encodeSignedVote(signVoteUnchecked(CTX, vote(), VALIDATOR_KEYS[0]));
    const cases: Uint8Array[] = [bytes.subarray(0, 113), Uint8Array.of(...bytes, 0)];
    for (const kind of [0, 3, 255]) { const b = Uint8Array.from(bytes); b[0] = kind; cases.push(b); }
    const big = Uint8Array.from(bytes); big[1] = 0x00; big[2] = 0x20; cases.push(big); // view = 2^53
    const zero = Uint8Array.from(bytes); zero.fill(0, 17, 49); cases.push(zero);
    for (const b of cases) assert.throws(() => decodeSignedVote(b), { name: 'VoteRejectedError', code: 'vote-malformed' });
  });
});

describe('vote bundles', () => {
  test('round-trip; each vote verifies against the named signer', () => {
    const votes = [vote({ kind: VoteKind.commit, height: 6 }), vote({ height: 7 })].map((v) => signVoteUnchecked(CTX, v, VALIDATOR_KEYS[3]));
    const bytes = encodeVoteBundle({ signerIndex: 3, votes });
    assert.equal(bytes.byteLength, 3 + 2 * 114);
    const decoded = decodeVoteBundle(bytes);
    assert.equal(decoded.signerIndex, 3);
    assert.deepEqual(decoded.votes.map((v) => verifyVote(CTX, v, decoded.signerIndex)), [3, 3]);
    assert.deepEqual(decoded.votes.map((v) => toHex(v.signature)), votes.map((v) => toHex(v.signature)));
  });

  test('refuses another version, 0 or 17 votes, a truncated or longer form', () => {
    const one = encodeVoteBundle({ signerIndex: 0, votes: [signVoteUnchecked(CTX, vote(), VALIDATOR_KEYS[0])] });
    const v2 = Uint8Array.from(one); v2[0] = 2;
    const zero = Uint8Array.from(one.subarray(0, 3)); zero[2] = 0;
    const many = Uint8Array.from(one); many[2] = 17;
    for (const b of [v2, zero, many, one.subarray(0, one.byteLength - 1), Uint8Array.of(...one, 0)]) {
      assert.throws(() => decodeVoteBundle(b), { code: 'vote-malformed' });
    }
    assert.throws(() => encodeVoteBundle({ signerIndex: 0, votes: [] }), { name: 'InvalidArgumentError' });
  });
});

describe('verifyVote', () => {
  test('returns the index of the member that signed, checks the one a message names', () => {
    for (let i = 0; i < 4; i++) {
      const signed = signVoteUnchecked(CTX, vote(), VALIDATOR_KEYS[i]);
      assert.equal(verifyVote(CTX, signed), i);
      assert.equal(verifyVote(CTX, signed, i), i);
    }
    assert.throws(() => verifyVote(CTX, signVoteUnchecked(CTX, vote(), VALIDATOR_KEYS[1]), 2), { code: 'vote-wrong-signer' });
  });

  test('a key outside the set, or a member signature over another view, height, kind, header, log or set, is not a member vote', () => {
    const v = vote();
    assert.throws(() => verifyVote(CTX, signVoteUnchecked(CTX, v, MALLORY_KEY)), { code: 'vote-not-member' });
    const others: [string, VoteContext, Vote][] = [
      ['view', CTX, { ...v, view: 1 }],
      ['height', CTX, { ...v, height: 8 }],
      ['kind', CTX, { ...v, kind: VoteKind.commit }],
      ['header', CTX, { ...v, headerHash: rand(32) }],
      ['log', { ...CTX, logId: rand(32) }, v],
      ['set', { ...CTX, membership: Membership.of([...MEMBERSHIP.validators].reverse()) }, v],
    ];
    for (const [what, ctx, signedOver] of others) {
      const signed = { ...v, signature: signVoteUnchecked(ctx, signedOver, VALIDATOR_KEYS[1]).signature };
      assert.throws(() => verifyVote(CTX, signed), { code: 'vote-not-member' }, what);
    }
  });

  test('a malformed or high-s signature is refused as such', () => {
    const signed = signVoteUnchecked(CTX, vote(), VALIDATOR_KEYS[0]);
    const badV = Uint8Array.from(signed.signature); badV[64] = 29;
    assert.throws(() => verifyVote(CTX, { ...signed, signature: badV }), { code: 'vote-signature' });
    assert.throws(() => verifyVote(CTX, { ...signed, signature: signed.signature.subarray(0, 64) }), { code: 'vote-signature' });
    const highS = Uint8Array.from(signed.signature); highS.fill(0xff, 32, 64);
    assert.throws(() => verifyVote(CTX, { ...signed, signature: highS }), { code: 'vote-signature' });
  });

  test('digestOfVote binds the membership hash (the same vote for another set has another digest)', () => {
    const v = vote();
    const other = { ...CTX, membership: Membership.of(MEMBERSHIP.validators.slice(0, 3)) };
    assert.notEqual(toHex(digestOfVote(CTX, v)), toHex(digestOfVote(other, v)));
  });
});
