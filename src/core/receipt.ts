/**
 * Receipts: a client's signed statement of where its transactions stand. A receipt carries the signed header
 * of the batch that holds the submission, the entry hashes of its transactions, the entry hash just before
 * them, and a Merkle range proof from those entries to the header's entries root (docs/protocol.md §Receipt).
 */
import { equalBytes, type Bytes } from './bytes.ts';
import { EntryChain } from './entry.ts';
import { headerHash, type SignedHeader } from './header.ts';
import { verifyRangeProof, type MerkleTree } from './merkle.ts';
import { recoverAddress } from './signature.ts';

export interface Receipt extends SignedHeader {
  readonly submissionDigest: Bytes;
  readonly sender: Bytes;
  readonly nonce: bigint;
  readonly firstSeq: number;
  readonly entryHashes: readonly Bytes[];
  /** Hash of the entry at firstSeq - 1 (zero for sequence number 0). */
  readonly prevEntryHash: Bytes;
  readonly proof: readonly Bytes[];
}

/** Builds the receipt for entries [firstSeq, firstSeq + count) of a batch whose entry tree is `tree`. */
export function buildReceipt(
  signed: SignedHeader,
  tree: MerkleTree,
  leaves: (i: number) => Bytes,
  batchPrevEntryHash: Bytes,
  sub: { digest: Bytes; sender: Bytes; nonce: bigint; firstSeq: number; count: number },
): Receipt {
  const lo = sub.firstSeq - signed.header.firstSeq;
  const entryHashes: Bytes[] = [];
  for (let i = lo; i < lo + sub.count; i++) entryHashes.push(leaves(i));
  return {
    header: signed.header,
    signature: signed.signature,
    submissionDigest: sub.digest,
    sender: sub.sender,
    nonce: sub.nonce,
    firstSeq: sub.firstSeq,
    entryHashes,
    prevEntryHash: lo === 0 ? batchPrevEntryHash : leaves(lo - 1),
    proof: tree.rangeProof(lo, lo + sub.count),
  };
}

/**
 * Checks a receipt: the header is signed by `primary`, the entries are in the header's tree at the stated
 * positions, and (when the payloads are given) the entry hashes are the chain over those payloads.
 * Returns null when valid, else the reason.
 */
export function checkReceipt(separator: Bytes, primary: Bytes, r: Receipt, payloads?: readonly Uint8Array[]): string | null {
  const h = r.header;
  // EntryChain copies fields into a scratch buffer, so a short field would hash like a canonical one: refuse it.
  if (r.sender.byteLength !== 20 || r.submissionDigest.byteLength !== 32 || r.prevEntryHash.byteLength !== 32) return 'malformed receipt field';
  let signer: Bytes;
  try {
    signer = recoverAddress(headerHash(separator, h), r.signature);
  } catch (e) {
    return `header signature: ${(e as Error).message}`;
  }
  if (!equalBytes(signer, primary)) return 'header not signed by the primary';
  const lo = r.firstSeq - h.firstSeq;
  if (r.entryHashes.length === 0 || lo < 0 || lo + r.entryHashes.length > h.count) return 'entries outside the batch';
  if (!verifyRangeProof(h.entriesRoot, h.count, lo, r.entryHashes, r.proof)) return 'Merkle proof does not match the entries root';
  if (lo + r.entryHashes.length === h.count && !equalBytes(r.entryHashes[r.entryHashes.length - 1], h.headHash)) return 'last entry is not the chain head';
  if (payloads) {
    if (payloads.length !== r.entryHashes.length) return 'payload count differs from the entry count';
    const chain = new EntryChain(r.prevEntryHash, r.firstSeq);
    for (let i = 0; i < payloads.length; i++) {
      if (!equalBytes(chain.append(r.sender, r.submissionDigest, payloads[i]), r.entryHashes[i])) return `entry ${r.firstSeq + i} does not hash to the receipt`;
    }
  }
  return null;
}
