/** The PeerRecord EIP-712 type: hashes agree with ethers, signatures recover, and it is never a header or a submission. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypedDataEncoder, Wallet, id as ethersId, type TypedDataField } from 'ethers';
import { toHex } from '../../src/core/bytes.ts';
import { domainSeparator, HEADER_TYPE, PEER_RECORD_TYPE, SUBMISSION_TYPE, TYPED_DATA_TYPES, peerRecordStructHash } from '../../src/core/eip712.ts';
import { peerRecordDigest, peerRecordSigner, signPeerRecord } from '../../src/core/peer-record.ts';
import { DOMAIN, ethersDomain, LOG_ID, PRIMARY, PRIMARY_KEY, SEPARATOR, rand } from './helpers.ts';

const TYPES: Record<string, TypedDataField[]> = { PeerRecord: [...TYPED_DATA_TYPES.PeerRecord] };
const PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';

test('PeerRecord type string is what ethers derives, and differs from every other signed type', () => {
  assert.equal(TypedDataEncoder.from(TYPES).encodeType('PeerRecord'), PEER_RECORD_TYPE);
  assert.notEqual(ethersId(PEER_RECORD_TYPE), ethersId(HEADER_TYPE));
  assert.notEqual(ethersId(PEER_RECORD_TYPE), ethersId(SUBMISSION_TYPE));
});

test('struct hash and digest agree with ethers, on fixed and random inputs', () => {
  const cases = [
    { logId: LOG_ID, peerId: PEER_ID, issuedAt: 1767225600 },
    { logId: rand(32), peerId: '', issuedAt: 0 },
    { logId: rand(32), peerId: 'x'.repeat(128), issuedAt: Number.MAX_SAFE_INTEGER },
  ];
  for (const c of cases) {
    const value = { logId: toHex(c.logId), peerId: c.peerId, issuedAt: c.issuedAt };
    assert.equal(toHex(peerRecordStructHash(c.logId, c.peerId, c.issuedAt)), TypedDataEncoder.from(TYPES).hash(value));
    assert.equal(toHex(peerRecordDigest(SEPARATOR, c.logId, c.peerId, c.issuedAt)), TypedDataEncoder.hash(ethersDomain(DOMAIN), TYPES, value));
  }
});

test('a signed record recovers to its signer; wallets produce the same signature; any change breaks it', async () => {
  const record = signPeerRecord(SEPARATOR, LOG_ID, PEER_ID, 1767225600, PRIMARY_KEY);
  assert.equal(toHex(peerRecordSigner(SEPARATOR, LOG_ID, record)), toHex(PRIMARY));
  const wallet = new Wallet(toHex(PRIMARY_KEY));
  assert.equal(await wallet.signTypedData(ethersDomain(DOMAIN), TYPES, { logId: toHex(LOG_ID), peerId: PEER_ID, issuedAt: 1767225600 }), toHex(record.signature));
  const other = (r: typeof record, logId = LOG_ID, separator = SEPARATOR) => toHex(peerRecordSigner(separator, logId, r));
  assert.notEqual(other({ ...record, peerId: PEER_ID.slice(0, -1) + 'q' }), toHex(PRIMARY), 'another peer id');
  assert.notEqual(other({ ...record, issuedAt: record.issuedAt + 1 }), toHex(PRIMARY), 'another time');
  assert.notEqual(other(record, rand(32)), toHex(PRIMARY), 'another log id');
  assert.notEqual(other(record, LOG_ID, domainSeparator({ chainId: 1, logId: LOG_ID })), toHex(PRIMARY), 'another chain');
});

test('docs/test-vectors.json peerRecord: recomputed with ethers, and it recovers to the primary', async () => {
  const { readFileSync } = await import('node:fs');
  const { VECTORS_PATH } = await import('../../scripts/gen-vectors.ts');
  const V = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));
  const v = V.peerRecord;
  const domain = { name: V.domain.name, version: V.domain.version, chainId: V.domain.chainId, salt: V.domain.logId };
  const value = { logId: v.logId, peerId: v.peerId, issuedAt: v.issuedAt };
  assert.equal(V.types.PeerRecord, PEER_RECORD_TYPE);
  assert.equal(V.types.peerRecordTypeHash, ethersId(PEER_RECORD_TYPE));
  assert.equal(v.structHash, TypedDataEncoder.from(TYPES).hash(value));
  assert.equal(v.digest, TypedDataEncoder.hash(domain, TYPES, value));
  assert.equal(v.signature, await new Wallet(V.keys[v.signer].privateKey).signTypedData(domain, TYPES, value));
});
