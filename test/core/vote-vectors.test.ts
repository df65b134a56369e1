/**
 * The finality vectors of docs/test-vectors.json (`types.Vote`, `types.Timeout`, `finality`): recomputed with the
 * core and, independently, with ethers (TypedDataEncoder, Wallet.signTypedData); and the whole file again on the
 * noble backend (a child process started with --conditions=pure-js-crypto), so both crypto backends reproduce them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { backend } from '#crypto';
import { TypedDataEncoder, Wallet, id as ethersId, solidityPacked, keccak256 as ethersKeccak, type TypedDataField } from 'ethers';
import vectors from '../../docs/test-vectors.json' with { type: 'json' };
import { fromHex, toHex } from '../../src/core/bytes.ts';
import {
  certificateFromJson, certificateToJson, checkCertificate, checkTimeoutCertificate, decodeCertificate, decodeTimeoutCertificate, encodeCertificate,
  encodeTimeoutCertificate, highLock, timeoutCertificateToJson,
} from '../../src/core/certificate.ts';
import { TIMEOUT_TYPE, TYPED_DATA_TYPES, VOTE_TYPE, domainSeparator, timeoutDigest, timeoutStructHash, voteStructHash } from '../../src/core/eip712.ts';
import { Membership } from '../../src/core/membership.ts';
import { addressFromPrivateKey, sign } from '../../src/core/signature.ts';
import { VoteKind, decodeSignedVote, digestOfVote, encodeSignedVote, signVoteUnchecked, verifyVote, type VoteContext } from '../../src/core/vote.ts';

const F = vectors.finality;
const logId = fromHex(vectors.domain.logId);
const separator = domainSeparator({ chainId: vectors.domain.chainId, logId });
const membership = Membership.of(F.membership.addresses.map((a) => fromHex(a)));
const CTX: VoteContext = { logId, separator, membership };
const ethDomain = { name: vectors.domain.name, version: vectors.domain.version, chainId: vectors.domain.chainId, salt: vectors.domain.logId };
const VOTE_TYPES: Record<string, TypedDataField[]> = { Vote: [...TYPED_DATA_TYPES.Vote] };
const TIMEOUT_TYPES: Record<string, TypedDataField[]> = { Timeout: [...TYPED_DATA_TYPES.Timeout] };
const kindOf = (name: string): VoteKind => (name === 'lock' ? VoteKind.lock : VoteKind.commit);

describe(`finality vectors on the ${backend.name} backend`, () => {
  test('type strings, type hashes, validator keys and the membership', () => {
    assert.equal(vectors.types.Vote, VOTE_TYPE);
    assert.equal(vectors.types.Timeout, TIMEOUT_TYPE);
    assert.equal(vectors.types.voteTypeHash, ethersId(VOTE_TYPE));
    assert.equal(vectors.types.timeoutTypeHash, ethersId(TIMEOUT_TYPE));
    F.validators.forEach((v, i) => {
      assert.equal(toHex(addressFromPrivateKey(fromHex(v.privateKey))), v.address);
      assert.equal(F.membership.addresses[i], v.address);
    });
    assert.equal(F.validators[0].privateKey, vectors.keys.primary.privateKey, 'validator 0 is the primary of the header vectors');
    assert.equal(toHex(membership.hash), F.membership.membershipHash);
    assert.equal(ethersKeccak(solidityPacked(F.membership.addresses.map(() => 'address'), F.membership.addresses)), F.membership.membershipHash);
    assert.deepEqual([membership.n, membership.f, membership.quorum], [F.membership.n, F.membership.f, F.membership.quorum]);
    assert.deepEqual(F.membership.leaderOf, [0, 1, 2, 3, 4].map((v) => toHex(membership.leaderOf(v))));
  });

  test('votes: struct hash, digest, signature, binary form (core, and ethers)', async () => {
    assert.equal(F.votes.length, 8);
    for (const v of F.votes) {
      const vote = { kind: kindOf(v.kind), view: v.view, height: v.height, headerHash: fromHex(v.headerHash) };
      assert.equal(v.headerHash, vectors.batches[0].headerHash);
      const fields = { logId, membershipHash: membership.hash, ...vote };
      assert.equal(toHex(voteStructHash(fields)), v.structHash);
      assert.equal(toHex(digestOfVote(CTX, vote)), v.digest);
      const signed = signVoteUnchecked(CTX, vote, fromHex(F.validators[v.validator].privateKey));
      assert.equal(toHex(signed.signature), v.signature);
      assert.equal(toHex(encodeSignedVote(signed)), v.encoded);
      assert.equal(verifyVote(CTX, decodeSignedVote(fromHex(v.encoded)), v.validator), v.validator);
      if (backend.name === 'native') {
        const value = { ...fields, logId: vectors.domain.logId, membershipHash: F.membership.membershipHash, headerHash: v.headerHash };
        assert.equal(TypedDataEncoder.from(VOTE_TYPES).hash(value), v.structHash);
        assert.equal(TypedDataEncoder.hash(ethDomain, VOTE_TYPES, value), v.digest);
        assert.equal(await new Wallet(F.validators[v.validator].privateKey).signTypedData(ethDomain, VOTE_TYPES, value), v.signature);
      }
    }
  });

  test('certificates: the valid ones check and re-encode, each invalid one fails with its error', () => {
    for (const c of F.certificates) {
      const bytes = fromHex(c.encoded);
      if (c.valid) {
        const decoded = decodeCertificate(bytes);
        checkCertificate(CTX, decoded);
        assert.equal(toHex(encodeCertificate(decoded)), c.encoded, c.name);
        assert.deepEqual(certificateToJson(decoded), c.json, c.name);
        assert.equal(toHex(encodeCertificate(certificateFromJson(c.json))), c.encoded, c.name);
      } else {
        assert.throws(() => checkCertificate(CTX, decodeCertificate(bytes)), { code: c.error }, c.name);
      }
    }
    assert.equal(F.certificates.filter((c) => c.valid).length, 2);
    assert.equal(fromHex(F.certificates[0].encoded).byteLength, 246);
  });

  test('timeouts: struct hash, digest and signature (core, and ethers)', async () => {
    for (const t of F.timeouts) {
      const fields = { logId, membershipHash: membership.hash, view: t.view, lockView: t.lockView, lockHeight: t.lockHeight, lockHash: fromHex(t.lockHash) };
      assert.equal(toHex(timeoutStructHash(fields)), t.structHash);
      const digest = timeoutDigest(separator, fields);
      assert.equal(toHex(digest), t.digest);
      assert.equal(toHex(sign(digest, fromHex(F.validators[t.validator].privateKey))), t.signature);
      if (backend.name === 'native') {
        const value = { ...fields, logId: vectors.domain.logId, membershipHash: F.membership.membershipHash, lockHash: t.lockHash };
        assert.equal(TypedDataEncoder.hash(ethDomain, TIMEOUT_TYPES, value), t.digest);
        assert.equal(await new Wallet(F.validators[t.validator].privateKey).signTypedData(ethDomain, TIMEOUT_TYPES, value), t.signature);
      }
    }
  });

  test('the timeout certificate: checks, re-encodes, its JSON and its highest lock', () => {
    const tc = checkTimeoutCertificate(CTX, decodeTimeoutCertificate(fromHex(F.tc.encoded)));
    assert.equal(fromHex(F.tc.encoded).byteLength, 349);
    assert.equal(toHex(encodeTimeoutCertificate(tc)), F.tc.encoded);
    assert.deepEqual(timeoutCertificateToJson(tc), F.tc.json);
    const high = highLock(tc)!;
    assert.deepEqual({ view: high.view, height: high.height, headerHash: toHex(high.headerHash) }, F.tc.highLock);
    assert.deepEqual(F.tc.json.entries.map((e) => e.signature), F.timeouts.map((t) => t.signature));
  });
});

if (backend.name === 'native') {
  test('the same checks pass on the noble backend (--conditions=pure-js-crypto)', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: [process.env.NODE_OPTIONS, '--conditions=pure-js-crypto'].join(' ').trim() };
    delete env.NODE_TEST_CONTEXT;
    const { stdout } = await promisify(execFile)(process.execPath, ['--test', '--test-reporter=tap', 'test/core/vote-vectors.test.ts'], {
      cwd: new URL('../..', import.meta.url), env,
    });
    assert.match(stdout, /finality vectors on the noble backend/);
    const [tests, passed] = [/# tests (\d+)\n/, /# pass (\d+)\n/].map((re) => Number(re.exec(stdout)?.[1]));
    assert.ok(tests >= 5 && passed === tests, `${passed} of ${tests} passed on noble`);
  });
}
