/**
 * A validator's voting (docs/protocol.md §Finality): it lock-votes every batch it stores, in the very synced write
 * that stores it (LogStore.appendAll with a CoWriter: the batch and the record of the vote reach the disk together,
 * before the vote leaves), and commit-votes every header of the current view for which a lock certificate forms,
 * once it stores that header. Every signature goes through the SafetySigner, which refuses anything that contradicts
 * what the key signed before and persists what it signs first. Commit votes signed in one turn of the event loop share
 * one synced write and one gossip message.
 */
import type { Bytes } from '../core/bytes.ts';
import { InvariantError } from '../core/errors.ts';
import { decodeBatch, peekSignedHeader } from '../core/batch.ts';
import type { CheckedCertificate } from '../core/certificate.ts';
import { headerHash } from '../core/header.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import { checkViewEntry } from '../core/justification.ts';
import type { LockVoteRequest, Target } from '../core/safety.ts';
import type { SignedVote } from '../core/vote.ts';
import type { AppendBatch, LogStore } from '../storage/log-store.ts';
import type { SafetySigner, VoteRequest } from '../storage/safety-store.ts';
import type { Finality } from './finality.ts';
import type { HeaderWatch } from './header-watch.ts';

export interface VoterOptions {
  readonly signer: SafetySigner;
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly finality: Finality;
  readonly watch: HeaderWatch;
  readonly log: Logger;
}

/** Stored heights lock-voted per synced write when catching up. */
const CATCH_UP_CHUNK = 256;
/** Lock certificates kept for headers not stored yet. */
const MAX_AWAITING = 1024;

export class Voter {
  private readonly opts: VoterOptions;
  readonly index: number;
  /** Lock certificates for headers not stored yet (by height): committed once stored. */
  private readonly awaitingStore = new Map<number, CheckedCertificate>();
  /** Commit votes to sign in the next turn (one write for all). */
  private commitQueue: CheckedCertificate[] = [];
  private commitScheduled = false;
  private signing: Promise<void> = Promise.resolve();
  private readonly unsubscribe: (() => void)[];
  private stopped = false;
  /** Whether it signs votes yet (ValidatorStartup may hold it back), and whether catchUp runs. */
  private voting = false;
  private catching = false;

  constructor(opts: VoterOptions) {
    this.opts = opts;
    this.index = opts.rules.membership.indexOf(opts.signer.address);
    this.unsubscribe = [
      opts.finality.onLockCertificate((qc) => this.onLockCertificate(qc)),
      opts.store.onAppended((tip) => this.onStored(tip.height)),
      // A final header replaced by its re-proposal (LogStore.replaceFinal): the new view's first header, to vote on.
      opts.store.onTruncated(() => { if (this.voting) void this.catchUp(); }),
    ];
  }

  /**
   * Stores consecutive verified batches (the first on the tip) and signs a lock vote on each in the same synced
   * write, then publishes the votes. A vote the safety rules refuse is skipped and logged; the batches are stored
   * regardless. Drop-in for LogStore.appendAll in the roles.
   */
  readonly storeAndVote = async (appends: readonly AppendBatch[]): Promise<void> => {
    const { store, signer, finality, log } = this.opts;
    // Votes go with the write only when they continue the votes signed so far; otherwise (not voting yet, or
    // heights stored without a vote) the batches are stored alone and catchUp votes on them in order.
    if (!this.voting || this.catching || !this.continuesVotes(appends[0])) {
      await store.appendAll(appends);
      if (this.voting) void this.catchUp();
      return;
    }
    const requests: VoteRequest[] = [];
    let view = this.opts.signer.state.lastLock?.view ?? -1;
    for (const a of appends) {
      const request = this.lockRequest(a.bytes, a.tip.headerHash, view);
      requests.push({ kind: 'lock', request });
      view = request.view;
    }
    let votes: SignedVote[] = [];
    await store.appendAll(appends, async (records, write) => {
      votes = await signer.signVotes(requests, records, {
        write,
        onRefused: (e) => log.warn('not voting for a stored batch', { rule: e.code, reason: e.message }),
      });
    });
    await finality.publishOwn(this.index, votes);
  };

  /**
   * Whether a batch stored on the tip is the next one to lock-vote: the successor of the last lock vote in its view,
   * or the first header of a later view (it carries its justification). Otherwise catchUp votes in order.
   */
  private continuesVotes(a: AppendBatch): boolean {
    const { lastLock: last, tmoView } = this.opts.signer.state;
    const { view } = peekSignedHeader(a.bytes).header;
    if (view <= tmoView) return false; // timed out: no vote in that view, ever (not even tried, nor logged per batch)
    if (last !== null && view === last.view) return a.tip.height === last.height + 1;
    if (view === 0) return last === null && a.tip.height === 0;
    return (last === null || view > last.view) && decodeBatch(a.bytes).justification?.tc !== undefined;
  }

  /**
   * The lock vote request for a stored batch; the first header of a view (a view above `previousView`, the view of
   * the header voted before it) brings its view entry, checked from its justification (rule L3).
   */
  private lockRequest(bytes: Uint8Array, hash: Bytes, previousView: number): LockVoteRequest {
    const { header } = peekSignedHeader(bytes);
    const request = { view: header.view, height: header.height, headerHash: hash, prevHeaderHash: header.prevHeaderHash };
    if (header.view === previousView || header.view === 0) return request;
    const justification = decodeBatch(bytes).justification;
    if (!justification?.tc) return request; // refused by L3 (unjustified), and logged
    return { ...request, viewEntry: checkViewEntry(this.opts.rules, header, justification).viewEntry };
  }

