/**
 * The replica: mirrors the primary's log, storing a batch only after verifying it completely against its own
 * tip (core/batch.ts verifyBatch) and checking every nonce against its own history. Batches arrive by gossip
 * or, for gaps and late starts, by ranged fetches from any peer; both paths go through `handle`, which also
 * shows every primary-signed header to the HeaderWatch. Once the primary is caught equivocating, nothing more
 * is stored. While the store is in a storage fault (disk full, ...: LogStore) nothing is stored either; once it
 * takes writes again the replica catches up from the tip on disk by itself. Nor while its owner says not to
 * (`mayStore`: the primary's bond does not back it). Whenever it does not store, it still judges every header
 * it meets, so that an equivocation is caught (and spread) all the same.
 */
import { DecodeError } from '../core/bytes.ts';
import { decodeBatch, peekSignedHeader, verifyBatchBody, verifyHeaderSignature, type DecodedBatch } from '../core/batch.ts';
import { describeViolation, nonceViolation, type LogRules } from '../core/rules.ts';
import type { Bytes } from '../core/bytes.ts';
import { BatchNotYetValidError, BatchRejectedError } from '../core/errors.ts';
import { StoreFaultError, type LogStore } from '../storage/log-store.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';
import { NO_METRICS, type NodeMetrics, type VerificationFailure } from './metrics.ts';
import type { Verdict } from './role.ts';


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
}

interface Outcome {
  readonly verdict: Verdict;
  readonly stored: boolean;
}

const IGNORE: Outcome = { verdict: 'ignore', stored: false };

export class Replica {
  private readonly opts: ReplicaOptions;
  private readonly now: () => number;
  private readonly metrics: NodeMetrics;
  /** Serialises every read-verify-write of the tip, and the header checks that depend on it. */
  private queue: Promise<unknown> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
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
  }

  /** GossipSub validator: the verdict decides propagation and scores the relaying peer. */
  async onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return (await this.handle(bytes, `gossip from ${fromPeer}`)).verdict;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Judges one encoded batch: its header against everything held (equivocation), then, if it is the tip's
   * successor, the whole batch. Never throws for bad input: invalid data yields 'reject'.
   */
  handle(bytes: Uint8Array, origin: string): Promise<Outcome> {
    return this.serialized(async () => {
      const { store, rules, watch, log } = this.opts;
      if (watch.equivocated) return IGNORE;
      // The verification stage reached, for the failure metric's bounded label (the reason's text is logged).
      let stage: VerificationFailure = 'malformed';
      try {
        const signed = peekSignedHeader(bytes);
        stage = 'header_signature';
        const hash = verifyHeaderSignature(rules, signed);
        stage = 'batch_body';
        // Evidence of equivocation is accepted so that it spreads and every honest node can catch it.
        if (await watch.observe(signed, origin)) return { verdict: 'accept', stored: false };
        const tip = store.tip;
        const height = signed.header.height;
        if (height <= tip.height) return IGNORE;
        // Not stored now (a storage fault, or not allowed), and not the relay's fault: sync fetches it again
        // later. Its header is kept, so that a different one for its height is still caught.
        if (store.fault !== undefined || this.opts.mayStore?.() === false) {
          await watch.remember(signed);
          return IGNORE;
        }
        if (height > tip.height + 1) {
          await watch.remember(signed);
          log.debug('gap detected, syncing', { height, tip: tip.height, origin });
          void this.catchUp();
          return IGNORE;
        }
        try {
          await this.apply(bytes, decodeBatch(bytes), hash, () => { stage = 'nonce_replayed'; });
        } catch (e) {
          await watch.remember(signed); // the primary did sign this header, whatever the relay did to the body
          throw e;
        }
        await watch.stored(signed, origin);
        return { verdict: 'accept', stored: true };
      } catch (e) {
        if (e instanceof BatchNotYetValidError) {
          this.metrics.verificationFailed('not_yet_valid');
          log.warn('batch not valid yet by this clock; will retry', { origin, reason: e.message });
          return IGNORE;
        }
        if (e instanceof BatchRejectedError || e instanceof DecodeError) {
          this.metrics.verificationFailed(e instanceof DecodeError ? 'malformed' : stage);
          log.warn('rejected batch', { origin, reason: e.message });
          return { verdict: 'reject', stored: false };
        }
        if (e instanceof StoreFaultError) {
          // A failed write is reported once, by the store's fault listener; a failed read only here.
          if (store.fault === undefined) log.warn('storage read failed; will retry', { origin, error: e.message });
          return IGNORE;
        }
        throw e;
      }
    });
  }

  /**
   * Verifies the tip's successor (its header signature already checked) and stores it; calls `checkingNonces` once
   * the batch itself verified and its nonces are checked against history. Throws BatchRejectedError.
   */
  private async apply(bytes: Uint8Array, batch: DecodedBatch, headerHash: Bytes, checkingNonces: () => void): Promise<void> {
    const { store, rules } = this.opts;
    const prevTip = store.tip;
    const verified = verifyBatchBody(rules, prevTip, batch, headerHash, this.now());
    checkingNonces();
    const used = await store.nonceHeights(verified.nonceKeys);
    for (const [i, s] of verified.batch.submissions.entries()) {
      const replayed = nonceViolation(s, used[i]);
      if (replayed) throw new BatchRejectedError(describeViolation(replayed));
    }
    await store.append({ bytes, prevTip, tip: verified.tip, nonceKeys: verified.nonceKeys });
  }

  /** Fetches batches after the tip from peers until none has more. Single-flight; safe to call often. */
  catchUp(): Promise<void> {
    if (this.stopped || this.opts.watch.equivocated) return Promise.resolve();
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

  /** Asks peers in turn; keeps asking a peer while it delivers, moves on when it has nothing or misbehaves. */
  private async syncRound(): Promise<void> {
    for (const peer of this.opts.source.peers()) {
      let progressed = true;
      while (progressed && !this.stopped && !this.opts.watch.equivocated && this.opts.store.fault === undefined) {
        progressed = false;
        const from = this.opts.store.tip.height + 1;
        this.metrics.syncRequested();
        try {
          for await (const bytes of this.opts.source.fetch(peer, from)) {
            const outcome = await this.handle(bytes, `sync from ${peer}`);
            if (outcome.verdict === 'reject') throw new BatchRejectedError('invalid batch in sync response');
            if (outcome.stored) progressed = true;
          }
        } catch (e) {
          const level = e instanceof BatchRejectedError ? 'warn' : 'debug';
          this.opts.log[level]('sync from peer stopped', { peer, error: (e as Error).message });
          break;
        }
      }
    }
  }
}
