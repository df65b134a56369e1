/**
 * Finality as every node sees it (docs/protocol.md §Finality): validators' votes arrive by gossip (and this node's own,
 * if it votes, from its Voter); each is verified once and counted (core/vote-tally.ts); a quorum of lock votes is a lock
 * certificate (QC1), which the Voter answers with a commit vote and the leader's window waits for; a quorum of commit
 * votes is a commit certificate (CC), which makes its header and every header below it final, once this node stores
 * that header. The final height and its certificate are recorded (LogStore.markFinal) and served: sequencer_getCertificate,
 * `wait: final`, and the status answer (`finalCertificate`), from which a node that missed the votes (it was down, or
 * joined late) learns the highest certificate of a peer and so catches up.
 *
 * Votes are taken only for views next to the current one (the pacemaker's) and for heights in a window above the
 * final height, one per validator and (kind, view, height): a Byzantine validator can neither grow memory nor make
 * the node verify more than a bounded number of signatures per height. A second vote of one validator for another
 * header at the same (kind, view, height) is kept aside as evidence (docs/protocol.md §Equivocation proofs, kind 3).
 */
import { equalBytes, fromHex, toHex, type Bytes } from '../core/bytes.ts';
import { checkCertificate, compareRank, decodeCertificate, encodeCertificate, type Certificate, type CheckedCertificate } from '../core/certificate.ts';
import { subscribe } from '../core/listeners.ts';
import { MAX_FINALITY_CHAIN, type FinalityCertificate } from '../core/finality-certificate.ts';
import type { Header } from '../core/header.ts';
import { CURRENT_VIEW, headerHash } from '../core/header.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import { VoteTally } from '../core/vote-tally.ts';
import { VoteKind, decodeVoteBundle, encodeVoteBundle, verifyVote, MAX_BUNDLE_VOTES, type SignedVote, type VoteContext } from '../core/vote.ts';
import type { Host } from '../p2p/host.ts';
import { StoreTruncateError, type LogStore } from '../storage/log-store.ts';
import type { Tip } from '../core/batch.ts';
import { voteTopic, type Status } from '../wire/p2p-messages.ts';
import type { HeaderWatch } from './header-watch.ts';
import { requestStatus } from './log-service.ts';
import type { Verdict } from './role.ts';

/** How far above the final height votes are kept: well above the leader's window (LEADER_WINDOW). */
export const VOTE_WINDOW = 1024;
/**
 * The leader seals height h only while it holds a lock certificate for h − LEADER_WINDOW (or higher): a leader
 * whose batches no quorum votes for stops after this many (docs/protocol.md §Finality, leader window).
 */
export const LEADER_WINDOW = 8;
/** With stored heights above the final one and no new certificate for this long, peers are asked for theirs. */
const CATCH_UP_AFTER_MS = 1_000;
/** Stored header hashes kept in memory, by height (the newest). */
const RECENT_HASHES = 2 * VOTE_WINDOW;

export interface FinalityOptions {
  readonly host: Host;
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  /** The view this node is in (the pacemaker's; default: view 0 for good). Votes are taken only near it. */
  readonly view?: () => number;
}

/** A vote pair by one validator for two headers at one (kind, view, height): evidence against it. */
export interface VoteConflict {
  readonly signerIndex: number;
  readonly first: SignedVote;
  readonly second: SignedVote;
}

