/**
 * The replica: mirrors the primary's log, storing a batch only after verifying it completely against its own
 * tip (core/batch.ts verifyBatch) and checking every nonce against its own history. Batches arrive by gossip
 * or, for gaps and late starts, by ranged fetches from any peer; both paths go through `handle`, which also
 * shows every primary-signed header to the HeaderWatch. Once the primary is caught equivocating, nothing more
 * is stored. While the store is in a storage fault (disk full, ...: LogStore) nothing is stored either; once it
 * takes writes again the replica catches up from the tip on disk by itself. Nor while its owner says not to
 * (`mayStore`: the primary's bond does not back it). Whenever it does not store, it still judges every header
 * it meets, so that an equivocation is caught (and spread) all the same.
 *
 * Verification and writing overlap: while one synced write is in flight, the next batches are verified on top of
 * the verified (not yet durable) tip, their nonces checked against history and against the batches still waiting
 * for their write, and the next write takes all that wait, in order, at once (LogStore.appendAll: one fsync, so a
 * backlog after a slow write drains in one write instead of one per batch). A batch is stored only with or after
 * its predecessor, and answered (gossip ACCEPT) only once durable. When a write fails, nothing of it is stored,
 * and every batch verified on top of it is dropped unstored: never a batch above a gap (sync fetches them again
 * once the store takes writes).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DecodeError, bytesKey, equalBytes } from '../core/bytes.ts';
import { decodeBatch, peekSignedHeader, verifyBatchBody, verifyHeaderSignature, type DecodedBatch, type Tip } from '../core/batch.ts';
import type { SignedHeader } from '../core/header.ts';
import { describeViolation, nonceViolation, type LogRules } from '../core/rules.ts';
import type { Bytes } from '../core/bytes.ts';
import { BatchNotYetValidError, BatchRejectedError } from '../core/errors.ts';
import { StoreFaultError, type AppendBatch, type LogStore } from '../storage/log-store.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';
import { NO_METRICS, type NodeMetrics, type VerificationFailure } from './metrics.ts';
import type { Verdict } from './role.ts';
import type { ViewGate } from './view-gate.ts';


/** Where missing batches come from: any peer that serves the sync protocol. */
export interface BatchSource {
  /** Peers to ask, best first. */
  peers(): string[];
  /** Batches from `fromHeight` on, in order, as the peer sends them (bounded by the protocol). */
  fetch(peer: string, fromHeight: number): AsyncIterable<Uint8Array>;
}

export interface ReplicaOptions {
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly source: BatchSource;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  readonly now?: () => number;
  /** How often to poll peers for batches gossip may have lost. */
  readonly syncIntervalMs?: number;
  /** Whether batches may be stored now (default: always); headers are judged either way. */
  readonly mayStore?: () => boolean;
  /** Where refused batches and sync requests are counted (default: nowhere). */
  readonly metrics?: NodeMetrics;
  /** Most bytes of batches one synced write takes, at least one batch (default MAX_WRITE_BYTES). */
  readonly maxWriteBytes?: number;
  /** Stores verified batches in one synced write (default LogStore.appendAll; a validator's Voter votes with it). */
  readonly appendAll?: (appends: readonly AppendBatch[]) => Promise<void>;
  /** Judges headers of another view than the chain tip's (logs of more than one validator): view changes. */
  readonly views?: ViewGate;
}

interface Outcome {
  readonly verdict: Verdict;
  readonly stored: boolean;
}

const IGNORE: Outcome = { verdict: 'ignore', stored: false };
const STORED: Outcome = { verdict: 'accept', stored: true };

/** What judging a batch comes to: an outcome now, or the outcome of the write it waits for. */
type Admission = { readonly now: Outcome } | { readonly durable: Promise<Outcome> };

/** A verified batch's write, with its nonce keys as strings (bytesKey), computed once. */
interface VerifiedWrite {
  readonly append: AppendBatch;
  readonly nonces: readonly string[];
}

/** A verified batch waiting for (or in) its synced write. */
interface PendingWrite {
  readonly append: AppendBatch;
  readonly signed: SignedHeader;
  readonly origin: string;
  /** bytesKey of its nonce keys, held in `pendingNonces` until the batch is durable or dropped. */
  readonly nonces: readonly string[];
  readonly settle: (outcome: Outcome) => void;
}

