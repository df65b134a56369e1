/**
 * docs/test-vectors.json recomputed by the core alone, with nothing that needs Node (no node:*, no Buffer,
 * no ethers), so the very same checks run in Node on either crypto backend and in a browser bundle of the core
 * (test/browser/core-in-browser.test.ts). test/core/vectors.test.ts stays the reference: it also recomputes
 * every vector independently with ethers. This module proves that the core, whichever backend `#crypto`
 * selected for it, reproduces them bit for bit: hashes, RFC 6979 signatures, recovery, digests, verification;
 * and that the byte helpers, which have a Buffer-free path for browsers, give the same answers there.
 */
import { backend } from '#crypto';
import vectors from '../../docs/test-vectors.json' with { type: 'json' };
import { decodeBatch, encodeBatch, GENESIS_TIP, verifyBatch, type Tip } from '../../src/core/batch.ts';
import { bytesKey, compareBytes, concatBytes, equalBytes, fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { domainSeparator, headerStructHash, peerRecordStructHash, submissionStructHash } from '../../src/core/eip712.ts';
import { entryHash } from '../../src/core/entry.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { headerHash, type Header } from '../../src/core/header.ts';
import { Membership } from '../../src/core/membership.ts';
import { MerkleTree, verifyRangeProof } from '../../src/core/merkle.ts';
import { peerRecordDigest, signPeerRecord } from '../../src/core/peer-record.ts';
import { checkReceipt, type Receipt } from '../../src/core/receipt.ts';
import type { LogRules } from '../../src/core/rules.ts';
import { addressFromPrivateKey, recoverAddress, sign } from '../../src/core/signature.ts';
import { decodeSubmission, encodeSubmission, encodeTxList, submissionDigest, transactionsHash, type Submission } from '../../src/core/submission.ts';

export interface VectorReport {
  /** The crypto backend the core was built with: 'native' or 'noble'. */
  readonly backend: string;
  /** How many values were compared. */
  readonly checked: number;
  /** One line per value that differs from the vectors (empty when all match). */
  readonly failures: string[];
}

type VectorHeader = (typeof vectors.batches)[number]['header'];
type VectorTip = (typeof vectors.batches)[number]['tip'];

const b = (hex: string): Bytes => fromHex(hex);
const utf8 = (s: string): Bytes => new TextEncoder().encode(s);

function header(h: VectorHeader): Header {
  return { ...h, logId: b(h.logId), prevHeaderHash: b(h.prevHeaderHash), headHash: b(h.headHash), entriesRoot: b(h.entriesRoot) };
}
function tipLine(t: Tip | VectorTip): string {
  const hex = (x: string | Bytes): string => (typeof x === 'string' ? x : toHex(x));
  return `${t.height} ${hex(t.headerHash)} ${t.nextSeq} ${hex(t.headHash)} ${t.timestamp}`;
}
function submission(s: (typeof vectors.submissions)[number]): Submission {
  return { sender: b(s.sender), nonce: BigInt(s.nonce), expiry: s.expiry, transactions: s.transactions.map(b), signature: b(s.signature) };
}
function entriesOf(h: VectorHeader): (typeof vectors.entries)[number][] {
  return vectors.entries.filter((e) => e.seq >= h.firstSeq && e.seq < h.firstSeq + h.count);
}
function leavesOf(h: VectorHeader): Bytes {
  return b('0x' + entriesOf(h).map((e) => e.entryHash.slice(2)).join(''));
}

/** Runs every check, never throwing on a mismatch: a browser page reports the whole list at once. */
export function checkVectors(): VectorReport {
  const failures: string[] = [];
  let checked = 0;
  const expect = (what: string, actual: () => string | boolean | null, expected: string | boolean | null): void => {
    checked++;
    try {
      const got = actual();
      if (got !== expected) failures.push(`${what}: got ${String(got)}, expected ${String(expected)}`);
    } catch (e) {
      failures.push(`${what}: threw ${(e as Error).message}`);
    }
  };
  const V = vectors;
  const separator = b(V.domain.separator);
  const primaryKey = b(V.keys.primary.privateKey);

  for (const [name, k] of Object.entries(V.keys)) expect(`address of ${name}`, () => toHex(addressFromPrivateKey(b(k.privateKey))), k.address);
  expect('domain type hash', () => toHex(keccak256(utf8(V.types.EIP712Domain))), V.types.domainTypeHash);
  expect('submission type hash', () => toHex(keccak256(utf8(V.types.Submission))), V.types.submissionTypeHash);
  expect('header type hash', () => toHex(keccak256(utf8(V.types.BatchHeader))), V.types.batchHeaderTypeHash);
  expect('peer record type hash', () => toHex(keccak256(utf8(V.types.PeerRecord))), V.types.peerRecordTypeHash);
  expect('log id', () => toHex(keccak256(utf8(V.domain.logIdPreimage))), V.domain.logId);
  expect('domain separator', () => toHex(domainSeparator({ chainId: V.domain.chainId, logId: b(V.domain.logId) })), V.domain.separator);

  for (const [i, s] of V.submissions.entries()) {
    const txs = s.transactions.map(b);
    const key = b(V.keys[s.signer as keyof typeof V.keys].privateKey);
    expect(`submission ${i} txList`, () => toHex(encodeTxList(txs)), s.txList);
    expect(`submission ${i} transactionsHash`, () => toHex(transactionsHash(txs)), s.transactionsHash);
    expect(`submission ${i} structHash`, () => toHex(submissionStructHash(b(s.sender), BigInt(s.nonce), s.expiry, b(s.transactionsHash))), s.structHash);
    expect(`submission ${i} digest`, () => toHex(submissionDigest(separator, submission(s))), s.digest);
    expect(`submission ${i} signature (RFC 6979)`, () => toHex(sign(b(s.digest), key)), s.signature);
    expect(`submission ${i} recovered sender`, () => toHex(recoverAddress(b(s.digest), b(s.signature))), s.sender);
    expect(`submission ${i} wire form`, () => toHex(encodeSubmission(submission(s))), s.encoded);
    expect(`submission ${i} decoded and re-encoded`, () => toHex(encodeSubmission({ ...decodeSubmission(b(s.encoded)) })), s.encoded);
  }

  for (const e of V.entries) {
    expect(`entry ${e.seq} hash`, () => toHex(entryHash(b(e.prevEntryHash), e.seq, b(e.sender), b(e.submissionDigest), b(e.payload))), e.entryHash);
  }

  for (const [i, bt] of V.batches.entries()) {
    const h = header(bt.header);
    expect(`batch ${i} entries root`, () => toHex(new MerkleTree(leavesOf(bt.header)).root), bt.header.entriesRoot);
    expect(`batch ${i} header structHash`, () => toHex(headerStructHash(h)), bt.structHash);
    expect(`batch ${i} header hash`, () => toHex(headerHash(separator, h)), bt.headerHash);
    expect(`batch ${i} header signature (RFC 6979)`, () => toHex(sign(b(bt.headerHash), primaryKey)), bt.signature);
    expect(`batch ${i} recovered primary`, () => toHex(recoverAddress(b(bt.headerHash), b(bt.signature))), V.keys.primary.address);
    const submissions = bt.submissions.map((j) => submission(V.submissions[j]));
    expect(`batch ${i} wire form`, () => toHex(encodeBatch({ header: h, signature: b(bt.signature), submissions })), bt.encoded);
  }

  const rules: LogRules = {
    logId: b(V.domain.logId),
    separator,
    membership: Membership.single(b(V.keys.primary.address)),
    isAllowed: (sender) => V.allowlist.some((a) => equalBytes(b(a), sender)),
  };
  let tip: Tip = GENESIS_TIP;
  for (const [i, bt] of V.batches.entries()) {
    expect(`batch ${i} verifies from the previous tip`, () => {
      const verified = verifyBatch(rules, tip, decodeBatch(b(bt.encoded)), bt.header.timestamp);
      tip = verified.tip;
      return `${toHex(verified.headerHash)} ${tipLine(verified.tip)} ${verified.digests.map(toHex).join(',')}`;
    }, `${bt.headerHash} ${tipLine(bt.tip)} ${bt.submissions.map((j) => V.submissions[j].digest).join(',')}`);
  }

  for (const rp of V.rangeProofs) {
    const what = `range [${rp.lo}, ${rp.hi}) of batch ${rp.batch}`;
    const tree = new MerkleTree(leavesOf(V.batches[rp.batch].header));
    expect(`${what}: proof`, () => tree.rangeProof(rp.lo, rp.hi).map(toHex).join(','), rp.proof.join(','));
    expect(`${what}: verifies`, () => verifyRangeProof(b(rp.root), rp.size, rp.lo, rp.leaves.map(b), rp.proof.map(b)), true);
  }

  const p = V.peerRecord;
  expect('peer record structHash', () => toHex(peerRecordStructHash(b(p.logId), p.peerId, p.issuedAt)), p.structHash);
  expect('peer record digest', () => toHex(peerRecordDigest(separator, b(p.logId), p.peerId, p.issuedAt)), p.digest);
  expect('peer record signature (RFC 6979)', () => toHex(signPeerRecord(separator, b(p.logId), p.peerId, p.issuedAt, primaryKey).signature), p.signature);

  const r = V.receipt;
  const receipt: Receipt = {
    header: header(r.header), signature: b(r.signature), submissionDigest: b(r.submissionDigest), sender: b(r.sender), nonce: BigInt(r.nonce),
    firstSeq: r.firstSeq, entryHashes: r.entryHashes.map(b), prevEntryHash: b(r.prevEntryHash), proof: r.proof.map(b),
  };
  const payloads = V.submissions[r.submission].transactions.map(b);
  expect('receipt checks with its payloads', () => checkReceipt(rules, receipt, payloads), null);
  expect('receipt checks without payloads', () => checkReceipt(rules, receipt), null);

  // core/bytes.ts takes a Buffer-free path where there is no Buffer (browsers): the same answers on both paths.
  const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
  expect('hex of every byte value, there and back', () => equalBytes(fromHex(toHex(everyByte)), everyByte), true);
  expect('hex digits in either case', () => toHex(fromHex('0xABcdEf09')), '0xabcdef09');
  for (const bad of ['0x0g', '0xg0', '0x0', '0x\u00e90', '0x 0', 'ab01']) {
    expect(`fromHex refuses ${JSON.stringify(bad)}`, () => { try { fromHex(bad); return 'accepted'; } catch (e) { return (e as Error).name; } }, 'InvalidArgumentError');
  }
  expect('fromHex enforces the length', () => { try { fromHex('0x0102', 3); return 'accepted'; } catch (e) { return (e as Error).message; } }, 'expected 3 bytes, got 2');
  const ordered = [[], [0], [0, 0], [0, 1], [1], [1, 0], [255]].map((x) => Uint8Array.from(x));
  expect('compareBytes orders lexicographically', () => ordered.every((x, i) => ordered.every((y, j) => Math.sign(compareBytes(x, y)) === Math.sign(i - j))), true);
  expect('concatBytes', () => toHex(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))), '0x010203');
  expect('bytesKey is one character per byte', () => [...bytesKey(Uint8Array.of(0, 127, 128, 255))].map((c) => c.charCodeAt(0)).join(), '0,127,128,255');

  return { backend: backend.name, checked, failures };
}
