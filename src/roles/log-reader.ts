/**
 * Read side of a stored log: entries by sequence number, batches by height, and Merkle proofs. Stored batches
 * hold payloads only; entry hashes and the tree are recomputed on read, and the few most recently read
 * batches are kept expanded so sequential readers do not redo the work.
 */
import type { Bytes } from '../core/bytes.ts';
import { decodeBatch, peekSignedHeader, submissionsOf, type DecodedBatch } from '../core/batch.ts';
import type { LogRules } from '../core/rules.ts';
import { EntryChain, type Entry } from '../core/entry.ts';
import { headerHash } from '../core/header.ts';
import { MerkleTree } from '../core/merkle.ts';
import { receiptMismatch, type Receipt } from '../core/receipt.ts';
import { sha256 } from '../core/hash.ts';
import { submissionDigest } from '../core/submission.ts';
import type { LogStore, StoredBatch } from '../storage/log-store.ts';
import { LookupCache } from './lookup-cache.ts';

export interface ExpandedBatch {
  readonly batch: DecodedBatch;
  readonly headerHash: Bytes;
  readonly prevEntryHash: Bytes;
  readonly entries: readonly Entry[];
  readonly tree: MerkleTree;
}

export interface EntryProof {
  readonly batch: ExpandedBatch;
  readonly entry: Entry;
  readonly prevEntryHash: Bytes;
  readonly proof: readonly Bytes[];
}

const CACHE_BATCHES = 8;

export class LogReader {
  private readonly store: LogStore;
  private readonly rules: LogRules;
  /**
   * Expanded batches by height: concurrent readers of one batch (every live follower asks for the newest at once)
   * share one expansion, and the few most recently used are kept.
   */
  private readonly expanded: LookupCache<number, ExpandedBatch>;
  /**
   * Stored batches as read, by height: concurrent lookups of one batch share one read, and the few most recent
   * are kept (an expanded batch holds views into its bytes anyway), so receipts checked against one batch do
   * not read it again each.
   */
  private readonly stored: LookupCache<number, StoredBatch>;

  constructor(store: LogStore, rules: LogRules) {
    this.store = store;
    this.rules = rules;
    this.stored = new LookupCache(CACHE_BATCHES, (height) => store.getBatch(height));
    this.expanded = new LookupCache(CACHE_BATCHES, async (height) => {
      const stored = await this.stored.get(height);
      return stored && this.expand(stored);
    });
    // A view change removes tentative batches: what was read of them is gone with them.
    store.onTruncated(() => {
      this.stored.clear();
      this.expanded.clear();
    });
  }

  private expand(stored: StoredBatch): ExpandedBatch {
    const batch = decodeBatch(stored.bytes);
    const h = batch.header;
    const chain = new EntryChain(stored.prevEntryHash, h.firstSeq);
    const entries: Entry[] = [];
    const leaves = new Uint8Array(h.count * 32);
    for (const s of batch.submissions) {
      const transactionsHash = sha256(s.txList);
      const digest = submissionDigest(this.rules.separator, s, transactionsHash);
      for (const payload of s.transactions) {
        const seq = chain.nextSeq;
        const entryHash = chain.append(s.sender, digest, payload);
        leaves.set(entryHash, (seq - h.firstSeq) * 32);
        entries.push({
          seq, height: h.height, sender: s.sender, nonce: s.nonce, expiry: s.expiry, transactionsHash, signature: s.signature,
          submissionDigest: digest, payload, entryHash,
        });
      }
    }
    return { batch, headerHash: headerHash(this.rules.separator, h), prevEntryHash: stored.prevEntryHash, entries, tree: new MerkleTree(leaves) };
  }

  /**
   * What a receipt whose header is the stored one at its height misstates about the log (core/receipt.ts
   * receiptMismatch), or null. Cheap, as one receipt asks no more: a batch already expanded is used as it is;
   * otherwise the stored batch is read (once for concurrent callers, and kept among the few most recent) and
   * only its submissions up to the one the receipt names are decoded, none kept. Undefined when the height is
   * not stored.
   */
  async receiptMismatch(r: Receipt): Promise<string | null | undefined> {
    const height = r.header.height;
    const cached = await this.expanded.peek(height);
    if (cached) return receiptMismatch(this.rules.separator, r, cached.batch);
    const stored = await this.stored.get(height);
    if (!stored) return undefined;
    return receiptMismatch(this.rules.separator, r, { header: peekSignedHeader(stored.bytes).header, submissions: submissionsOf(stored.bytes) });
  }

  batch(height: number): Promise<ExpandedBatch | undefined> {
    return this.expanded.get(height);
  }

  /** Up to `limit` entries from `fromSeq` on, in order. */
  async entries(fromSeq: number, limit: number): Promise<Entry[]> {
    const out: Entry[] = [];
    let height = await this.store.heightOfSeq(fromSeq);
    if (height === undefined) return out;
    while (out.length < limit && height <= this.store.tip.height) {
      const b = await this.batch(height);
      if (!b) break;
      const start = Math.max(0, fromSeq - b.batch.header.firstSeq);
      for (let i = start; i < b.entries.length && out.length < limit; i++) out.push(b.entries[i]);
      height++;
    }
    return out;
  }

  async proof(seq: number): Promise<EntryProof | undefined> {
    const height = await this.store.heightOfSeq(seq);
    if (height === undefined) return undefined;
    const b = await this.batch(height);
    if (!b) return undefined;
    const i = seq - b.batch.header.firstSeq;
    return { batch: b, entry: b.entries[i], prevEntryHash: i === 0 ? b.prevEntryHash : b.entries[i - 1].entryHash, proof: b.tree.rangeProof(i, i + 1) };
  }
}
