/**
 * The replica: mirrors the primary's log, storing a batch only after verifying it completely against its own
 * tip (core/batch.ts verifyBatch) and checking every nonce against its own history. Batches arrive by gossip
 * or, for gaps and late starts, by ranged fetches from any peer; both paths go through the same `apply`.
 */
import { DecodeError } from '../core/bytes.ts';
import { decodeBatch, peekSignedHeader, verifyBatch, verifyHeaderSignature, type LogRules } from '../core/batch.ts';
import { BatchRejectedError } from '../core/errors.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Logger } from '../node/logger.ts';

export type Verdict = 'accept' | 'ignore' | 'reject';

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
  readonly log: Logger;
  readonly now?: () => number;
  /** How often to poll peers for batches gossip may have lost. */
  readonly syncIntervalMs?: number;
}

export class Replica {
  private readonly opts: ReplicaOptions;
  private readonly now: () => number;
  /** Serialises every read-verify-write of the tip. */
  private applying: Promise<unknown> = Promise.resolve();
  private syncing: Promise<void> | undefined;
  private syncAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: ReplicaOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    const every = this.opts.syncIntervalMs ?? 1000;
    this.timer = setInterval(() => void this.catchUp(), every);
    this.timer.unref();
    void this.catchUp();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.syncing;
    await this.applying.catch(() => {});
  }

  /** GossipSub validator: the verdict decides propagation and scores the relaying peer. */
  async onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    let height: number;
    try {
      const signed = peekSignedHeader(bytes);
      height = signed.header.height;
      const tip = this.opts.store.tip;
      if (height <= tip.height) return 'ignore';
      if (height > tip.height + 1) {
        // Cannot link it yet: check it is the primary's before letting it trigger a fetch of the gap.
        verifyHeaderSignature(this.opts.rules, signed);
        this.opts.log.debug('gap detected, syncing', { height, tip: tip.height, fromPeer });
        void this.catchUp();
        return 'ignore';
      }
    } catch (e) {
      return this.refuse(e, fromPeer);
    }
    try {
      return (await this.apply(bytes)) ? 'accept' : 'ignore';
    } catch (e) {
      return this.refuse(e, fromPeer);
    }
  }

  private refuse(e: unknown, fromPeer: string): Verdict {
    if (e instanceof BatchRejectedError || e instanceof DecodeError) {
      this.opts.log.warn('rejected batch', { fromPeer, reason: e.message });
      return 'reject';
    }
    throw e;
  }

  /**
   * Verifies and stores one batch if it is the successor of the tip. Resolves false when it is not (already
   * stored, or ahead), throws BatchRejectedError/DecodeError when it is invalid.
   */
  apply(bytes: Uint8Array): Promise<boolean> {
    const run = this.applying.then(async () => {
      const { store, rules } = this.opts;
      const prevTip = store.tip;
      const batch = decodeBatch(bytes);
      if (batch.header.height !== prevTip.height + 1) return false;
      const verified = verifyBatch(rules, prevTip, batch, this.now());
      const used = await store.nonceHeights(verified.nonceKeys);
      const replayed = used.findIndex((h) => h !== undefined);
      if (replayed >= 0) {
        const s = batch.submissions[replayed];
        throw new BatchRejectedError(`nonce ${s.nonce} of ${Buffer.from(s.sender).toString('hex')} was used at height ${used[replayed]}`);
      }
      await store.append({ bytes, prevTip, tip: verified.tip, nonceKeys: verified.nonceKeys });
      return true;
    });
    this.applying = run.catch(() => {});
    return run;
  }

  /** Fetches batches after the tip from peers until none has more. Single-flight; safe to call often. */
  catchUp(): Promise<void> {
    if (this.stopped) return Promise.resolve();
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
      while (progressed && !this.stopped) {
        progressed = false;
        const from = this.opts.store.tip.height + 1;
        try {
          for await (const bytes of this.opts.source.fetch(peer, from)) {
            if (await this.apply(bytes)) progressed = true;
          }
        } catch (e) {
          if (e instanceof BatchRejectedError || e instanceof DecodeError) {
            this.opts.log.warn('peer served an invalid batch', { peer, reason: e.message });
          } else {
            this.opts.log.debug('sync request failed', { peer, error: (e as Error).message });
          }
          break;
        }
        if (progressed) this.opts.log.debug('synced', { peer, tip: this.opts.store.tip.height });
      }
    }
  }
}