  /** The lowest stored height whose header is of `view`, at or below `top` and above the final height. */
  private async firstHeightOfView(view: number, top: number): Promise<number> {
    const floor = this.opts.finality.finalizedHeight + 1;
    let h = top;
    while (h > floor && (await this.opts.watch.held(h - 1))?.header.view === view) h--;
    return h;
  }

  /**
   * Starts voting (at once, or after ValidatorStartup): lock votes on stored heights above its last lock vote that
   * got none (stored while it recovered, or before a restart), in order, then on every batch as it is stored.
   */
  enable(): void {
    this.voting = true;
    void this.catchUp();
  }

  /** Whether it signs votes yet (false while ValidatorStartup runs). */
  get enabled(): boolean {
    return this.voting;
  }

  /**
   * Lock-votes the stored heights above its last lock vote, in chunks of CATCH_UP_CHUNK per synced write, until it
   * has voted up to the tip. Stops at a vote the rules refuse (logged): it would be refused again. Single-flight.
   */
  private async catchUp(): Promise<void> {
    if (this.catching || this.stopped) return;
    this.catching = true;
    const { store, signer, watch, finality, rules, log } = this.opts;
    try {
      while (!this.stopped && store.tip.height >= 0) {
        const top = store.tip.height;
        const view = (await watch.held(top))?.header.view;
        // Votes are only ever for the view the validator is in (L1), and never in a view it timed out.
        if (view === undefined || view !== signer.state.curView || view <= signer.state.tmoView) return;
        const last = signer.state.lastLock;
        const from = last !== null && last.view === view ? last.height + 1 : await this.firstHeightOfView(view, top);
        if (from > top) return;
        const to = Math.min(top, from + CATCH_UP_CHUNK - 1);
        const requests: VoteRequest[] = [];
        let previousView = last?.view ?? -1;
        for (let h = from; h <= to; h++) {
          const stored = await store.getBatch(h);
          if (!stored) throw new InvariantError(`the batch at height ${h} is not stored`);
          const request = this.lockRequest(stored.bytes, headerHash(rules.separator, peekSignedHeader(stored.bytes).header), previousView);
          requests.push({ kind: 'lock', request });
          previousView = request.view;
        }
        let refused = false;
        const votes = await signer.signVotes(requests, [], {
          onRefused: (e) => {
            refused = true;
            log.warn('not voting for a stored batch', { rule: e.code, reason: e.message });
          },
        });
        await finality.publishOwn(this.index, votes);
        if (refused) return;
      }
    } catch (e) {
      log.warn('lock votes on stored batches not signed; will retry with the next batch', { error: (e as Error).message });
    } finally {
      this.catching = false;
    }
  }

  /** The validator's lock (its highest certificate), or null. */
  get lock(): Target | null {
    return this.opts.signer.state.lock;
  }

  private onLockCertificate(qc: CheckedCertificate): void {
    if (this.stopped || this.finalHere(qc)) return;
    if (qc.height > this.opts.store.tip.height) {
      this.awaitingStore.set(qc.height, qc);
      // Bounded: a header never stored here is committed by the others (the oldest waiting ones go first).
      if (this.awaitingStore.size > MAX_AWAITING) this.awaitingStore.delete(this.awaitingStore.keys().next().value!);
      return;
    }
    this.queueCommit(qc);
  }

  /**
   * Whether the certificate's height is final here with its certificate held: no commit vote needed. At the final
   * height one is still cast when this node replaced its final header by a re-proposal (LogStore.replaceFinal) and
   * holds no certificate for the new header: the others may need its vote to finalise it.
   */
  private finalHere(qc: CheckedCertificate): boolean {
    const { finality } = this.opts;
    return qc.height < finality.finalizedHeight || (qc.height === finality.finalizedHeight && finality.finalCertified);
  }

  private onStored(height: number): void {
    const qc = this.awaitingStore.get(height);
    if (!qc) return;
    this.awaitingStore.delete(height);
    this.queueCommit(qc);
  }

  private queueCommit(qc: CheckedCertificate): void {
    this.commitQueue.push(qc);
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      const queued = this.commitQueue;
      this.commitQueue = [];
      this.signing = this.signing.then(() => this.commit(queued));
    });
  }

  /** Commit votes for lock certificates of headers this node stores (C2), one synced write, then published. */
  private async commit(certificates: readonly CheckedCertificate[]): Promise<void> {
    const { signer, finality, log } = this.opts;
    if (!this.voting) return;
    const requests: VoteRequest[] = [];
    for (const qc of certificates) {
      if (this.stopped || this.finalHere(qc)) continue;
      let stored: Bytes | undefined;
      try {
        stored = await finality.storedHeaderHash(qc.height);
      } catch (e) {
        log.warn('cannot read the stored header to commit-vote', { height: qc.height, error: (e as Error).message });
        continue;
      }
      if (stored === undefined) continue;
      requests.push({ kind: 'commit', certificate: qc, storedHeaderHash: stored });
    }
    if (requests.length === 0) return;
    let votes: SignedVote[];
    try {
      votes = await signer.signVotes(requests, [], {
        onRefused: (e) => log.debug('not commit-voting', { rule: e.code, reason: e.message }),
      });
    } catch (e) {
      log.warn('commit votes not signed', { error: (e as Error).message });
      return;
    }
    await finality.publishOwn(this.index, votes);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    await this.signing;
  }
}
