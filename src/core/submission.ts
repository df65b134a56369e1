/**
 * A submission: what a client signs. One EIP-712 signature covers a list of transactions.
 * Wire form (docs/protocol.md §Submission):
 *   sender[20] | nonce u64 | expiry u64 | signature[65] | txList
 *   txList = count u32 | (length u32 | payload)*count
 * transactionsHash = sha256(txList), so verifiers hash the wire slice as it is.
 */
import { Reader, Writer, type Bytes } from './bytes.ts';
import { sha256 } from './hash.ts';
import { submissionStructHash, typedDataDigest } from './eip712.ts';
import { refuseOverLimit, submissionSizeViolation, txCountViolation, txSizeViolation } from './limits.ts';
import { SIGNATURE_BYTES } from './signature.ts';
import { DecodeError } from './bytes.ts';

export interface Submission {
  /** 20-byte Ethereum address of the signer. */
  readonly sender: Bytes;
  readonly nonce: bigint;
  /** Unix seconds after which the submission must not be sequenced; 0 means no expiry. */
  readonly expiry: number;
  readonly transactions: readonly Bytes[];
  readonly signature: Bytes;
}

/** A submission as decoded from a batch: also keeps its encoded transaction list for hashing without copies. */
export interface DecodedSubmission extends Submission {
  readonly txList: Bytes;
}

const SUBMISSION_FIXED_BYTES = 20 + 8 + 8 + SIGNATURE_BYTES;

export function txListSize(transactions: readonly Uint8Array[]): number {
  let size = 4;
  for (const tx of transactions) size += 4 + tx.byteLength;
  return size;
}

export function encodeTxList(transactions: readonly Uint8Array[]): Bytes {
  const w = new Writer(txListSize(transactions)).u32(transactions.length);
  for (const tx of transactions) w.u32(tx.byteLength).raw(tx);
  return w.finish();
}

export function transactionsHash(transactions: readonly Uint8Array[]): Bytes {
  return sha256(encodeTxList(transactions));
}

export function submissionSize(s: Submission): number {
  return SUBMISSION_FIXED_BYTES + txListSize(s.transactions);
}

/** The EIP-712 digest the sender signs; `separator` is the log's domain separator. */
export function submissionDigest(separator: Uint8Array, s: Submission, txHash?: Uint8Array): Bytes {
  return typedDataDigest(separator, submissionStructHash(s.sender, s.nonce, s.expiry, txHash ?? transactionsHash(s.transactions)));
}

export function writeSubmission(w: Writer, s: Submission): void {
  w.raw(s.sender).u64(s.nonce).u64(s.expiry).raw(s.signature).u32(s.transactions.length);
  for (const tx of s.transactions) w.u32(tx.byteLength).raw(tx);
}

export function encodeSubmission(s: Submission): Bytes {
  const w = new Writer(submissionSize(s));
  writeSubmission(w, s);
  return w.finish();
}

/** Reads one submission, enforcing the per-submission limits. Payloads are views into the input. */
export function readSubmission(r: Reader): DecodedSubmission {
  const start = r.offset;
  const sender = r.raw(20);
  const nonce = r.u64big();
  const expiryBig = r.u64big();
  if (expiryBig > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('expiry out of range');
  const signature = r.raw(SIGNATURE_BYTES);
  const listStart = r.offset;
  const count = r.u32();
  refuseOverLimit(txCountViolation(count));
  const transactions: Bytes[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const len = r.u32();
    refuseOverLimit(txSizeViolation(len));
    transactions[i] = r.raw(len);
  }
  refuseOverLimit(submissionSizeViolation(r.offset - start));
  return { sender, nonce, expiry: Number(expiryBig), signature, transactions, txList: r.bytes.subarray(listStart, r.offset) };
}

export function decodeSubmission(bytes: Uint8Array): DecodedSubmission {
  const r = new Reader(bytes);
  const s = readSubmission(r);
  r.end();
  return s;
}