export class Finality {
  private readonly opts: FinalityOptions;
  private readonly ctx: VoteContext;
  private readonly tally: VoteTally;
  private readonly topic: string;
  /** The highest commit certificate held for a stored, final header (what the status answer offers). */
  private latest: Certificate | undefined;
  /** The highest lock certificate formed or learned (offered to peers that missed the votes). */
  private latestLock: CheckedCertificate | undefined;
  /** A commit certificate for a header not stored yet (the highest such): applied once the store reaches it. */
  private pendingCommit: CheckedCertificate | undefined;
  /** The highest lock certificate height held (any view), -1 for none: the leader's window. */
  private lockedHeightValue = -1;
  private readonly lockListeners: ((qc: CheckedCertificate) => void)[] = [];
  private readonly finalListeners: ((height: number) => void)[] = [];
  private readonly windowListeners: (() => void)[] = [];
  private readonly conflictListeners: ((c: VoteConflict) => void)[] = [];
  private readonly voteListeners: ((signerIndex: number, v: SignedVote) => void)[] = [];
  private readonly divergenceListeners: ((height: number) => void)[] = [];
  private readonly waiters = new Set<{ readonly height: number; readonly resolve: (final: boolean) => void }>();
  /** Header hashes of the most recently stored heights (the store's tip after each append). */
  private readonly recentHashes = new Map<number, Bytes>();
  /** The highest height a vote of each validator was counted at (-1: none): what a recovering validator asks for. */
  private readonly voteHeights: number[];
  /** Each validator's highest-ranked commit vote counted here: a later timeout reporting a lower lock lies (kind 5). */
  private readonly commitVotes: (SignedVote | undefined)[] = [];
  /** The highest view of a vote counted, and when the last vote was counted. */
  private lastVoteView = -1;
  private lastVoteAt = -Infinity;
  private lastProgress = performance.now();
  private catchingUp = false;
  private timer: NodeJS.Timeout | undefined;
  private finalizing: Promise<void> = Promise.resolve();
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  private constructor(opts: FinalityOptions, latest: Certificate | undefined) {
    this.opts = opts;
    this.ctx = opts.rules;
    this.latest = latest;
    const final = opts.store.final?.height ?? -1;
    this.tally = new VoteTally(opts.rules.membership, final, VOTE_WINDOW);
    this.lockedHeightValue = final;
    this.topic = voteTopic(opts.rules.logId);
    this.voteHeights = opts.rules.membership.validators.map(() => -1);
  }

  /** Reads the final height's certificate back, subscribes to the vote topic and starts the catch-up timer. */
  static async start(opts: FinalityOptions): Promise<Finality> {
    const final = opts.store.final;
    const stored = final ? await opts.store.certificateFrom(final.height) : undefined;
    const finality = new Finality(opts, stored ? decodeCertificate(stored.certificate) : undefined);
    opts.host.subscribe(finality.topic, (data, from) => finality.onGossip(data, from));
    finality.unsubscribe.push(opts.store.onAppended((tip) => finality.onStored(tip)));
    finality.unsubscribe.push(opts.store.onTruncated((tip) => {
      // At the tip's own height too: a final header replaced by its re-proposal (LogStore.replaceFinal) changes it.
      for (const h of [...finality.recentHashes.keys()]) if (h >= tip.height) finality.recentHashes.delete(h);
      // Nor is the old header's commit certificate served for it any more (peers would take it for a fork).
      if (finality.latest && finality.latest.height === tip.height && !equalBytes(finality.latest.headerHash, tip.headerHash)) finality.latest = undefined;
    }));
    finality.timer = setInterval(() => void finality.catchUpIfStalled(), CATCH_UP_AFTER_MS);
    finality.timer.unref();
    return finality;
  }

  /** The highest final height (-1 for none) and its header hash. */
  get finalizedHeight(): number {
    return this.opts.store.final?.height ?? -1;
  }

  /** Whether this node holds the commit certificate of its final header (not so after LogStore.replaceFinal). */
  get finalCertified(): boolean {
    return this.latest !== undefined && this.latest.height === this.finalizedHeight;
  }

  get finalizedHeaderHash(): Bytes | undefined {
    return this.opts.store.final?.headerHash;
  }

  /** The view of the commit certificate of the final height this node holds (-1 before any). */
  get finalizedView(): number {
    return this.latest?.view ?? -1;
  }

  /**
   * When a vote of `view` (or a later one) by a validator other than that view's leader was last counted here
   * (performance.now(), or -Infinity): the view's validators still at work. The pacemaker takes it as progress: under a saturated machine batches and
   * certificates may stall for longer than T(v) while the leader is alive and voted on.
   */
  lastVoteOf(view: number): number {
    return this.lastVoteView >= view ? this.lastVoteAt : -Infinity;
  }

  /** The highest height with a lock certificate this node holds (or final), -1 for none. */
  get lockedHeight(): number {
    return Math.max(this.lockedHeightValue, this.finalizedHeight);
  }

  /** The leader's window: may the batch at `height` be sealed now? */
  allowsSealing(height: number): boolean {
    return height - LEADER_WINDOW <= this.lockedHeight;
  }

  /** Calls `listener` when the leader's window may have opened (a new lock certificate or final height). */
  onWindowOpen(listener: () => void): () => void {
    return subscribe(this.windowListeners, listener);
  }

  /** Calls `listener` with each lock certificate formed (once per header): the Voter's cue to commit. */
  onLockCertificate(listener: (qc: CheckedCertificate) => void): () => void {
    return subscribe(this.lockListeners, listener);
  }

