/**
 * Entries: one per transaction, hash-chained (docs/protocol.md §Entry):
 *   entryHash = sha256(0x00 | prevEntryHash[32] | seq u64 | sender[20] | submissionDigest[32] | payload)
 * The entry before sequence number 0 has the hash 32 zero bytes. The chain head is the newest entry hash.
 */
import type { Bytes } from './bytes.ts';
import { sha256 } from './hash.ts';

export const ENTRY_TAG = 0x00;
const PREFIX_BYTES = 1 + 32 + 8 + 20 + 32;

/**
 * Computes the hash chain over consecutive entries, reusing one scratch buffer: this is the only
 * per-transaction hash on the hot path, so it avoids an allocation per entry.
 */
export class EntryChain {
  private scratch = new Uint8Array(PREFIX_BYTES + 1024);
  private view = new DataView(this.scratch.buffer);
  /** The preimage of the last entry, kept while payloads keep the same size (they mostly do): no view per entry. */
  private preimage = this.scratch.subarray(0, 0);
  head: Bytes;
  nextSeq: number;

  constructor(head: Bytes, nextSeq: number) {
    this.head = head;
    this.nextSeq = nextSeq;
  }

  /** Appends one entry and returns its hash (also the new head). */
  append(sender: Uint8Array, submissionDigest: Uint8Array, payload: Uint8Array): Bytes {
    const size = PREFIX_BYTES + payload.byteLength;
    if (size > this.scratch.byteLength) {
      this.scratch = new Uint8Array(Math.max(size, this.scratch.byteLength * 2));
      this.view = new DataView(this.scratch.buffer);
      this.preimage = this.scratch.subarray(0, 0);
    }
    if (this.preimage.byteLength !== size) this.preimage = this.scratch.subarray(0, size);
    const s = this.scratch;
    s[0] = ENTRY_TAG;
    s.set(this.head, 1);
    this.view.setUint32(33, Math.floor(this.nextSeq / 0x1_0000_0000));
    this.view.setUint32(37, this.nextSeq >>> 0);
    s.set(sender, 41);
    s.set(submissionDigest, 61);
    s.set(payload, 93);
    this.head = sha256(this.preimage);
    this.nextSeq++;
    return this.head;
  }
}

export function entryHash(prev: Uint8Array, seq: number, sender: Uint8Array, submissionDigest: Uint8Array, payload: Uint8Array): Bytes {
  return new EntryChain(prev, seq).append(sender, submissionDigest, payload);
}

/** One entry of the log as readers see it: the transaction, where it stands, and the submission that holds it. */
export interface Entry {
  readonly seq: number;
  readonly height: number;
  readonly sender: Bytes;
  readonly nonce: bigint;
  /** The holding submission's expiry, transactionsHash and signature: with sender and nonce, what a reader needs to re-verify it. */
  readonly expiry: number;
  readonly transactionsHash: Bytes;
  readonly signature: Bytes;
  readonly submissionDigest: Bytes;
  readonly payload: Bytes;
  readonly entryHash: Bytes;
}
