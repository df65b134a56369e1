/**
 * Receipts: a client's signed statement of where its transactions stand. A receipt carries the signed header
 * of the batch that holds the submission, the entry hashes of its transactions, the entry hash just before
 * them, and a Merkle range proof from those entries to the header's entries root (docs/protocol.md §Receipt).
 */
import type { DecodedBatch } from './batch.ts';
import { BaseError } from './errors.ts';
import { checkFinalityCertificate, type FinalityCertificate } from './finality-certificate.ts';
import { equalBytes, toHex, type Bytes } from './bytes.ts';
import { EntryChain } from './entry.ts';
import { sha256 } from './hash.ts';
import { headerHash, isAllowedView, type SignedHeader } from './header.ts';
import { verifyRangeProof, type MerkleTree } from './merkle.ts';
import { Membership } from './membership.ts';
import type { LogRules } from './rules.ts';
import { recoverAddress } from './signature.ts';
import { submissionDigest, type DecodedSubmission } from './submission.ts';

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
 * What a receipt is checked against: the log's id, its EIP-712 domain separator, and who signs its headers:
 * the log's membership (a node), or just the primary's address (a client that knows no more).
 */
export type ReceiptRules = Pick<LogRules, 'logId' | 'separator'> & ({ readonly membership: Membership } | { readonly primary: Bytes });

/** How settled a receipt's header is (docs/protocol.md §Finality certificate): signed by the leader only, or final. */
export type Finality = 'soft' | 'final';

/** A receipt that may carry the finality certificate of its height (sequencer_append with `wait: "final"`). */
export type ReceiptWithFinality = Receipt & { readonly certificate?: FinalityCertificate | null };

export interface ReceiptCheck {
  /** Why the receipt does not check, or null. */
  readonly reason: string | null;
  /** `final` when it carries a finality certificate that checks and proves its very header final; else `soft`. */
  readonly finality: Finality;
}

/**
 * Checks a receipt: the header is of this log and of a view the log allows, signed by the primary; the entries
 * are in the header's tree at the stated positions; and (when the payloads are given) the entry hashes are the
 * chain over those payloads. With a finality certificate, that too (finalityReason). Returns null when valid, else
 * the reason.
 */
export function checkReceipt(rules: ReceiptRules, r: ReceiptWithFinality, payloads?: readonly Uint8Array[]): string | null {
  return checkReceiptFinality(rules, r, payloads).reason;
}

/**
 * checkReceipt, and how final the receipt is: `final` when it carries a finality certificate for its height that
 * checks against the log's validator set (a caller that knows only the primary: the one-member set) and whose
 * header is the receipt's header (the same hash; re-proposals come with leader failover). A certificate that does
 * not check makes the receipt invalid: it claims what is not so.
 */
export function checkReceiptFinality(rules: ReceiptRules, r: ReceiptWithFinality, payloads?: readonly Uint8Array[]): ReceiptCheck {
  const reason = receiptFault(rules, r, payloads) ?? (r.certificate ? finalityReason(rules, r, r.certificate) : null);
  return { reason, finality: reason === null && r.certificate ? 'final' : 'soft' };
}

/** Why `fc` does not prove the receipt's header final, or null. */
export function finalityReason(rules: ReceiptRules, r: Receipt, fc: FinalityCertificate): string | null {
  const membership = 'membership' in rules ? rules.membership : Membership.single(rules.primary);
  if (fc.height !== r.header.height) return `finality certificate of height ${fc.height}, the receipt is at ${r.header.height}`;
  if (!equalBytes(fc.headerHash, headerHash(rules.separator, r.header))) return 'finality certificate of another header at this height';
  try {
    checkFinalityCertificate({ logId: rules.logId, separator: rules.separator, membership }, fc);
  } catch (e) {
    if (e instanceof BaseError) return `finality certificate: ${e.message}`;
    throw e;
  }
  return null;
}

function receiptFault(rules: ReceiptRules, r: Receipt, payloads?: readonly Uint8Array[]): string | null {
  const h = r.header;
  // EntryChain copies fields into a scratch buffer, so a short field would hash like a canonical one: refuse it.
  if (r.sender.byteLength !== 20 || r.submissionDigest.byteLength !== 32 || r.prevEntryHash.byteLength !== 32) return 'malformed receipt field';
  // A header of another log or view can never be paired with this log's headers into a proof: refuse it, or
  // the primary could hand out receipts nobody can hold against it.
  if (!equalBytes(h.logId, rules.logId)) return 'header of another log';
  if (!isAllowedView(h.view, 'membership' in rules ? rules.membership.n : 1)) return `header of view ${h.view}, which the log does not allow`;
  let signer: Bytes;
  try {
    signer = recoverAddress(headerHash(rules.separator, h), r.signature);
  } catch (e) {
    return `header signature: ${(e as Error).message}`;
  }
  // A primary's address, when given, is what the caller expects; else the membership says who leads the view.
  const leader = 'primary' in rules ? rules.primary : rules.membership.leaderOf(h.view);
  if (!equalBytes(signer, leader)) return 'header not signed by the primary';
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

/**
 * Compares a receipt that checks (checkReceipt) and whose header is the one of `batch` with what the batch
 * holds: one submission must start at `firstSeq`, from `sender`, with `nonce`, digest `submissionDigest` and
 * one transaction per entry hash, and its entries chained from `prevEntryHash` must be the receipt's entry
 * hashes. The header alone does not bind sender, digest or prevEntryHash, so a receipt can carry a stored
 * header and stored entries and still misstate whose they are. Returns null when it matches, else what differs.
 * The submissions are read only up to `firstSeq` (they may be a lazy iteration: batch.ts submissionsOf).
 */
export function receiptMismatch(
  separator: Bytes, r: Receipt, batch: Pick<DecodedBatch, 'header'> & { readonly submissions: Iterable<DecodedSubmission> },
): string | null {
  let seq = batch.header.firstSeq;
  for (const s of batch.submissions) {
    if (seq > r.firstSeq) break;
    if (seq === r.firstSeq) {
      if (!equalBytes(s.sender, r.sender)) return `the log holds seq ${seq} from another sender (${toHex(s.sender)})`;
      if (s.nonce !== r.nonce) return `the log holds seq ${seq} under nonce ${s.nonce}, not ${r.nonce}`;
      if (s.transactions.length !== r.entryHashes.length) return `the log holds ${s.transactions.length} transactions from seq ${seq}, not ${r.entryHashes.length}`;
      if (!equalBytes(submissionDigest(separator, s, sha256(s.txList)), r.submissionDigest)) return `the log holds seq ${seq} under another submission digest`;
      const chain = new EntryChain(r.prevEntryHash, r.firstSeq);
      for (let i = 0; i < s.transactions.length; i++) {
        if (!equalBytes(chain.append(s.sender, r.submissionDigest, s.transactions[i]), r.entryHashes[i])) {
          return `entry ${r.firstSeq + i} of the log does not hash to the receipt (prevEntryHash is not the log's)`;
        }
      }
      return null;
    }
    seq += s.transactions.length;
  }
  return `no submission of the log starts at seq ${r.firstSeq}`;
}