  /** Calls `listener` with the new final height each time it rises. */
  onFinal(listener: (height: number) => void): () => void {
    return subscribe(this.finalListeners, listener);
  }

  /**
   * Calls `listener` with a height whose checked commit certificate names another header than the one this node
   * stores there: everything it stores from that height up is on a branch no quorum follows.
   */
  onDivergence(listener: (height: number) => void): () => void {
    return subscribe(this.divergenceListeners, listener);
  }

  /** The highest-ranked commit vote of validator `index` this node counted (verified), if any. */
  highestCommitVote(index: number): SignedVote | undefined {
    return this.commitVotes[index];
  }

  /** Calls `listener` with every vote this node counts (verified as its validator's: own votes and peers'). */
  onVote(listener: (signerIndex: number, v: SignedVote) => void): () => void {
    return subscribe(this.voteListeners, listener);
  }

  /** Calls `listener` with each vote pair showing a validator voting two headers at one (kind, view, height). */
  onConflict(listener: (c: VoteConflict) => void): () => void {
    return subscribe(this.conflictListeners, listener);
  }

  /**
   * The status answer's finality fields: the highest commit certificate held for a stored, final header, and the
   * highest lock certificate held above it (binary form, hex, or null); the highest height a vote of each validator
   * was counted at since this node started (-1: none).
   */
  statusCertificates(): { finalCertificate: string | null; lockCertificate: string | null; voteHeights: number[] } {
    const lock = this.latestLock && this.latestLock.height > this.finalizedHeight ? this.latestLock : undefined;
    return {
      finalCertificate: this.latest ? toHex(encodeCertificate(this.latest)) : null,
      lockCertificate: lock ? toHex(encodeCertificate(lock)) : null,
      voteHeights: [...this.voteHeights],
    };
  }

  /** Publishes this node's own votes and counts them (they need no verification). */
  async publishOwn(signerIndex: number, votes: readonly SignedVote[]): Promise<void> {
    for (const v of votes) this.count(signerIndex, v);
    for (let i = 0; i < votes.length; i += MAX_BUNDLE_VOTES) {
      const bundle = encodeVoteBundle({ signerIndex, votes: votes.slice(i, i + MAX_BUNDLE_VOTES) });
      await this.opts.host.publish(this.topic, bundle).catch((e: Error) => this.opts.log.debug('vote publish failed', { error: e.message }));
    }
  }

  /**
   * GossipSub validator of the vote topic: malformed bundles, and votes that do not verify as the named validator's,
   * are REJECTED; bundles with nothing new for this node (other views, heights outside the window, votes already
   * counted) are IGNORED unverified; otherwise every new vote is verified and counted, ACCEPT.
   */
  async onGossip(data: Uint8Array, from: string): Promise<Verdict> {
    let bundle;
    try {
      bundle = decodeVoteBundle(data);
    } catch (e) {
      this.opts.log.debug('malformed vote bundle', { from, error: (e as Error).message });
      return 'reject';
    }
    if (bundle.signerIndex >= this.ctx.membership.n) return 'reject';
    let fresh = 0;
    for (const v of bundle.votes) {
      // A vote that came after its height became final is not verified (nothing needs it), but its height still goes
      // into the status hint `voteHeights`: a validator recovering from a lost store stays above it. Unverified, so
      // only up to the final height, where a forged one costs nothing (the recovering validator need not vote there).
      const signer = bundle.signerIndex;
      if (v.height <= this.finalizedHeight && v.height > (this.voteHeights[signer] ?? -1)) this.voteHeights[signer] = v.height;
      if (!this.nearView(v.view) || !this.tally.wants(signer, v)) continue;
      try {
        verifyVote(this.ctx, v, bundle.signerIndex);
      } catch (e) {
        this.opts.log.debug('vote refused', { from, error: (e as Error).message });
        return 'reject';
      }
      this.count(bundle.signerIndex, v);
      fresh++;
    }
    return fresh > 0 ? 'accept' : 'ignore';
  }

  /**
   * Votes are taken for the current view, the one before (votes still in flight when the view changed) and the
   * one after (this node may learn the view change last): a validator cannot open slots for views far away.
   */
  private nearView(view: number): boolean {
    const current = this.opts.view?.() ?? CURRENT_VIEW;
    return view >= current - 1 && view <= current + 1;
  }

