/**
 * Batches: what the primary seals, signs, stores and gossips. Wire form (docs/protocol.md §Batch):
 *   version u8 (= 1) | header[164] | signature[65] | submissionCount u32 | submission*
 * and, for the first header of a view v > 0, form 2 with the view's justification (justification.ts) beside it:
 *   version u8 (= 2) | header[164] | signature[65] | justificationLength u32 (<= 65536) | justification | submissionCount u32 | submission*
 * This module seals batches (primary) and verifies them completely against a tip (replica). It does no I/O:
 * nonce uniqueness against history is the caller's lookup, given the keys from `nonceKey`.
 */
import { DecodeError, Reader, Writer, ZERO32, bytesKey, equalBytes, toHex, type Bytes } from './bytes.ts';
import { EntryChain } from './entry.ts';
import { CURRENT_VIEW, HEADER_BYTES, headerHash, isAllowedView, readHeader, signHeader, writeHeader, type Header, type SignedHeader } from './header.ts';
import { batchSizeViolation, batchTxsViolation, MAX_BATCH_TXS, MAX_CLOCK_SKEW_MS, refuseOverLimit } from './limits.ts';
import { MerkleTree } from './merkle.ts';
import { describeViolation, judgeSubmission, nonceViolation, type LogRules } from './rules.ts';
import { recoverAddress, SIGNATURE_BYTES, SignatureError } from './signature.ts';
import { readSubmission, submissionDigest, submissionSize, writeSubmission, type DecodedSubmission, type Submission } from './submission.ts';
import { sha256 } from './hash.ts';
import { BatchNotYetValidError, BatchRejectedError } from './errors.ts';
import { MAX_JUSTIFICATION_BYTES, decodeJustification, justificationSize, writeJustification, type Justification } from './justification.ts';

export const BATCH_VERSION = 1;
/** Wire form 2: the header, then its justification (justification.ts), then the submissions. */
export const JUSTIFIED_BATCH_VERSION = 2;

export interface Batch extends SignedHeader {
  readonly submissions: readonly Submission[];
  /** Why the first header of a view may be there (wire form 2); absent for every other batch (wire form 1). */
  readonly justification?: Justification;
}

export interface DecodedBatch extends Batch {
  readonly submissions: readonly DecodedSubmission[];
}

/** Where a log stands after its last batch. */
export interface Tip {
  /** Height of the newest batch; -1 for an empty log. */
  readonly height: number;
  /** Hash of the newest header; zero for an empty log. */
  readonly headerHash: Bytes;
  readonly nextSeq: number;
  /** Newest entry hash; zero for an empty log. */
  readonly headHash: Bytes;
  /** Timestamp of the newest header (unix ms); 0 for an empty log. */
  readonly timestamp: number;
}

export const GENESIS_TIP: Tip = { height: -1, headerHash: ZERO32, nextSeq: 0, headHash: ZERO32, timestamp: 0 };

export function encodeBatch(b: Batch): Bytes {
  const j = b.justification;
  let size = 1 + HEADER_BYTES + SIGNATURE_BYTES + 4 + (j ? 4 + justificationSize(j) : 0);
  for (const s of b.submissions) size += submissionSize(s);
  const w = new Writer(size).u8(j ? JUSTIFIED_BATCH_VERSION : BATCH_VERSION);
  writeHeader(w, b.header);
  w.raw(b.signature);
  if (j) {
    w.u32(justificationSize(j));
    writeJustification(w, j);
  }
  w.u32(b.submissions.length);
  for (const s of b.submissions) writeSubmission(w, s);
  return w.finish();
}

/** Decodes a batch, enforcing the protocol limits. Throws DecodeError. Payloads are views into `bytes`. */
export function decodeBatch(bytes: Uint8Array): DecodedBatch {
  refuseOverLimit(batchSizeViolation(bytes.byteLength));
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== BATCH_VERSION && version !== JUSTIFIED_BATCH_VERSION) throw new DecodeError(`unknown batch version ${version}`);
  const header = readHeader(r);
  const signature = r.raw(SIGNATURE_BYTES);
  const justification = version === JUSTIFIED_BATCH_VERSION ? readJustificationField(r) : undefined;
  const n = r.u32();
  if (n > MAX_BATCH_TXS) throw new DecodeError('too many submissions');
  const submissions: DecodedSubmission[] = [];
  let txs = 0;
  for (let i = 0; i < n; i++) {
    const s = readSubmission(r);
    txs += s.transactions.length;
    refuseOverLimit(batchTxsViolation(txs));
    submissions.push(s);
  }
  r.end();
  return justification ? { header, signature, submissions, justification } : { header, signature, submissions };
}