/** How many verified batches may wait for a write before verification waits too: bounds what a slow disk holds. */
const MAX_BATCHES_AHEAD = 64;
/**
 * Most bytes of batches one write takes (at least one batch): a backlog of large batches is written in a few
 * writes of this size rather than one that LevelDB would have to take whole (memtable, log) at once.
 */
const MAX_WRITE_BYTES = 8 * 1024 * 1024;

export class Replica {
  private readonly opts: ReplicaOptions;
  private readonly now: () => number;
  private readonly metrics: NodeMetrics;
  /** Serialises every read-verify of the (verified) tip, and the header checks that depend on it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Verified batches not yet written, in height order, each on the one before (the first on the write in flight). */
  private waiting: PendingWrite[] = [];
  /** The batches of the write in flight. */
  private inWrite: readonly PendingWrite[] = [];
  /** The writer: writes the waiting batches until none waits (`writerActive` while it runs). */
  private writing: Promise<void> = Promise.resolve();
  private writerActive = false;
  /** The tip after the last verified batch while any batch waits for (or is in) its write, and its header's view. */
  private verifiedTip: Tip | undefined;
  private verifiedView = 0;
  /** The view of the stored tip's header, by its hash (read once per tip). */
  private storedTipView: { readonly headerHash: Bytes; readonly view: number } | undefined;
  /** Nonce keys (bytesKey) of the batches verified but not yet durable, with their heights. */
  private readonly pendingNonces = new Map<string, number>();
  /** Bumped whenever pending batches are dropped, so that a verification that straddled it does not enqueue. */
  private generation = 0;
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  /** Where the next sync request starts, when below the tip (see catchUp). */
  private rewindTo: number | undefined;
  /** Sync rounds started: which peer a round asks first. */
  private rounds = 0;
  /** The view of the last header whose signature checked but whose batch was not valid yet by this clock, and when. */
  private future: { readonly view: number; readonly at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly unsubscribe: (() => void)[];

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.metrics = opts.metrics ?? NO_METRICS;
    const { store, log } = opts;
    this.unsubscribe = [
      store.onFault((reason) => log.error('storage fault: not storing batches until the store takes writes again', { reason })),
      store.onRecovered((tip) => {
        log.warn('storage writable again: catching up from the stored tip', { height: tip.height });
        void this.catchUp();
      }),
    ];
  }

  start(): void {
    const every = this.opts.syncIntervalMs ?? 1000;
    this.timer = setInterval(() => void this.catchUp(), every);
    this.timer.unref();
    void this.catchUp();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    clearInterval(this.timer);
    await this.syncing;
    await this.queue.catch(() => {});
    await this.writing;
  }

  /**
   * Runs `op` between two batches: nothing is being judged or written meanwhile (a store change under the pipeline,
   * such as dropping a branch no quorum follows), then syncs from the tip it leaves.
   */
  async between(op: () => Promise<void>): Promise<void> {
    await this.serialized(async () => {
      while (this.writerActive) await this.writing;
      await op();
    });
    void this.catchUp();
  }

  /** Resolves once no batch is being judged or written (a new leader truncates its store only then). */
  async idle(): Promise<void> {
    await this.queue.catch(() => {});
    while (this.writerActive) await this.writing;
  }

