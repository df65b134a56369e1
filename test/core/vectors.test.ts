/**
 * docs/test-vectors.json, recomputed twice: with the core, and independently with ethers' EIP-712 implementation
 * (TypedDataEncoder, Wallet.signTypedData) plus node:crypto for the sha256 structures. Any difference fails.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { TypedDataEncoder, Wallet, id as ethersId, keccak256 as ethersKeccak, toUtf8Bytes, verifyTypedData } from 'ethers';
import { decodeBatch, encodeBatch, GENESIS_TIP, verifyBatch, type Tip } from '../../src/core/batch.ts';
import { Membership } from '../../src/core/membership.ts';
import type { LogRules } from '../../src/core/rules.ts';
import { equalBytes, fromHex, toHex } from '../../src/core/bytes.ts';
import { domainSeparator, headerStructHash, submissionStructHash } from '../../src/core/eip712.ts';
import { entryHash } from '../../src/core/entry.ts';
import { decodeSignedHeader, encodeSignedHeader, headerHash, type Header } from '../../src/core/header.ts';
import { MerkleTree, verifyRangeProof } from '../../src/core/merkle.ts';
import { checkReceipt, type Receipt } from '../../src/core/receipt.ts';
import { addressFromPrivateKey, recoverAddress, sign } from '../../src/core/signature.ts';
import { decodeSubmission, encodeSubmission, encodeTxList, submissionDigest, transactionsHash, type Submission } from '../../src/core/submission.ts';
import { renderVectors, VECTORS_PATH } from '../../scripts/gen-vectors.ts';
import { HEADER_TYPES, SUBMISSION_TYPES } from './helpers.ts';

interface HeaderJson {
  logId: string; height: number; view: number; firstSeq: number; count: number;
  prevHeaderHash: string; headHash: string; entriesRoot: string; timestamp: number;
}
interface TipJson { height: number; headerHash: string; nextSeq: number; headHash: string; timestamp: number }
interface Vectors {
  keys: Record<string, { privateKey: string; address: string }>;
  allowlist: string[];
  types: Record<string, string>;
  domain: { name: string; version: string; chainId: number; logIdPreimage: string; logId: string; separator: string };
  submissions: {
    signer: string; sender: string; nonce: string; expiry: number; transactions: string[]; txList: string;
    transactionsHash: string; structHash: string; digest: string; signature: string; encoded: string;
  }[];
  entries: {
    seq: number; submission: number; prevEntryHash: string; sender: string; submissionDigest: string; payload: string; preimage: string; entryHash: string;
  }[];
  batches: {
    submissions: number[]; prevTip: TipJson; header: HeaderJson; headerEncoded: string; structHash: string; headerHash: string;
    signature: string; encoded: string; tip: TipJson;
  }[];
  rangeProofs: { batch: number; size: number; lo: number; hi: number; leaves: string[]; proof: string[]; root: string }[];
  receipt: {
    batch: number; submission: number; submissionDigest: string; sender: string; nonce: string; height: number; firstSeq: number; count: number;
    entryHashes: string[]; prevEntryHash: string; proof: string[]; header: HeaderJson; headerHash: string; signature: string;
  };
}

const raw = readFileSync(VECTORS_PATH, 'utf8');
const V = JSON.parse(raw) as Vectors;
const b = (h: string): Uint8Array => fromHex(h);
const sha = (...parts: Uint8Array[]): string => '0x' + parts.reduce((h, p) => h.update(p), createHash('sha256')).digest('hex');
const u32 = (n: number): Buffer => { const x = Buffer.alloc(4); x.writeUInt32BE(n); return x; };
const u64 = (n: number | bigint): Buffer => { const x = Buffer.alloc(8); x.writeBigUInt64BE(BigInt(n)); return x; };
const hexcat = (...parts: Uint8Array[]): string => '0x' + Buffer.concat(parts).toString('hex');

const ethDomain = { name: V.domain.name, version: V.domain.version, chainId: V.domain.chainId, salt: V.domain.logId };
const separator = b(V.domain.separator);
const logId = b(V.domain.logId);

function header(h: HeaderJson): Header {
  return { ...h, logId: b(h.logId), prevHeaderHash: b(h.prevHeaderHash), headHash: b(h.headHash), entriesRoot: b(h.entriesRoot) };
}
function tip(t: TipJson): Tip {
  return { ...t, headerHash: b(t.headerHash), headHash: b(t.headHash) };
}
function submission(s: Vectors['submissions'][number]): Submission {
  return { sender: b(s.sender), nonce: BigInt(s.nonce), expiry: s.expiry, transactions: s.transactions.map(b), signature: b(s.signature) };
}
function wallet(signer: string): Wallet {
  return new Wallet(V.keys[signer].privateKey);
}
/** RFC 6962-shaped Merkle root, written independently: node = sha256(left || right), split at the largest power of two < n. */
function refRoot(leaves: Uint8Array[]): string {
  if (leaves.length === 1) return toHex(leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(b(refRoot(leaves.slice(0, k))), b(refRoot(leaves.slice(k))));
}

describe('test vectors file', () => {
  test('is exactly what scripts/gen-vectors.ts writes (not stale)', () => {
    assert.equal(raw, renderVectors());
  });

  test('covers what docs/protocol.md promises', () => {
    assert.equal(V.domain.chainId, 31337);
    assert.ok(V.submissions.some((s) => s.transactions.length === 1));
    assert.ok(V.submissions.some((s) => s.transactions.length === 3));
    assert.deepEqual(V.entries.slice(0, 4).map((e) => e.seq), [0, 1, 2, 3]);
    assert.ok(V.batches.length >= 1 && V.rangeProofs.length >= 1);
  });
});

describe('keys and domain', () => {
  test('addresses', () => {
    for (const [name, k] of Object.entries(V.keys)) {
      assert.equal(k.address, wallet(name).address.toLowerCase(), name);
      assert.equal(k.address, toHex(addressFromPrivateKey(b(k.privateKey))), name);
    }
  });

  test('type strings and type hashes', () => {
    assert.equal(V.types.Submission, TypedDataEncoder.from(SUBMISSION_TYPES).encodeType('Submission'));
    assert.equal(V.types.BatchHeader, TypedDataEncoder.from(HEADER_TYPES).encodeType('BatchHeader'));
    assert.equal(V.types.domainTypeHash, ethersId(V.types.EIP712Domain));
    assert.equal(V.types.submissionTypeHash, ethersId(V.types.Submission));
    assert.equal(V.types.batchHeaderTypeHash, ethersId(V.types.BatchHeader));
  });

  test('log id and domain separator', () => {
    assert.equal(V.domain.logId, ethersKeccak(toUtf8Bytes(V.domain.logIdPreimage)));
    assert.equal(V.domain.separator, TypedDataEncoder.hashDomain(ethDomain));
    assert.equal(V.domain.separator, toHex(domainSeparator({ chainId: V.domain.chainId, logId })));
  });
});

describe('submissions', () => {
  for (const [i, s] of V.submissions.entries()) {
    test(`submission ${i} (${s.transactions.length} tx)`, async () => {
      const txs = s.transactions.map(b);
      // txList, by hand and by the core.
      assert.equal(s.txList, hexcat(u32(txs.length), ...txs.flatMap((t) => [u32(t.byteLength), t])));
      assert.equal(s.txList, toHex(encodeTxList(txs)));
      assert.equal(s.transactionsHash, sha(b(s.txList)));
      assert.equal(s.transactionsHash, toHex(transactionsHash(txs)));
      // EIP-712, ethers and core.
      const value = { sender: s.sender, nonce: BigInt(s.nonce), expiry: s.expiry, transactionsHash: s.transactionsHash };
      assert.equal(s.structHash, TypedDataEncoder.hashStruct('Submission', SUBMISSION_TYPES, value));
      assert.equal(s.structHash, toHex(submissionStructHash(b(s.sender), BigInt(s.nonce), s.expiry, b(s.transactionsHash))));
      assert.equal(s.digest, TypedDataEncoder.hash(ethDomain, SUBMISSION_TYPES, value));
      assert.equal(s.digest, toHex(submissionDigest(separator, submission(s))));
      // Signature: ethers' signTypedData and the core's sign are both RFC 6979, so byte-identical.
      assert.equal(s.signature, await wallet(s.signer).signTypedData(ethDomain, SUBMISSION_TYPES, value));
      assert.equal(s.signature, toHex(sign(b(s.digest), b(V.keys[s.signer].privateKey))));
      assert.equal(s.sender, V.keys[s.signer].address);
      assert.equal(verifyTypedData(ethDomain, SUBMISSION_TYPES, value, s.signature).toLowerCase(), s.sender);
      assert.equal(toHex(recoverAddress(b(s.digest), b(s.signature))), s.sender);
      // Wire form, by hand and by the core; decoding gives the fields back.
      assert.equal(s.encoded, hexcat(b(s.sender), u64(BigInt(s.nonce)), u64(s.expiry), b(s.signature), b(s.txList)));
      assert.equal(s.encoded, toHex(encodeSubmission(submission(s))));
      const d = decodeSubmission(b(s.encoded));
      assert.equal(toHex(d.sender), s.sender);
      assert.equal(d.nonce.toString(), s.nonce);
      assert.equal(d.expiry, s.expiry);
      assert.deepEqual(d.transactions.map(toHex), s.transactions);
      assert.equal(toHex(d.txList), s.txList);
    });
  }
});

describe('entries', () => {
  test('each entry hash is sha256 of the documented preimage and the chain links', () => {
    let prev = '0x' + '00'.repeat(32);
    let seq = 0;
    for (const e of V.entries) {
      assert.equal(e.seq, seq);
      assert.equal(e.prevEntryHash, prev, `seq ${e.seq} links to the previous entry`);
      const s = V.submissions[e.submission];
      assert.equal(e.sender, s.sender);
      assert.equal(e.submissionDigest, s.digest);
      assert.equal(e.preimage, hexcat(Buffer.from([0x00]), b(e.prevEntryHash), u64(e.seq), b(e.sender), b(e.submissionDigest), b(e.payload)));
      assert.equal(e.entryHash, sha(b(e.preimage)));
      assert.equal(e.entryHash, toHex(entryHash(b(e.prevEntryHash), e.seq, b(e.sender), b(e.submissionDigest), b(e.payload))));
      prev = e.entryHash;
      seq++;
    }
    // Entries follow the submissions' transactions in batch order.
    const expected = V.batches.flatMap((bt) => bt.submissions.flatMap((i) => V.submissions[i].transactions.map((p) => [i, p])));
    assert.deepEqual(V.entries.map((e) => [e.submission, e.payload]), expected);
  });
});

describe('batches', () => {
  const rules: LogRules = {
    logId, separator, membership: Membership.single(b(V.keys.primary.address)),
    isAllowed: (s) => V.allowlist.some((a) => equalBytes(b(a), s)),
  };

  for (const [i, bt] of V.batches.entries()) {
    test(`batch ${i}: header fields, root, hash, signature, wire form`, async () => {
      const h = bt.header;
      const entries = V.entries.filter((e) => e.seq >= h.firstSeq && e.seq < h.firstSeq + h.count);
      const prevTip = i === 0 ? GENESIS_TIP : tip(V.batches[i - 1].tip);
      assert.deepEqual(tip(bt.prevTip), prevTip);
      assert.equal(h.logId, V.domain.logId);
      assert.equal(h.height, prevTip.height + 1);
      assert.equal(h.view, 0);
      assert.equal(h.firstSeq, prevTip.nextSeq);
      assert.equal(h.count, bt.submissions.reduce((n, j) => n + V.submissions[j].transactions.length, 0));
      assert.equal(entries.length, h.count);
      assert.equal(h.prevHeaderHash, toHex(prevTip.headerHash));
      assert.equal(h.headHash, entries[entries.length - 1].entryHash);
      assert.equal(h.entriesRoot, refRoot(entries.map((e) => b(e.entryHash))));
      assert.equal(h.entriesRoot, toHex(new MerkleTree(b('0x' + entries.map((e) => e.entryHash.slice(2)).join(''))).root));

      const value = { ...h };
      assert.equal(bt.structHash, TypedDataEncoder.hashStruct('BatchHeader', HEADER_TYPES, value));
      assert.equal(bt.structHash, toHex(headerStructHash(header(h))));
      assert.equal(bt.headerHash, TypedDataEncoder.hash(ethDomain, HEADER_TYPES, value));
      assert.equal(bt.headerHash, toHex(headerHash(separator, header(h))));
      assert.equal(bt.signature, await wallet('primary').signTypedData(ethDomain, HEADER_TYPES, value));
      assert.equal(bt.signature, toHex(sign(b(bt.headerHash), b(V.keys.primary.privateKey))));
      assert.equal(verifyTypedData(ethDomain, HEADER_TYPES, value, bt.signature).toLowerCase(), V.keys.primary.address);

      const headerBytes = hexcat(
        b(h.logId), u64(h.height), u64(h.view), u64(h.firstSeq), u32(h.count), b(h.prevHeaderHash), b(h.headHash), b(h.entriesRoot), u64(h.timestamp),
      );
      assert.equal(bt.headerEncoded, headerBytes);
      assert.equal(b(bt.headerEncoded).byteLength, 164);
      const signed = { header: header(h), signature: b(bt.signature) };
      assert.equal(toHex(encodeSignedHeader(signed)), headerBytes + bt.signature.slice(2));
      assert.deepEqual({ ...decodeSignedHeader(encodeSignedHeader(signed)).header }, header(h));

      const subs = bt.submissions.map((j) => V.submissions[j]);
      assert.equal(bt.encoded, hexcat(Buffer.from([1]), b(bt.headerEncoded), b(bt.signature), u32(subs.length), ...subs.map((s) => b(s.encoded))));
      assert.equal(bt.encoded, toHex(encodeBatch({ ...signed, submissions: subs.map(submission) })));
    });
  }

  test('every batch verifies in order from genesis and reaches the recorded tip', () => {
    let t: Tip = GENESIS_TIP;
    for (const bt of V.batches) {
      const v = verifyBatch(rules, t, decodeBatch(b(bt.encoded)), bt.header.timestamp);
      assert.equal(toHex(v.headerHash), bt.headerHash);
      assert.deepEqual(v.tip, tip(bt.tip));
      assert.deepEqual(v.digests.map(toHex), bt.submissions.map((j) => V.submissions[j].digest));
      t = v.tip;
    }
  });
});

describe('range proofs and receipt', () => {
  for (const rp of V.rangeProofs) {
    test(`range [${rp.lo}, ${rp.hi}) of batch ${rp.batch}`, () => {
      const bt = V.batches[rp.batch];
      assert.equal(rp.root, bt.header.entriesRoot);
      assert.equal(rp.size, bt.header.count);
      const entries = V.entries.filter((e) => e.seq >= bt.header.firstSeq && e.seq < bt.header.firstSeq + bt.header.count);
      assert.deepEqual(rp.leaves, entries.slice(rp.lo, rp.hi).map((e) => e.entryHash));
      const tree = new MerkleTree(b('0x' + entries.map((e) => e.entryHash.slice(2)).join('')));
      assert.deepEqual(tree.rangeProof(rp.lo, rp.hi).map(toHex), rp.proof);
      assert.equal(verifyRangeProof(b(rp.root), rp.size, rp.lo, rp.leaves.map(b), rp.proof.map(b)), true);
    });
  }

  test('the receipt checks, with the payloads, against the primary', () => {
    const r = V.receipt;
    const bt = V.batches[r.batch];
    const s = V.submissions[r.submission];
    assert.deepEqual(r.header, bt.header);
    assert.equal(r.headerHash, bt.headerHash);
    assert.equal(r.signature, bt.signature);
    assert.equal(r.submissionDigest, s.digest);
    assert.equal(r.sender, s.sender);
    assert.equal(r.nonce, s.nonce);
    assert.equal(r.count, s.transactions.length);
    assert.equal(r.height, bt.header.height);
    const mine = V.entries.filter((e) => e.submission === r.submission);
    assert.equal(r.firstSeq, mine[0].seq);
    assert.deepEqual(r.entryHashes, mine.map((e) => e.entryHash));
    assert.equal(r.prevEntryHash, mine[0].prevEntryHash);
    const rp = V.rangeProofs.find((p) => p.batch === r.batch && p.lo === r.firstSeq - bt.header.firstSeq && p.hi === p.lo + r.count);
    assert.ok(rp, 'the receipt proof is among the range proofs');
    assert.deepEqual(r.proof, rp.proof);
    const receipt: Receipt = {
      header: header(r.header), signature: b(r.signature), submissionDigest: b(r.submissionDigest), sender: b(r.sender), nonce: BigInt(r.nonce),
      firstSeq: r.firstSeq, entryHashes: r.entryHashes.map(b), prevEntryHash: b(r.prevEntryHash), proof: r.proof.map(b),
    };
    assert.equal(checkReceipt({ logId, separator, primary: b(V.keys.primary.address) }, receipt, s.transactions.map(b)), null);
    assert.equal(checkReceipt({ logId, separator, primary: b(V.keys.primary.address) }, receipt), null);
  });
});