function readJustificationField(r: Reader): Justification {
  const length = r.u32();
  if (length > MAX_JUSTIFICATION_BYTES) throw new DecodeError(`justification of ${length} bytes, at most ${MAX_JUSTIFICATION_BYTES}`);
  return decodeJustification(r.raw(length));
}

/** Reads just the signed header of an encoded batch (cheap: for routing gossip before full verification). */
export function peekSignedHeader(bytes: Uint8Array): SignedHeader {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== BATCH_VERSION && version !== JUSTIFIED_BATCH_VERSION) throw new DecodeError(`unknown batch version ${version}`);
  return { header: readHeader(r), signature: r.raw(SIGNATURE_BYTES) };
}

/**
 * The submissions of an encoded batch, each read only when the iteration reaches it (nothing is kept): for
 * looking one up in a stored batch, which was verified before it was stored, without decoding the rest.
 * Throws DecodeError.
 */
export function* submissionsOf(bytes: Uint8Array): Generator<DecodedSubmission> {
  const r = new Reader(bytes, 1 + HEADER_BYTES + SIGNATURE_BYTES);
  if (bytes[0] === JUSTIFIED_BATCH_VERSION) r.raw(r.u32());
  const n = r.u32();
  for (let i = 0; i < n; i++) yield readSubmission(r);
}

/** Lookup key of a (sender, nonce) pair: sender[20] | nonce u64. */
export function nonceKey(sender: Uint8Array, nonce: bigint): Bytes {
  return new Writer(28).raw(sender).u64(nonce).finish();
}

export interface SealedBatch {
  readonly batch: Batch;
  readonly headerHash: Bytes;
  /** Entry hashes of the batch, packed. */
  readonly tree: MerkleTree;
  readonly tip: Tip;
}

/** An admitted submission: already checked, with its digest computed once at admission. */
export interface AdmittedSubmission {
  readonly submission: Submission;
  readonly digest: Bytes;
}

export function txCount(submissions: readonly { transactions: readonly unknown[] }[]): number {
  let n = 0;
  for (const s of submissions) n += s.transactions.length;
  return n;
}

/** Computes the entry chain of a batch's transactions; returns the packed entry hashes and the new head. */
function chainEntries(tip: Tip, submissions: readonly Submission[], digests: readonly Uint8Array[], count: number): { leaves: Bytes; head: Bytes } {
  const chain = new EntryChain(tip.headHash, tip.nextSeq);
  const leaves = new Uint8Array(count * 32);
  let offset = 0;
  for (let i = 0; i < submissions.length; i++) {
    const s = submissions[i];
    for (const tx of s.transactions) {
      leaves.set(chain.append(s.sender, digests[i], tx), offset);
      offset += 32;
    }
  }
  return { leaves, head: chain.head };
}

/** Leader side: seals admitted submissions on top of `tip` into a signed batch of `view` (the leader's). */
export function sealBatch(
  rules: LogRules, tip: Tip, admitted: readonly AdmittedSubmission[], timestamp: number, privateKey: Uint8Array, view: number = CURRENT_VIEW,
): SealedBatch {
  const submissions = admitted.map((a) => a.submission);
  const count = txCount(submissions);
  const { leaves, head } = chainEntries(tip, submissions, admitted.map((a) => a.digest), count);
  const tree = new MerkleTree(leaves);
  const header: Header = {
    logId: rules.logId,
    height: tip.height + 1,
    view,
    firstSeq: tip.nextSeq,
    count,
    prevHeaderHash: tip.headerHash,
    headHash: head,
    entriesRoot: tree.root,
    timestamp: Math.max(timestamp, tip.timestamp),
  };
  const signed = signHeader(rules.separator, header, privateKey);
  const hash = headerHash(rules.separator, header);
  return {
    batch: { ...signed, submissions },
    headerHash: hash,
    tree,
    tip: { height: header.height, headerHash: hash, nextSeq: header.firstSeq + count, headHash: head, timestamp: header.timestamp },
  };
}