  /** Counts a verified vote; a certificate it completes is acted on. */
  private count(index: number, v: SignedVote): void {
    // The view's leader voting on its own headers shows nothing about the others taking them (a leader whose clock
    // runs ahead votes on batches nobody else can accept yet): only another validator's vote is progress.
    if (v.view >= this.lastVoteView && index !== v.view % this.ctx.membership.n) {
      this.lastVoteView = v.view;
      this.lastVoteAt = performance.now();
    }
    if (v.height > (this.voteHeights[index] ?? -1)) this.voteHeights[index] = v.height;
    const commit = this.commitVotes[index];
    if (v.kind === VoteKind.commit && (!commit || compareRank(v, commit) > 0)) this.commitVotes[index] = v;
    for (const l of this.voteListeners) l(index, v);
    const outcome = this.tally.add(index, v);
    if (outcome.kind === 'conflict') {
      this.opts.log.warn('a validator voted two headers at one height', { validator: index, height: v.height, view: v.view, kind: v.kind });
      const conflict = { signerIndex: index, first: outcome.first, second: outcome.second };
      for (const l of [...this.conflictListeners]) l(conflict);
      return;
    }
    if (outcome.kind === 'counted' && outcome.certificate) this.certified(outcome.certificate);
  }

  /** A certificate formed here or learned from a peer (checked either way). */
  private certified(cert: CheckedCertificate): void {
    this.progress();
    if (cert.kind === VoteKind.commit) {
      this.adoptCommit(cert);
      return;
    }
    if (!this.latestLock || compareRank(cert, this.latestLock) > 0) this.latestLock = cert;
    if (cert.height > this.lockedHeightValue) {
      this.lockedHeightValue = cert.height;
      for (const l of [...this.windowListeners]) l();
    }
    for (const l of [...this.lockListeners]) l(cert);
  }

  private progress(): void {
    this.lastProgress = performance.now();
  }

  /** A checked commit certificate: its header (and all below) becomes final once stored here. Serialised. */
  private adoptCommit(cert: CheckedCertificate): void {
    if (cert.height <= this.finalizedHeight) return;
    if (!this.pendingCommit || compareRank(cert, this.pendingCommit) > 0) this.pendingCommit = cert;
    this.applyPending();
  }

  private onStored(tip: Tip): void {
    this.recentHashes.set(tip.height, tip.headerHash);
    if (this.recentHashes.size > RECENT_HASHES) this.recentHashes.delete(this.recentHashes.keys().next().value!);
    if (this.pendingCommit) this.applyPending();
  }

  /**
   * The hash of the header this node stores at `height`, or undefined when it stores none there. Recent heights
   * come from memory (what a certificate or a commit vote is nearly always about); older ones from the store.
   */
  async storedHeaderHash(height: number): Promise<Bytes | undefined> {
    if (height > this.opts.store.tip.height) return undefined;
    const recent = this.recentHashes.get(height);
    if (recent) return recent;
    const held = await this.opts.watch.held(height);
    return held ? headerHash(this.ctx.separator, held.header) : undefined;
  }

  /** Whether the header stored at the certificate's height is of a later view and differs from the certified one only in its view. */
  private async reproposes(cert: CheckedCertificate): Promise<boolean> {
    const held = await this.opts.watch.held(cert.height);
    return held !== undefined && held.header.view > cert.view && equalBytes(headerHash(this.ctx.separator, { ...held.header, view: cert.view }), cert.headerHash);
  }

  /** Marks the pending commit certificate's height final if its header is the one stored there. */
  private applyPending(): void {
    this.finalizing = this.finalizing.then(async () => {
      const cert = this.pendingCommit;
      const { store, log } = this.opts;
      if (!cert || this.stopped) return;
      if (cert.height <= this.finalizedHeight) {
        this.pendingCommit = undefined;
        return;
      }
      if (cert.height > store.tip.height) return; // not stored yet: waits for onStored
      const truncations = store.truncations;
      const stored = await this.storedHeaderHash(cert.height);
      if (!stored) return;
      this.pendingCommit = undefined;
      if (!equalBytes(stored, cert.headerHash) && await this.reproposes(cert)) {
        // The stored header re-proposes the certified one in a later view: the same content, final through this
        // certificate; the height is marked final with the new header's own certificate (or a later one).
        log.debug('a commit certificate names the header the stored one re-proposes', { height: cert.height });
        return;
      }
      if (!equalBytes(stored, cert.headerHash)) {
        // A quorum committed another header than this node stores: this store holds a branch no quorum follows (soft
        // batches of an abandoned view, kept while this node was away), or a leader equivocated within a view (its
        // watch holds both headers once it sees the other). Never marked final; the owner drops the branch.
        log.warn('a commit certificate names another header than the one stored at its height', {
          height: cert.height, certified: toHex(cert.headerHash), stored: toHex(stored),
        });
        for (const l of [...this.divergenceListeners]) l(cert.height);
        return;
      }
      try {
        await store.markFinal({ height: cert.height, headerHash: cert.headerHash }, encodeCertificate(cert), truncations);
      } catch (e) {
        if (!(e instanceof StoreTruncateError)) throw e;
        this.pendingCommit ??= cert; // a view change removed batches meanwhile: judged again once the store moves on
        return;
      }
      this.latest = cert;
      this.tally.raiseFloor(cert.height);
      this.progress();
      for (const w of [...this.waiters]) if (w.height <= cert.height) w.resolve(true);
      for (const l of [...this.finalListeners]) l(cert.height);
      for (const l of [...this.windowListeners]) l();
    }).catch((e: Error) => this.opts.log.warn('could not record a final height', { error: e.message }));
  }