  /** GossipSub validator: the verdict decides propagation and scores the relaying peer. */
  async onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return (await this.handle(bytes, `gossip from ${fromPeer}`)).verdict;
  }

  /**
   * Whether, within the last `ms`, a batch of `view` signed by its leader was not valid yet by this node's clock (its
   * timestamp too far ahead): the leader's work this node cannot take, which counts as work pending (a leader whose
   * clock runs ahead is timed out like one that does not seal).
   */
  refusedFutureBatchSince(view: number, ms: number): boolean {
    return this.future !== undefined && this.future.view === view && performance.now() - this.future.at < ms;
  }

  /** The tip the next batch must follow: the last verified one, durable or not. */
  private get headTip(): Tip {
    return this.verifiedTip ?? this.opts.store.tip;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Judges one encoded batch: its header against everything held (equivocation), then, if it is the tip's
   * successor, the whole batch; resolves once it is stored (or known not to be). Never throws for bad input:
   * invalid data yields 'reject'.
   */
  async handle(bytes: Uint8Array, origin: string): Promise<Outcome> {
    const admission = await this.admit(bytes, origin);
    return 'now' in admission ? admission.now : admission.durable;
  }

  /** Verifies a batch in turn (serialised); a verified one is queued for the next write, not waited for. */
  private admit(bytes: Uint8Array, origin: string): Promise<Admission> {
    return this.serialized(async () => {
      const { store, watch, log } = this.opts;
      if (watch.halted) return { now: IGNORE };
      // The verification stage reached, for the failure metric's bounded label (the reason's text is logged).
      let stage: VerificationFailure = 'malformed';
      let signedView = -1;
      try {
        const signed = peekSignedHeader(bytes);
        // A leader caught equivocating: nothing it signs is stored (its view is timed out: §View change, T3).
        if (this.refusesSigner(signed)) return { now: IGNORE };
        stage = 'header_signature';
        const hash = verifyHeaderSignature(this.opts.rules, signed);
        signedView = signed.header.view;
        stage = 'batch_body';
        // Evidence of equivocation is accepted so that it spreads and every honest node can catch it.
        if (await watch.observe(signed, origin)) return { now: { verdict: 'accept', stored: false } };
        while (this.waiting.length >= MAX_BATCHES_AHEAD && this.writerActive) await this.writing;
        // One batch per turn of the event loop: batches verified back to back (a backlog, a sync response) would
        // otherwise chain only through promises already resolved (the nonce filter rarely reads the disk), and
        // starve timers, sockets and RPC for as long as the whole backlog takes.
        await nextTurn();
        let tip = this.headTip;
        if (this.opts.views && signed.header.view !== await this.tipView()) {
          // Another view than the chain's: the gate may truncate the store, so no write may be in flight.
          while (this.writerActive) await this.writing;
          const decision = await this.opts.views.judge(signed.header, bytes, this.headTip, await this.tipView());
          if (decision.kind === 'ignore') {
            if (decision.sync) void this.catchUp(decision.from);
            return { now: IGNORE };
          }
          tip = this.headTip;
        }
        const generation = this.generation;
        const height = signed.header.height;
        if (height <= tip.height) {
          // Not on disk yet, so the watch does not hold it: a different header for its height is judged here.
          const pending = this.pendingAt(height);
          if (pending && !equalBytes(pending.append.tip.headerHash, hash)) {
            await watch.remember(pending.signed, pending.origin);
            if (await watch.remember(signed, origin)) return { now: { verdict: 'accept', stored: false } };
          }
          return { now: IGNORE };
        }
        // Not stored now (a storage fault, or not allowed), and not the relay's fault: sync fetches it again
        // later. Its header is kept, so that a different one for its height is still caught.
        if (store.fault !== undefined || this.opts.mayStore?.() === false) {
          await watch.remember(signed);
          return { now: IGNORE };
        }
        if (height > tip.height + 1) {
          await watch.remember(signed);
          log.debug('gap detected, syncing', { height, tip: tip.height, origin });
          void this.catchUp();
          return { now: IGNORE };
        }
        let verified: VerifiedWrite;
        try {
          verified = await this.verify(bytes, decodeBatch(bytes), hash, tip, () => { stage = 'nonce_replayed'; });
        } catch (e) {
          await watch.remember(signed); // the primary did sign this header, whatever the relay did to the body
          throw e;
        }
        // Its base was dropped meanwhile (a failed write): it cannot be stored on it; sync brings it back.
        const head = this.headTip;
        if (generation !== this.generation || head.height !== tip.height || !equalBytes(head.headerHash, tip.headerHash)) {
          await watch.remember(signed);
          return { now: IGNORE };
        }
        return { durable: this.enqueueWrite(verified, signed, origin) };
      } catch (e) {
        if (e instanceof BatchNotYetValidError) {
          if (signedView >= 0) this.future = { view: signedView, at: performance.now() };
          this.metrics.verificationFailed('not_yet_valid');
          log.warn('batch not valid yet by this clock; will retry', { origin, reason: e.message });
          return { now: IGNORE };
        }
        if (e instanceof BatchRejectedError || e instanceof DecodeError) {
          this.metrics.verificationFailed(e instanceof DecodeError ? 'malformed' : stage);
          log.warn('rejected batch', { origin, reason: e.message });
          return { now: { verdict: 'reject', stored: false } };
        }
        if (e instanceof StoreFaultError) {
          // A failed write is reported once, by the store's fault listener; a failed read only here.
          if (store.fault === undefined) log.warn('storage read failed; will retry', { origin, error: e.message });
          return { now: IGNORE };
        }
        throw e;
      }
    });
  }

  /**
   * Verifies the successor of `tip` (its header signature already checked) and returns its write; calls
   * `checkingNonces` once the batch itself verified, before its nonces are checked against history and against
   * the batches still waiting for their write. Throws BatchRejectedError.
   */
  private async verify(bytes: Uint8Array, batch: DecodedBatch, headerHash: Bytes, tip: Tip, checkingNonces: () => void): Promise<VerifiedWrite> {
    const verified = verifyBatchBody(this.opts.rules, tip, batch, headerHash, this.now());
    checkingNonces();
    const submissions = verified.batch.submissions;
    const nonces = verified.nonceKeys.map(bytesKey);
    for (let i = 0; i < submissions.length; i++) {
      const replayed = nonceViolation(submissions[i], this.pendingNonces.get(nonces[i]));
      if (replayed) throw new BatchRejectedError(describeViolation(replayed));
    }
    // A pending batch's nonces leave pendingNonces only once its write returned, so they are on disk by then.
    const used = await this.opts.store.nonceHeights(verified.nonceKeys);
    for (let i = 0; i < submissions.length; i++) {
      const replayed = nonceViolation(submissions[i], used[i]);
      if (replayed) throw new BatchRejectedError(describeViolation(replayed));
    }
    return { append: { bytes, prevTip: tip, tip: verified.tip, nonceKeys: verified.nonceKeys }, nonces };
  }

  /** A header whose signer was caught equivocating (with views: only above what a quorum locked; see ViewGate). */
  private refusesSigner(signed: SignedHeader): boolean {
    const views = this.opts.views;
    return views ? views.refusesSigner(signed.header) : this.opts.watch.convicted(this.opts.rules.membership.leaderOf(signed.header.view));
  }

  /** The view of the head tip's header (the last verified batch's, or the stored tip's); -1 for an empty log. */
  private async tipView(): Promise<number> {
    if (this.verifiedTip) return this.verifiedView;
    const tip = this.opts.store.tip;
    if (tip.height < 0) return -1;
    const known = this.storedTipView;
    if (known && equalBytes(known.headerHash, tip.headerHash)) return known.view;
    const view = (await this.opts.watch.held(tip.height))?.header.view ?? 0;
    this.storedTipView = { headerHash: tip.headerHash, view };
    return view;
  }

  /** Queues a verified batch (on the verified tip) for the next write; resolves once it is stored or dropped. */
  private enqueueWrite({ append, nonces }: VerifiedWrite, signed: SignedHeader, origin: string): Promise<Outcome> {
    for (const k of nonces) this.pendingNonces.set(k, append.tip.height);
    this.verifiedTip = append.tip;
    this.verifiedView = signed.header.view;
    const durable = new Promise<Outcome>((settle) => this.waiting.push({ append, signed, origin, nonces, settle }));
    if (!this.writerActive) {
      this.writerActive = true;
      this.writing = this.writeWaiting();
    }
    return durable;
  }

  /**
   * Writes the waiting batches, all that wait at once (up to maxWriteBytes), until none waits. `writerActive` turns false in the very
   * step that finds nothing waiting (no await between), so a batch queued after it starts a new writer.
   */
  private async writeWaiting(): Promise<void> {
    const { store, watch, log } = this.opts;
    try {
      while (this.waiting.length > 0) {
        const group = this.takeGroup();
        this.inWrite = group;
        if (watch.halted || group.some((p) => this.refusesSigner(p.signed))) {
          this.drop(group);
          continue;
        }
        try {
          const appends = group.map((p) => p.append);
          await (this.opts.appendAll ? this.opts.appendAll(appends) : store.appendAll(appends));
        } catch (e) {
          // Nothing of it is stored, so nothing verified on top of it may be: all of it goes, sync brings it back.
          if (!(e instanceof StoreFaultError)) log.error('batch write refused; dropping the verified batches after the tip', { error: (e as Error).message });
          this.drop(group);
          continue;
        }
        for (const p of group) for (const k of p.nonces) this.pendingNonces.delete(k);
        if (this.waiting.length === 0) this.verifiedTip = undefined;
        for (const p of group) {
          try {
            await watch.stored(p.signed, p.origin);
          } catch (e) {
            log.warn('could not update the header watch for a stored batch', { height: p.signed.header.height, error: (e as Error).message });
          }
          p.settle(STORED);
        }
      }
    } finally {
      this.inWrite = [];
      this.writerActive = false;
    }
  }

  /** Takes the next write's batches from the front of `waiting`: all of them, up to maxWriteBytes (at least one). */
  private takeGroup(): PendingWrite[] {
    let n = 0;
    let bytes = 0;
    const max = this.opts.maxWriteBytes ?? MAX_WRITE_BYTES;
    while (n < this.waiting.length && (n === 0 || bytes + this.waiting[n].append.bytes.byteLength <= max)) {
      bytes += this.waiting[n].append.bytes.byteLength;
      n++;
    }
    return this.waiting.splice(0, n);
  }

  /** The verified batch at `height` still waiting for (or in) its write, if any. */
  private pendingAt(height: number): PendingWrite | undefined {
    return this.inWrite.find((p) => p.append.tip.height === height) ?? this.waiting.find((p) => p.append.tip.height === height);
  }

  /** Drops `group` and every batch verified after it, unstored; their headers are kept for the watch. */
  private drop(group: readonly PendingWrite[]): void {
    const dropped = [...group, ...this.waiting];
    this.waiting = [];
    this.generation++;
    this.verifiedTip = undefined;
    this.pendingNonces.clear();
    for (const p of dropped) {
      // The primary did sign these headers; a fault may keep the watch from persisting them, which it reports.
      this.opts.watch.remember(p.signed).catch(() => {});
      p.settle(IGNORE);
    }
  }

  /**
   * Fetches batches after the tip from peers until none has more. Single-flight; safe to call often. `from` (below
   * the tip) makes the next round start there once: a node that missed the first header of a view looks for it
   * below its own tip, among the tentative batches it holds of the abandoned view.
   */
  catchUp(from?: number): Promise<void> {
    if (this.stopped || this.opts.watch.halted) return Promise.resolve();
    if (from !== undefined) this.rewindTo = Math.min(this.rewindTo ?? from, from);
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncRound();
        } while (this.syncAgain && !this.stopped);
      } finally {
        this.syncing = undefined;
      }
    })();
    return this.syncing;
  }

  /**
   * Asks peers in turn; keeps asking a peer while it delivers, moves on when it has nothing or misbehaves. A
   * response's batches are verified one after the other without waiting for each one's write.
   */
  private async syncRound(): Promise<void> {
    const peers = this.opts.source.peers();
    // Each round starts with another peer, so that one peer withholding batches cannot hide them round after round.
    const first = peers.length === 0 ? 0 : this.rounds++ % peers.length;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[(first + i) % peers.length];
      let answeredEmpty = true;
      let progressed = true;
      while (progressed && !this.stopped && !this.opts.watch.halted && this.opts.store.fault === undefined) {
        progressed = false;
        const from = Math.min(this.headTip.height + 1, this.rewindTo ?? Infinity);
        this.rewindTo = undefined;
        this.metrics.syncRequested();
        const writes: Promise<Outcome>[] = [];
        try {
          for await (const bytes of this.opts.source.fetch(peer, from)) {
            const admission = await this.admit(bytes, `sync from ${peer}`);
            if ('durable' in admission) {
              writes.push(admission.durable);
              progressed = true;
            } else if (admission.now.verdict === 'reject') {
              throw new BatchRejectedError('invalid batch in sync response');
            }
          }
        } catch (e) {
          const level = e instanceof BatchRejectedError ? 'warn' : 'debug';
          this.opts.log[level]('sync from peer stopped', { peer, error: (e as Error).message });
          progressed = false;
          answeredEmpty = false;
        }
        if (writes.length > 0) answeredEmpty = false;
        // Progress is what got stored: a dropped write ends this peer's round (the store's recovery resumes it).
        const outcomes = await Promise.all(writes);
        if (outcomes.some((o) => !o.stored)) progressed = false;
      }
      // The periodic poll repairs lost gossip: a peer that answered with nothing new ends the round, unless a header
      // above the tip is known to exist (then every peer is worth asking). An idle node polls one peer per round.
      if (answeredEmpty && (this.opts.watch.highestSeen()?.header.height ?? -1) <= this.headTip.height) break;
    }
  }
}