export interface VerifiedBatch {
  readonly batch: DecodedBatch;
  readonly headerHash: Bytes;
  readonly digests: readonly Bytes[];
  /** nonceKey of every submission, for the caller's uniqueness lookup against history. */
  readonly nonceKeys: readonly Bytes[];
  readonly tip: Tip;
}

function reject(reason: string): never {
  throw new BatchRejectedError(reason);
}

/**
 * Checks the header is of this log, signed by the leader of its view (the primary), in a view the log allows;
 * returns the header hash. Throws BatchRejectedError.
 */
export function verifyHeaderSignature(rules: LogRules, signed: SignedHeader): Bytes {
  if (!equalBytes(signed.header.logId, rules.logId)) reject('batch for another log');
  const hash = headerHash(rules.separator, signed.header);
  let signer: Bytes;
  try {
    signer = recoverAddress(hash, signed.signature);
  } catch (e) {
    reject(`header signature: ${(e as SignatureError).message}`);
  }
  if (!equalBytes(signer, rules.membership.leaderOf(signed.header.view))) reject(`header signed by ${toHex(signer)}, not by the primary`);
  // Checked here, before any caller keeps or judges the header, so a header of another view is never held.
  if (!isAllowedView(signed.header.view, rules.membership.n)) reject(`unknown view ${signed.header.view}`);
  return hash;
}

/**
 * Replica side: verifies a batch completely as the successor of `tip`: primary signature, height, link to the
 * previous header, sequence continuity, timestamp, every submission (signature, allowlist, expiry, no nonce
 * repeated inside the batch), the entry chain and the Merkle root. Throws BatchRejectedError.
 */
export function verifyBatch(rules: LogRules, tip: Tip, batch: DecodedBatch, now: number): VerifiedBatch {
  return verifyBatchBody(rules, tip, batch, verifyHeaderSignature(rules, batch), now);
}

/**
 * verifyBatch without the header signature check, for a caller that has just made it (verifyHeaderSignature
 * on this very header) and passes the header hash it returned.
 */
export function verifyBatchBody(rules: LogRules, tip: Tip, batch: DecodedBatch, hash: Bytes, now: number): VerifiedBatch {
  const h = batch.header;
  if (h.height !== tip.height + 1) reject(`height ${h.height} does not follow ${tip.height}`);
  if (!equalBytes(h.prevHeaderHash, tip.headerHash)) reject('previous header hash does not match');
  if (h.firstSeq !== tip.nextSeq) reject(`first sequence number ${h.firstSeq}, expected ${tip.nextSeq}`);
  if (h.timestamp < tip.timestamp) reject('timestamp goes backwards');
  if (h.timestamp > now + MAX_CLOCK_SKEW_MS) throw new BatchNotYetValidError('timestamp too far in the future');
  const count = txCount(batch.submissions);
  if (count === 0 || count !== h.count) reject(`header counts ${h.count} transactions, batch holds ${count}`);

  // The rule book (core/rules.ts) judges each submission, expiry against the header's timestamp, as the
  // primary did when it sealed the batch; nonces against history are the caller's lookup (nonceKeys).
  const digests: Bytes[] = [];
  const nonceKeys: Bytes[] = [];
  const seen = new Set<string>();
  for (const s of batch.submissions) {
    const digest = submissionDigest(rules.separator, s, sha256(s.txList));
    const key = nonceKey(s.sender, s.nonce);
    const k = bytesKey(key);
    const violation = judgeSubmission(rules, s, { at: h.timestamp, digest }) ?? nonceViolation(s, seen.has(k) ? 'in-batch' : undefined);
    if (violation) reject(describeViolation(violation));
    seen.add(k);
    digests.push(digest);
    nonceKeys.push(key);
  }

  const { leaves, head } = chainEntries(tip, batch.submissions, digests, count);
  if (!equalBytes(head, h.headHash)) reject('chain head does not match the entries');
  if (!equalBytes(new MerkleTree(leaves).root, h.entriesRoot)) reject('entries root does not match the entries');
  return {
    batch,
    headerHash: hash,
    digests,
    nonceKeys,
    tip: { height: h.height, headerHash: hash, nextSeq: h.firstSeq + count, headHash: head, timestamp: h.timestamp },
  };
}

