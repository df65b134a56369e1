/**
 * The primary: admits submissions, seals them into batches (group commit), makes each batch durable, then
 * publishes it and answers every submitter with a receipt.
 *
 * Ordering guarantees, in the order they happen for a batch:
 *   seal + sign -> synced write -> tip advances -> publish -> receipts.
 * A signature leaves the process only after its batch is durable, and the next batch is sealed only on top of
 * the stored tip, so across crashes and restarts no height is ever signed twice with different contents
 * (a batch signed but not written is never seen by anyone and dies with the process).
 */
import { DecodeError, equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import {
  encodeBatch, nonceKey, peekSignedHeader, sealBatch, verifyHeaderSignature, type AdmittedSubmission, type LogRules, type SealedBatch,
} from '../core/batch.ts';
import {
  BadSignatureError, BatchRejectedError, ExpiredError, HaltedError, InvalidParamsError, NonceReplayedError, NotAllowedError, OverloadedError, TooLargeError,
} from '../core/errors.ts';
import { MAX_BATCH_BYTES, MAX_BATCH_TXS, MAX_SUBMISSION_BYTES, MAX_TX_BYTES, MAX_TXS_PER_SUBMISSION } from '../core/limits.ts';
import { buildReceipt, type Receipt } from '../core/receipt.ts';
import { recoverAddress, SignatureError } from '../core/signature.ts';
import { submissionDigest, submissionSize, type Submission } from '../core/submission.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { LogReader } from './log-reader.ts';
import type { Logger } from '../node/logger.ts';
import type { HeaderWatch } from './header-watch.ts';

export interface PrimaryOptions {
  readonly store: LogStore;
  /** Reads stored batches back, to answer a retried submission with its receipt. */
  readonly reader: LogReader;
  readonly rules: LogRules;
  readonly privateKey: Bytes;
  /** Sees every header this key signs or that gossip shows; a conflict halts the primary. */
  readonly watch: HeaderWatch;
  /** Sends a durable batch to the replicas; failures are logged, replicas catch up through sync. */
  readonly publish: (batch: Bytes) => Promise<void>;
  /** Back-pressure: transactions admitted but not yet durable, beyond which appends get OverloadedError. */
  readonly maxPendingTxs?: number;
  readonly maxPendingBytes?: number;
  readonly now?: () => number;
  readonly log: Logger;
}

interface Pending {
  readonly admitted: AdmittedSubmission;
  readonly size: number;
  /** nonceKey of the submission, as stored, and as a string for the in-flight map. */
  readonly nonceKey: Bytes;
  readonly nonceId: string;
  readonly resolve: (r: Receipt) => void;
  readonly reject: (e: Error) => void;
}

function validateLimits(s: Submission): number {
  if (s.transactions.length === 0) throw new InvalidParamsError('a submission needs at least one transaction');
  if (s.transactions.length > MAX_TXS_PER_SUBMISSION) throw new TooLargeError('transactions per submission', MAX_TXS_PER_SUBMISSION);
  for (const tx of s.transactions) if (tx.byteLength > MAX_TX_BYTES) throw new TooLargeError('transaction size in bytes', MAX_TX_BYTES);
  const size = submissionSize(s);
  if (size > MAX_SUBMISSION_BYTES) throw new TooLargeError('submission size in bytes', MAX_SUBMISSION_BYTES);
  return size;
}

export class Primary {
  private readonly opts: PrimaryOptions;
  private readonly now: () => number;
  private readonly maxPendingTxs: number;
  private readonly maxPendingBytes: number;
  private queue: Pending[] = [];
  /**
   * Submissions admitted but not yet durable, by nonce key: closes the window between the store lookup and the
   * write, and lets a retry of the same submission share the first one's receipt.
   */
  private readonly inflight = new Map<string, { digest: Bytes; receipt: Promise<Receipt> }>();
  private pendingTxs = 0;
  private pendingBytes = 0;
  /** The running group-commit loop, if any. */
  private sealing: Promise<void> | undefined;
  private haltReason: string | undefined;

  constructor(opts: PrimaryOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.maxPendingTxs = opts.maxPendingTxs ?? 200_000;
    this.maxPendingBytes = opts.maxPendingBytes ?? 64 * 1024 * 1024;
    opts.watch.onEquivocation(() => this.halt('a header signed with this primary key conflicts with another (equivocation)'));
    if (opts.watch.equivocated) this.halt('an equivocation proof against this primary key is on record');
  }

  /**
   * GossipSub validator on the primary's own topic. Copies of its batches need nothing, but a header signed
   * with its key that it did not produce means the key is used elsewhere: the watch catches and records it.
   */
  async onGossip(bytes: Uint8Array, fromPeer: string): Promise<'accept' | 'ignore' | 'reject'> {
    try {
      const signed = peekSignedHeader(bytes);
      verifyHeaderSignature(this.opts.rules, signed);
      if (await this.opts.watch.observe(signed, `gossip from ${fromPeer}`)) return 'accept';
      await this.opts.watch.remember(signed);
      return 'ignore';
    } catch (e) {
      if (e instanceof DecodeError || e instanceof BatchRejectedError) return 'reject';
      throw e;
    }
  }

  get halted(): string | undefined {
    return this.haltReason;
  }

  /** Admits a submission and resolves with its receipt once its batch is durable. */
  async append(s: Submission): Promise<Receipt> {
    if (this.haltReason) throw new HaltedError(this.haltReason);
    const size = validateLimits(s);
    if (this.pendingTxs + s.transactions.length > this.maxPendingTxs || this.pendingBytes + size > this.maxPendingBytes) {
      throw new OverloadedError();
    }
    const now = this.now();
    if (s.expiry !== 0 && s.expiry * 1000 < now) throw new ExpiredError(s.expiry, Math.floor(now / 1000));
    if (!this.opts.rules.isAllowed(s.sender)) throw new NotAllowedError(toHex(s.sender));
    const digest = submissionDigest(this.opts.rules.separator, s);
    let signer: Bytes;
    try {
      signer = recoverAddress(digest, s.signature);
    } catch (e) {
      throw new BadSignatureError((e as SignatureError).message);
    }
    if (!equalBytes(signer, s.sender)) throw new BadSignatureError(`signed by ${toHex(signer)}, not by the sender ${toHex(s.sender)}`);

    const key = nonceKey(s.sender, s.nonce);
    const k = Buffer.from(key).toString('latin1');
    const inflight = this.inflight.get(k);
    if (inflight) {
      // The same submission sent again while it is being sequenced (a client retry) shares its receipt.
      if (equalBytes(inflight.digest, digest)) return inflight.receipt;
      throw new NonceReplayedError(toHex(s.sender), s.nonce);
    }
    const receipt = this.admit(s, digest, key, k, size);
    this.inflight.set(k, { digest, receipt });
    return receipt;
  }

  private async admit(s: Submission, digest: Bytes, key: Bytes, k: string, size: number): Promise<Receipt> {
    this.pendingTxs += s.transactions.length;
    this.pendingBytes += size;
    let used: number | undefined;
    try {
      used = await this.lookupNonce(key);
    } catch (e) {
      this.release(k, s.transactions.length, size);
      throw e;
    }
    if (used !== undefined) {
      this.release(k, s.transactions.length, size);
      const again = await this.receiptFromLog(used, s, digest);
      if (again) return again;
      throw new NonceReplayedError(toHex(s.sender), s.nonce);
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.queue.push({ admitted: { submission: s, digest }, size, nonceKey: key, nonceId: k, resolve, reject });
      void this.drain();
    });
  }

  /**
   * The receipt of a submission already in the log at `height`, if the one presented is the very same
   * (same digest): a client that retries after a lost answer or a primary restart gets its receipt again.
   */
  private async receiptFromLog(height: number, s: Submission, digest: Bytes): Promise<Receipt | undefined> {
    const b = await this.opts.reader.batch(height);
    if (!b) return undefined;
    let firstSeq = b.batch.header.firstSeq;
    for (const [i, stored] of b.batch.submissions.entries()) {
      if (equalBytes(stored.sender, s.sender) && stored.nonce === s.nonce) {
        if (!equalBytes(b.entries[firstSeq - b.batch.header.firstSeq].submissionDigest, digest)) return undefined;
        return buildReceipt(b.batch, b.tree, (j) => b.tree.leaf(j), b.prevEntryHash, {
          digest, sender: s.sender, nonce: s.nonce, firstSeq, count: b.batch.submissions[i].transactions.length,
        });
      }
      firstSeq += stored.transactions.length;
    }
    return undefined;
  }

  /** Nonce lookups of the submissions admitted in one turn of the event loop share one LevelDB getMany. */
  private lookups: { key: Bytes; resolve: (h: number | undefined) => void; reject: (e: Error) => void }[] = [];

  private lookupNonce(key: Bytes): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      if (this.lookups.push({ key, resolve, reject }) === 1) setImmediate(() => this.flushLookups());
    });
  }

  private flushLookups(): void {
    const batch = this.lookups;
    this.lookups = [];
    this.opts.store.nonceHeights(batch.map((l) => l.key)).then(
      (heights) => batch.forEach((l, i) => l.resolve(heights[i])),
      (e: Error) => batch.forEach((l) => l.reject(e)),
    );
  }

  private release(nonce: string, txs: number, bytes: number): void {
    this.inflight.delete(nonce);
    this.pendingTxs -= txs;
    this.pendingBytes -= bytes;
  }

  /**
   * Takes the next batch's worth of submissions off the queue, refusing any that expired while queued.
   * `now` is the batch's own timestamp, so replicas, which judge expiry against it, reach the same verdict.
   */
  private takeBatch(now: number): Pending[] {
    const taken: Pending[] = [];
    let txs = 0;
    let bytes = 0;
    let i = 0;
    for (; i < this.queue.length; i++) {
      const p = this.queue[i];
      const s = p.admitted.submission;
      if (taken.length > 0 && (txs + s.transactions.length > MAX_BATCH_TXS || bytes + p.size > MAX_BATCH_BYTES - 1024)) break;
      if (s.expiry !== 0 && s.expiry * 1000 < now) {
        this.release(p.nonceId, s.transactions.length, p.size);
        p.reject(new ExpiredError(s.expiry, Math.floor(now / 1000)));
        continue;
      }
      taken.push(p);
      txs += s.transactions.length;
      bytes += p.size;
    }
    this.queue = this.queue.slice(i);
    return taken;
  }

  /** Group commit: one batch is being written at a time; whatever arrives meanwhile forms the next batch. */
  private drain(): Promise<void> {
    // `finally` runs as a microtask, after the assignment, even when the loop finishes without awaiting.
    this.sealing ??= this.sealLoop()
      .catch((e: Error) => this.halt(`internal error while sealing: ${e.message}`))
      .finally(() => { this.sealing = undefined; });
    return this.sealing;
  }

  private async sealLoop(): Promise<void> {
    while (this.queue.length > 0 && !this.haltReason) {
      const timestamp = Math.max(this.now(), this.opts.store.tip.timestamp);
      const batch = this.takeBatch(timestamp);
      if (batch.length > 0) await this.commit(batch, timestamp);
    }
  }

  /** Refuses new work, lets the batch being written finish, and refuses what was still queued. */
  async stop(): Promise<void> {
    this.haltReason ??= 'node stopping';
    await this.sealing;
    this.halt(this.haltReason);
  }

  private async commit(batch: Pending[], timestamp: number): Promise<void> {
    const { store, rules, privateKey } = this.opts;
    const prevTip = store.tip;
    let sealed: SealedBatch;
    let bytes: Bytes;
    try {
      sealed = sealBatch(rules, prevTip, batch.map((p) => p.admitted), timestamp, privateKey);
      if (await this.opts.watch.observe(sealed.batch, 'own batch')) {
        this.halt('this key already signed another header for this height', [...batch, ...this.queue]);
        return;
      }
      bytes = encodeBatch(sealed.batch);
      await store.append({ bytes, prevTip, tip: sealed.tip, nonceKeys: batch.map((p) => p.nonceKey) });
    } catch (e) {
      // The signed header never left the process; stop here rather than risk signing this height again.
      this.halt(`storage write failed: ${(e as Error).message}`, [...batch, ...this.queue]);
      return;
    }
    // A header signed with this key for the same height, met while the batch was being written, is a proof.
    // The batch is durable whatever happens here, so its receipts are answered regardless.
    await this.opts.watch.stored(sealed.batch, 'own batch').catch((e: Error) => this.opts.log.error('equivocation check failed', { error: e.message }));
    this.opts.publish(bytes).catch((e: Error) => this.opts.log.warn('publish failed; replicas will sync', { height: sealed.tip.height, error: e.message }));

    let seq = sealed.batch.header.firstSeq;
    for (const p of batch) {
      const s = p.admitted.submission;
      this.release(p.nonceId, s.transactions.length, p.size);
      p.resolve(buildReceipt(sealed.batch, sealed.tree, (i) => sealed.tree.leaf(i), prevTip.headHash, {
        digest: p.admitted.digest, sender: s.sender, nonce: s.nonce, firstSeq: seq, count: s.transactions.length,
      }));
      seq += s.transactions.length;
    }
  }

  /** Stops sequencing for good (until restart); everything queued is refused. */
  halt(reason: string, pending: Pending[] = this.queue): void {
    if (!this.haltReason) this.opts.log.error('primary halted', { reason });
    this.haltReason ??= reason;
    const error = new HaltedError(this.haltReason);
    for (const p of pending) {
      this.release(p.nonceId, p.admitted.submission.transactions.length, p.size);
      p.reject(error);
    }
    this.queue = [];
  }
}