  /** Resolves true once `height` is final here, false after `timeoutMs`. */
  waitFinal(height: number, timeoutMs: number): Promise<boolean> {
    if (height <= this.finalizedHeight) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        height,
        resolve: (final: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(final);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The finality certificate of a final height (docs/protocol.md §Finality certificate), or undefined when not final here. */
  async certificate(height: number): Promise<FinalityCertificate | undefined> {
    if (!Number.isSafeInteger(height) || height < 0 || height > this.finalizedHeight) return undefined;
    const { store, watch } = this.opts;
    const found = await store.certificateFrom(height);
    // A height finalised only through a much later certificate (this node was away while it was voted) has no
    // certificate short enough to serve from here; another node that saw its votes has one.
    if (!found || found.height - height > MAX_FINALITY_CHAIN) return undefined;
    const headers: Header[] = [];
    for (let h = height; h <= found.height; h++) {
      const held = await watch.held(h);
      if (!held) return undefined;
      headers.push(held.header);
    }
    const [header, ...chain] = headers;
    return { height, header, headerHash: headerHash(this.ctx.separator, header), certificate: decodeCertificate(found.certificate), chain };
  }

  /**
   * Stored heights above the final one and no certificate for a while: ask the connected peers for their highest
   * commit certificate and their highest lock certificate (status `finalCertificate`, `lockCertificate`), check
   * them, and adopt them. Covers votes missed while down or not yet connected: the commit certificate finalises
   * directly; the lock certificate lets a validator that missed the lock votes commit-vote (the quorum of commit
   * votes may be waiting for exactly it). Single-flight.
   */
  private async catchUpIfStalled(): Promise<void> {
    if (this.opts.store.tip.height <= this.finalizedHeight || performance.now() - this.lastProgress < CATCH_UP_AFTER_MS) return;
    await this.askPeers();
  }

  /**
   * Asks every connected peer for its certificates now and adopts those that check (a new leader learns whether
   * the header it is to build on is final somewhere). Single-flight: a call during a round waits for nothing.
   */
  async askPeers(): Promise<void> {
    if (this.catchingUp || this.stopped) return;
    this.catchingUp = true;
    try {
      for (const peer of this.opts.host.connectedPeers()) {
        let status: Partial<Status>;
        try {
          status = await requestStatus(this.opts.host, peer);
        } catch {
          continue;
        }
        for (const [hex, kind] of [[status.finalCertificate, VoteKind.commit], [status.lockCertificate, VoteKind.lock]] as const) {
          if (typeof hex !== 'string') continue;
          let cert: CheckedCertificate;
          try {
            cert = checkCertificate(this.ctx, decodeCertificate(fromHex(hex)));
          } catch (e) {
            this.opts.log.debug('a peer offered a certificate that does not check', { peer, error: (e as Error).message });
            continue;
          }
          // A lock certificate is news only above the highest one held: one learned again is no progress.
          const known = kind === VoteKind.lock && this.latestLock !== undefined && compareRank(cert, this.latestLock) <= 0;
          if (cert.kind === kind && cert.height > this.finalizedHeight && !known) this.certified(cert);
        }
      }
      await this.finalizing;
    } finally {
      this.catchingUp = false;
      this.progress();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const u of this.unsubscribe) u();
    await this.finalizing;
    for (const w of [...this.waiters]) w.resolve(this.finalizedHeight >= w.height);
  }
}
