/**
 * The primary: admits submissions, seals them into batches (group commit), makes each batch durable, then
 * publishes it and answers every submitter with a receipt.
 *
 * Ordering guarantees, in the order they happen for a batch:
 *   seal + sign -> synced write -> tip advances -> publish -> receipts.
 * The stages are pipelined: while one synced write is in flight, the next batches are sealed and signed on top
 * of the batches being written (at most SEALED_AHEAD of them), and all of them then go to the disk in one
 * synced write. A signature leaves the process only after its batch is durable, batches are published and
 * answered in height order, and a batch is sealed only on top of the stored tip or of batches that will reach
 * the disk before it or with it, or not at all: a write that fails drops every batch sealed on top of it. So
 * across crashes and restarts no height is ever signed twice with different contents (a batch signed but not
 * written is never seen by anyone and dies with the process).
 *
 * Every admitted submission is answered, always: with its receipt, or with the error that stopped it. Work
 * enters the queue only through `enqueue`, which refuses it while the primary cannot seal (halted, or its store
 * in a fault state), and every way the seal loop ends answers whatever is still queued.
 *
 * A storage fault (disk full, too many open files) is transient: appends get StorageUnavailableError while the
 * store recovers by itself (LogStore), and sealing then resumes on the tip read back from the disk. The batch
 * whose write failed is dropped, and so are those sealed on top of it; their signatures never left the process
 * (publish and receipts come after the write), and if the write did reach the disk after all, its last batch is
 * the recovered tip and is built on, so no signed height is ever contradicted. Only an equivocation halts for good.
 */
import { bytesKey, DecodeError, equalBytes, type Bytes } from '../core/bytes.ts';
import {
  encodeBatch, nonceKey, peekSignedHeader, sealBatch, verifyHeaderSignature, type AdmittedSubmission, type SealedBatch, type Tip,
} from '../core/batch.ts';
import {
  BatchRejectedError, HaltedError, NotReadyError, OverloadedError, SequencerError, StorageUnavailableError, TooLargeError,
} from '../core/errors.ts';
import type { Justification } from '../core/justification.ts';
import { addressFromPrivateKey } from '../core/signature.ts';
import { MAX_BATCH_BYTES, MAX_BATCH_TXS } from '../core/limits.ts';
import { buildReceipt, type Receipt } from '../core/receipt.ts';
import { admissionError, expiryViolation, judgeWithinLimits, limitViolation, nonceViolation, type LogRules } from '../core/rules.ts';
import { submissionDigest, submissionSize, type Submission } from '../core/submission.ts';
import { StoreFaultError, type AppendBatch, type LogStore } from '../storage/log-store.ts';
import type { LogReader } from './log-reader.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';
import { NO_METRICS, type NodeMetrics } from './metrics.ts';

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
  /**
   * Back-pressure: transactions (bytes) admitted but not yet durable, beyond which appends get OverloadedError.
   * A single submission larger than the bound could never be admitted: it gets TooLargeError instead.
   */
  readonly maxPendingTxs?: number;
  /**
   * How long a small queue may wait, from its first submission's arrival, before it is sealed (default 0: at once).
   * At low load every submission otherwise becomes a batch of its own, and the per-batch work (a header signature,
   * its recovery on every replica, a synced write, a gossip message per peer) is paid per submission.
   */
  readonly sealLingerMs?: number;
  readonly maxPendingBytes?: number;
  /** Stores sealed batches in one synced write (default LogStore.appendAll; the leader's Voter votes with it). */
  readonly appendAll?: (appends: readonly AppendBatch[]) => Promise<void>;
  /**
   * Finality's leader window (roles/finality.ts): the batch at a height is sealed only once it allows it; it calls
   * back when the window may have opened. Default: always open (no finality to wait for).
   */
  readonly window?: SealWindow;
  /** The view its headers are of (the view it leads; default 0). */
  readonly view?: number;
  /**
   * The justification its first batch carries (docs/protocol.md §Batch, wire form 2): the first header of a view
   * after view 0 shows the timeout certificate that ended the view before and the certificate of its highest lock.
   */
  readonly justification?: Justification;
  readonly now?: () => number;
  readonly log: Logger;
  /** Where sequenced batches are counted (default: nowhere). */
  readonly metrics?: NodeMetrics;
}

