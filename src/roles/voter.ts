/**
 * A validator's voting (docs/protocol.md §Finality): it lock-votes every batch it stores, in the very synced write
 * that stores it (LogStore.appendAll with a CoWriter: the batch and the record of the vote reach the disk together,
 * before the vote leaves), and commit-votes every header of the current view for which a lock certificate forms,
 * once it stores that header. Every signature goes through the SafetySigner, which refuses anything that contradicts
 * what the key signed before and persists what it signs first. Commit votes signed in one turn of the event loop share
 * one synced write and one gossip message.
 */
import { toHex, type Bytes } from '../core/bytes.ts';
import { peekSignedHeader } from '../core/batch.ts';
import type { CheckedCertificate } from '../core/certificate.ts';
import { headerHash } from '../core/header.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import type { Target } from '../core/safety.ts';
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

  constructor(opts: VoterOptions) {
    this.opts = opts;
    this.index = opts.rules.membership.validators.findIndex((a) => toHex(a) === toHex(opts.signer.address));
    this.unsubscribe = [
      opts.finality.onLockCertificate((qc) => this.onLockCertificate(qc)),
      opts.store.onAppended((tip) => this.onStored(tip.height)),
    ];
  }

  /**
   * Stores consecutive verified batches (the first on the tip) and signs a lock vote on each in the same synced
   * write, then publishes the votes. A vote the safety rules refuse is skipped and logged; the batches are stored
   * regardless. Drop-in for LogStore.appendAll in the roles.
   */
  readonly storeAndVote = async (appends: readonly AppendBatch[]): Promise<void> => {
    const requests: VoteRequest[] = appends.map((a) => ({
      kind: 'lock',
      request: {
        view: peekSignedHeader(a.bytes).header.view, height: a.tip.height, headerHash: a.tip.headerHash, prevHeaderHash: a.prevTip.headerHash,
      },
    }));
    let votes: SignedVote[] = [];
    await this.opts.store.appendAll(appends, async (records, write) => {
      votes = await this.opts.signer.signVotes(requests, records, {
        write,
        onRefused: (e) => this.opts.log.warn('not voting for a stored batch', { rule: e.code, reason: e.message }),
      });
    });
    await this.opts.finality.publishOwn(this.index, votes);
  };

  /** The validator's lock (its highest certificate), or null. */
  get lock(): Target | null {
    return this.opts.signer.state.lock;
  }

  private onLockCertificate(qc: CheckedCertificate): void {
    if (this.stopped || qc.height <= this.opts.finality.finalizedHeight) return;
    if (qc.height > this.opts.store.tip.height) {
      this.awaitingStore.set(qc.height, qc);
      return;
    }
    this.queueCommit(qc);
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
    const { signer, watch, finality, rules, log } = this.opts;
    const requests: VoteRequest[] = [];
    for (const qc of certificates) {
      if (this.stopped || qc.height <= finality.finalizedHeight) continue;
      let stored: Bytes | undefined;
      try {
        const held = await watch.held(qc.height);
        stored = held ? headerHash(rules.separator, held.header) : undefined;
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