export interface SealWindow {
  allowsSealing(height: number): boolean;
  onWindowOpen(listener: () => void): () => void;
}

/**
 * Transactions and submissions per batch the primary seals, at most (the protocol allows MAX_BATCH_TXS): sealing
 * a batch (a hash per transaction) and answering it (a receipt per submission) are each one synchronous turn of
 * the event loop, and smaller batches keep those turns short; several of them still share one synced write.
 */
const SEAL_MAX_TXS = Math.min(4096, MAX_BATCH_TXS);
const SEAL_MAX_SUBMISSIONS = 1024;
/** Batches sealed ahead of the disk: how far sealing may run ahead of the write in flight. */
const SEALED_AHEAD = 4;

/** A batch sealed and signed, not yet durable: its signature stays in this process until it is. */
interface SealedWork {
  readonly batch: readonly Pending[];
  readonly sealed: SealedBatch;
  /** The tip it is sealed on. */
  readonly prevTip: Tip;
  readonly bytes: Bytes;
}

interface Pending {
  readonly admitted: AdmittedSubmission;
  readonly size: number;
  /** nonceKey of the submission, as stored, and as a string for the in-flight map. */
  readonly nonceKey: Bytes;
  readonly nonceId: string;
  readonly resolve: (r: Receipt) => void;
  readonly reject: (e: Error) => void;
  /** Set once answered (see Primary.answer), so that no path answers twice or releases twice. */
  answered: boolean;
}

/** A failed read or write of the store, as the error a client gets (retry later). */
function storageError(e: unknown, message: string): unknown {
  return e instanceof StoreFaultError ? new StorageUnavailableError(message, e.message) : e;
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
  /** Batches sealed and signed, in height order, waiting for the write in flight to finish. */
  private ahead: SealedWork[] = [];
  /** The batches of the synced write in flight (empty when none is). */
  private writing: SealedWork[] = [];
  /** Settles when the latest write has been answered; `published`, when every durable batch has been (never rejects). */
  private writeDone: Promise<void> = Promise.resolve();
  private published: Promise<void> = Promise.resolve();
  private stepScheduled = false;
  private readonly sealLingerMs: number;
  /** When the queue last became non-empty (ms, this.now()): what the linger counts from. */
  private queuedSince = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private haltReason: string | undefined;
  /** Set by stop(): a restart is not a halt, so what arrives meanwhile is told to retry (NotReadyError), not to give up. */
  private stopping = false;
  private readonly unsubscribe: (() => void)[];
  /** The address of its key: only a proof against it halts this primary. */
  private readonly address: Bytes;
  /** Hash of the tip its view starts on: a batch sealed on it is the view's first and carries the justification. */
  private readonly viewBase: Bytes;

  constructor(opts: PrimaryOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.viewBase = opts.store.tip.headerHash;
    this.address = addressFromPrivateKey(opts.privateKey);
    this.maxPendingTxs = opts.maxPendingTxs ?? 200_000;
    this.sealLingerMs = opts.sealLingerMs ?? 0;
    this.maxPendingBytes = opts.maxPendingBytes ?? 64 * 1024 * 1024;
    this.unsubscribe = [
      // Only a proof against this key halts it (in a log of several validators, one against another view's leader does not).
      opts.watch.onEquivocation((p) => { if (equalBytes(p.signer, this.address)) this.halt('a header signed with this primary key conflicts with another (equivocation)'); }),
      opts.store.onFault((reason) => opts.log.error('storage fault: refusing appends until the store takes writes again', { reason })),
      opts.store.onRecovered((tip) => opts.log.warn('storage writable again: sequencing resumes on the stored tip', { height: tip.height })),
    ];
    if (opts.window) this.unsubscribe.push(opts.window.onWindowOpen(() => { if (this.queue.length > 0) this.drain(); }));
    if (opts.watch.convicted(this.address)) this.halt('an equivocation proof against this primary key is on record');
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
      if (e instanceof StoreFaultError) return 'ignore'; // the relaying peer did nothing wrong
      throw e;
    }
  }

  get halted(): string | undefined {
    return this.haltReason;
  }

  /** Batches sealed and signed that wait for the write in flight (their signatures are still only in memory). */
  get sealedAhead(): number {
    return this.ahead.length;
  }

  /** Admitted submissions waiting to be sealed. */
  get queuedSubmissions(): number {
    return this.queue.length;
  }

  /** Why nothing can be sealed now, as the error a submission gets; undefined when sealing can go on. */
  private refusal(): SequencerError | undefined {
    if (this.haltReason !== undefined) return new HaltedError(this.haltReason);
    if (this.stopping) return new NotReadyError('the primary is stopping: send the same signed submission again once it is back');
    const fault = this.opts.store.fault;
    if (fault !== undefined) return new StorageUnavailableError('the store does not take writes until it recovers', fault);
    return undefined;
  }

  /**
   * Admits a submission and resolves with its receipt once its batch is durable. The rule book (core/rules.ts)
   * judges it; the protocol limits come first, so that an oversized submission is "too large", never "overloaded",
   * and the pending bound is checked before the costly signature recovery.
   */
  async append(s: Submission): Promise<Receipt> {
    const refused = this.refusal();
    if (refused) throw refused;
    const overLimit = limitViolation(s);
    if (overLimit) throw admissionError(overLimit);
    const size = submissionSize(s);
    if (s.transactions.length > this.maxPendingTxs) throw new TooLargeError('transactions in one submission (the primary\'s pending bound)', this.maxPendingTxs);
    if (size > this.maxPendingBytes) throw new TooLargeError('submission size in bytes (the primary\'s pending bound)', this.maxPendingBytes);
    if (this.pendingTxs + s.transactions.length > this.maxPendingTxs || this.pendingBytes + size > this.maxPendingBytes) {
      throw new OverloadedError();
    }
    const digest = submissionDigest(this.opts.rules.separator, s);
    const violation = judgeWithinLimits(this.opts.rules, s, { at: this.now(), digest });
    if (violation) throw admissionError(violation);

    const key = nonceKey(s.sender, s.nonce);
    const k = bytesKey(key);
    const inflight = this.inflight.get(k);
    if (inflight) {
      // The same submission sent again while it is being sequenced (a client retry) shares its receipt.
      if (equalBytes(inflight.digest, digest)) return inflight.receipt;
      throw admissionError(nonceViolation(s, 'in-batch')!); // another submission with this nonce is being sealed
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
      throw storageError(e, 'could not look the nonce up');
    }
    if (used !== undefined) {
      this.release(k, s.transactions.length, size);
      let again: Receipt | undefined;
      try {
        again = await this.receiptFromLog(used, s, digest);
      } catch (e) {
        throw storageError(e, 'could not read the batch that used this nonce');
      }
      if (again) return again;
      throw admissionError(nonceViolation(s, used)!);
    }
    return new Promise<Receipt>((resolve, reject) => {
      this.enqueue({ admitted: { submission: s, digest }, size, nonceKey: key, nonceId: k, resolve, reject, answered: false });
    });
  }

  /** The only way into the queue: refused at once while nothing can be sealed, else sealed by the running loop. */
  private enqueue(p: Pending): void {
    const refused = this.refusal();
    if (refused) {
      this.answer(p, refused);
      return;
    }
    if (this.queue.length === 0) this.queuedSince = this.now();
    this.queue.push(p);
    this.drain();
  }

  /** Answers a queued submission, once, and releases what it held of the pending bound. */
  private answer(p: Pending, outcome: Receipt | Error): void {
    if (p.answered) return;
    p.answered = true;
    this.release(p.nonceId, p.admitted.submission.transactions.length, p.size);
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }

  /** Answers everything still queued with `error`. */
  private refuseQueued(error: Error): void {
    const queued = this.queue;
    this.queue = [];
    for (const p of queued) this.answer(p, error);
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
      if (taken.length >= SEAL_MAX_SUBMISSIONS) break;
      if (taken.length > 0 && (txs + s.transactions.length > SEAL_MAX_TXS || bytes + p.size > MAX_BATCH_BYTES - 1024)) break;
      const expired = expiryViolation(s, now);
      if (expired) {
        this.answer(p, admissionError(expired));
        continue;
      }
      taken.push(p);
      txs += s.transactions.length;
      bytes += p.size;
    }
    this.queue = i === this.queue.length ? [] : this.queue.slice(i);
    this.queuedSince = 0; // what is left has waited for this batch already: it is sealed next, without lingering
    return taken;
  }

  /** The tip the next batch is sealed on: the newest batch sealed, being written, or stored. */
  private get sealTip(): Tip {
    const last = this.ahead.at(-1) ?? this.writing.at(-1);
    return last ? last.sealed.tip : this.opts.store.tip;
  }

  /**
   * Schedules one pipeline step on the next turn of the event loop: what is enqueued until then (every
   * submission whose nonce lookup landed in this turn) goes into one batch, and HTTP and gossip get served
   * between steps.
   */
  private drain(): void {
    // A lingering queue does not hold back batches already sealed once the disk is free for them.
    const writable = this.lingerTimer !== undefined && this.ahead.length > 0 && this.writing.length === 0;
    if (this.stepScheduled && !writable) return;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.stepScheduled = true;
    setImmediate(() => this.step());
  }

  /**
   * One step of the pipeline, synchronous: seals one batch on top of the newest one (if the queue holds work
   * and fewer than SEALED_AHEAD batches wait for the disk), and hands what is sealed to the store unless a
   * write is in flight. Goes on in the next turn while there is work it may do; a finished write wakes it.
   */
  private step(): void {
    this.stepScheduled = false;
    this.lingerTimer = undefined;
    const refused = this.refusal();
    if (refused) {
      this.refuseQueued(refused);
      this.dropAhead(refused);
      return;
    }
    const linger = this.queue.length > 0 ? this.lingerLeft() : 0;
    if (this.queue.length > 0 && this.ahead.length < SEALED_AHEAD && linger === 0 && this.windowOpen()) this.sealNext();
    if (this.writing.length === 0 && this.ahead.length > 0) this.writeDone = this.writeAhead();
    // A closed window is reopened by finality (onWindowOpen), not by polling.
    if (this.queue.length > 0 && this.ahead.length < SEALED_AHEAD && this.windowOpen()) {
      if (linger > 0) {
        this.stepScheduled = true;
        this.lingerTimer = setTimeout(() => this.step(), linger);
      } else this.drain();
    }
  }

  /** Ms the queue still waits before it is sealed: only a small queue lingers, and never past sealLingerMs. */
  private lingerLeft(): number {
    if (this.sealLingerMs <= 0) return 0;
    const left = this.queuedSince + this.sealLingerMs - this.now();
    if (left <= 0) return 0;
    let txs = 0;
    for (const p of this.queue) {
      txs += p.admitted.submission.transactions.length;
      if (txs * 2 >= SEAL_MAX_TXS) return 0;
    }
    return Math.ceil(left);
  }

  /** Whether finality lets the next batch be sealed (the leader's window; always without finality). */
  private windowOpen(): boolean {
    return this.opts.window?.allowsSealing(this.sealTip.height + 1) ?? true;
  }

  /** Seals and signs the next batch off the queue; it stays in this process until its write is durable. */
  private sealNext(): void {
    const tip = this.sealTip;
    const timestamp = Math.max(this.now(), tip.timestamp);
    const batch = this.takeBatch(timestamp);
    if (batch.length === 0) return;
    try {
      const sealed = sealBatch(this.opts.rules, tip, batch.map((p) => p.admitted), timestamp, this.opts.privateKey, this.opts.view);
      // The first header of the view is the one sealed on the tip the view started from (again, if a write failed).
      const justification = equalBytes(tip.headerHash, this.viewBase) ? this.opts.justification : undefined;
      this.ahead.push({ batch, sealed, prevTip: tip, bytes: encodeBatch(justification ? { ...sealed.batch, justification } : sealed.batch) });
    } catch (e) {
      this.halt(`internal error while sealing: ${(e as Error).message}`);
      this.answerAll(batch, new HaltedError(this.haltReason!));
    }
  }

  /** Answers every submission of the batches sealed but not yet written with `error`, and forgets them. */
  private dropAhead(error: Error): void {
    const dropped = this.ahead;
    this.ahead = [];
    this.answerGroup(dropped, error);
  }

  private answerAll(batch: readonly Pending[], error: Error): void {
    for (const p of batch) this.answer(p, error);
  }

  /** Answers every submission of every batch of a write's group with `error`. */
  private answerGroup(group: readonly SealedWork[], error: Error): void {
    for (const g of group) this.answerAll(g.batch, error);
  }

  /**
   * Writes every batch sealed so far in one synced write, then publishes and answers them in order. One write
   * is in flight at a time (so batches reach the disk in height order and a failed write is the last one
   * tried); the next batches are sealed meanwhile. Never rejects; every submission it takes is answered.
   */
  private async writeAhead(): Promise<void> {
    const group = this.ahead;
    this.ahead = [];
    this.writing = group;
    try {
      for (const s of group) {
        if (await this.opts.watch.observe(s.sealed.batch, 'own batch')) {
          this.halt('this key already signed another header for this height');
          this.answerGroup(group, new HaltedError(this.haltReason!));
          return;
        }
      }
      // Stopped or halted while the headers were checked: nothing of this group has left the process.
      const refused = this.refusal();
      if (refused) {
        this.answerGroup(group, refused);
        return;
      }
      try {
        const appends = group.map((s) => ({ bytes: s.bytes, prevTip: s.prevTip, tip: s.sealed.tip, nonceKeys: s.batch.map((p) => p.nonceKey) }));
        await (this.opts.appendAll ? this.opts.appendAll(appends) : this.opts.store.appendAll(appends));
      } catch (e) {
        if (!(e instanceof StoreFaultError)) throw e;
        // The signed headers never left the process, so these batches are dropped, and so are those sealed on
        // top of them. Whether the write reached the disk is known only once the store has recovered (its tip
        // then says): the same submission sent again finds out.
        const error = new StorageUnavailableError(
          'the batch holding this submission could not be written and may or may not be in the log: send the same signed submission again',
          e.message,
        );
        this.answerGroup(group, error);
        this.dropAhead(error);
        return;
      }
      this.writing = [];
      if (this.ahead.length > 0 || this.queue.length > 0) this.drain(); // the next write starts while these are answered
      // Durable: published and answered in height order, whatever happens meanwhile (a halt, a stop). The chain
      // itself never rejects, so a failure here (a bug: it halts below) cannot stop later batches being answered.
      const answered = this.published.then(() => this.publishAll(group));
      this.published = answered.catch(() => {});
      await answered;
    } catch (e) {
      this.halt(`internal error while sealing: ${(e as Error).message}`);
      this.answerGroup(group, new HaltedError(this.haltReason!));
    } finally {
      if (this.writing === group) this.writing = [];
      // Whatever waited behind this write (queued past the sealed-ahead bound) is taken up now: sealed, or refused
      // while the store recovers. Nothing else would wake the pipeline for it.
      if (this.writing.length === 0 && (this.queue.length > 0 || this.ahead.length > 0)) this.drain();
    }
  }

  /** Publishes durable batches and answers their submissions with receipts, one batch per turn of the event loop. */
  private async publishAll(group: readonly SealedWork[]): Promise<void> {
    for (const [i, s] of group.entries()) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      const { sealed, prevTip, batch } = s;
      (this.opts.metrics ?? NO_METRICS).sequenced(sealed.tip.nextSeq - prevTip.nextSeq, batch.length);
      // A header signed with this key for the same height, met while the batch was being written, is a proof.
      // The batch is durable whatever happens here, so its receipts are answered regardless.
      await this.opts.watch.stored(sealed.batch, 'own batch').catch((e: Error) => this.opts.log.error('equivocation check failed', { error: e.message }));
      this.opts.publish(s.bytes).catch((e: Error) => this.opts.log.warn('publish failed; replicas will sync', { height: sealed.tip.height, error: e.message }));
      let seq = sealed.batch.header.firstSeq;
      for (const p of batch) {
        const sub = p.admitted.submission;
        this.answer(p, buildReceipt(sealed.batch, sealed.tree, (j) => sealed.tree.leaf(j), prevTip.headHash, {
          digest: p.admitted.digest, sender: sub.sender, nonce: sub.nonce, firstSeq: seq, count: sub.transactions.length,
        }));
        seq += sub.transactions.length;
      }
    }
  }

  /**
   * Refuses new work and what is queued or sealed but unwritten, lets the write in flight finish, and waits
   * until its batches are published and answered.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.lingerTimer);
    for (const u of this.unsubscribe) u();
    const refused = this.refusal()!;
    this.refuseQueued(refused);
    this.dropAhead(refused);
    await this.writeDone;
    await this.published;
  }

  /** Stops sequencing for good (until restart); everything queued is refused. */
  halt(reason: string): void {
    if (!this.haltReason) this.opts.log.error('primary halted', { reason });
    this.haltReason ??= reason;
    this.refuseQueued(new HaltedError(this.haltReason));
    this.dropAhead(new HaltedError(this.haltReason));
  }
}
