/**
 * The validator role of a log with more than one validator (docs/protocol.md §View change): it follows the current
 * view's leader like an observer (ReplicaRole: verifies, stores and, through the Voter, votes every batch) and leads
 * the views whose leader it is (Primary, signing headers of that view).
 *
 * Leading view v > 0 starts from the timeout certificate that ended view v − 1: the first header extends the TC's
 * highest lock (hL), so the store is first made to hold hL's header (synced from peers if needed), and the batches
 * above it (soft batches of the abandoned view) are removed; their submissions are handed to the new view's queue
 * again, so what clients sent is sequenced once more, at the same sequence numbers when nothing else came first.
 * View 0's leader recovers first as today's primary does (PrimaryStartup). A validator that restarts in a view it
 * leads does not lead it (it cannot know what it signed in it before the restart): the view times out.
 *
 * Appends from clients are sequenced when leading, otherwise forwarded to the leader; a forward that fails while a
 * view change is likely is retried with the next view's leader (the same signed bytes: sequenced at most once, as
 * the nonce is unique in the log).
 */
import { equalBytes, type Bytes } from '../core/bytes.ts';
import { decodeBatch, encodeBatch, nonceKey } from '../core/batch.ts';
import { headerHash, signHeader } from '../core/header.ts';
import type { Justification } from '../core/justification.ts';
import { highLock } from '../core/certificate.ts';
import { subscribe } from '../core/listeners.ts';
import { ErrorCode, InvalidArgumentError, NotReadyError, PrimaryUnavailableError, SequencerError } from '../core/errors.ts';
import { signPeerRecord, type PeerRecord } from '../core/peer-record.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';
import type { LockRef } from '../core/vote.ts';
import type { AppendBatch } from '../storage/log-store.ts';
import type { Finality } from './finality.ts';
import type { Pacemaker, ViewEntryProof } from './pacemaker.ts';
import { Primary } from './primary.ts';
import { serveAppends, startPrimary, type LeaderOptions } from './primary-role.ts';
import { PrimaryStartup } from './primary-startup.ts';
import { ReplicaRole } from './replica-role.ts';
import type { Role, Verdict } from './role.ts';
import { PendingSubmissions } from './pending-submissions.ts';
import { ViewGate } from './view-gate.ts';

/** How long a forward waits for a view change before it is tried again, and how many times. */
const FORWARD_RETRY_WAIT_MS = 4_000;
const FORWARD_ATTEMPTS = 3;
/** How long a censoring leader (fault injection) leaves a submission unanswered. */
const CENSOR_ANSWER_MS = 10_000;
/** Sync rounds a new leader runs to reach its view's base header before it gives the view up. */
const BASE_SYNC_ROUNDS = 5;

export interface ValidatorRoleOptions extends LeaderOptions {
  readonly pacemaker: Pacemaker;
  readonly finality: Finality;
  /** The Voter's storeAndVote: how batches are stored, with their lock votes. */
  readonly appendAll: (appends: readonly AppendBatch[]) => Promise<void>;
  /** FAULT INJECTION ONLY (NodeConfig.unsafeCensor): senders it never sequences when it leads. */
  readonly unsafeCensor?: readonly Bytes[];
  /** View 0's leader: the peers it recovers from before it leads view 0 (as PrimaryRole), or skip recovery. */
  readonly startup?: { readonly peers: readonly string[]; readonly quorum?: number; readonly unsafeSkipRecovery?: boolean };
}

interface Term {
  readonly view: number;
  readonly primary: Primary;
}

export class ValidatorRole implements Role {
  readonly kind = 'replica';
  readonly peerRecord: PeerRecord;
  private readonly opts: ValidatorRoleOptions;
  private readonly address: Bytes;
  private readonly follower: ReplicaRole;
  /** Set from the moment it decides to lead a view until that view ends: the follower stores nothing meanwhile. */
  private leading: number | undefined;
  private term: Term | undefined;
  /** Called with the view whenever this node starts leading one (clients waiting for it go on). */
  private readonly termListeners: ((view: number) => void)[] = [];
  private startup: PrimaryStartup | undefined;
  /** When an append last could not be served (no leader reachable): work is pending for the pacemaker. */
  private lastUnserved = -Infinity;
  private readonly unsubscribe: (() => void)[] = [];
  /** Client submissions not sequenced yet, as every validator watches them (T2, censorship). */
  private readonly pending: PendingSubmissions;
  /** How batches are stored: the Voter's storeAndVote, then the pending watch is told. */
  private readonly appendAll: (appends: readonly AppendBatch[]) => Promise<void>;
  private resubmitting: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(opts: ValidatorRoleOptions, address: Bytes) {
    this.opts = opts;
    this.address = address;
    const { host, rules, pacemaker } = opts;
    this.peerRecord = signPeerRecord(rules.separator, rules.logId, host.peerId, Math.floor(Date.now() / 1000), opts.privateKey);
    this.pending = new PendingSubmissions({
      host, rules, store: opts.store, log: opts.log, forward: (s) => this.route(s),
    });
    // Every stored batch settles the pending submissions it holds (censorship watch).
    const storeAndVote = opts.appendAll;
    this.appendAll = async (appends) => {
      await storeAndVote(appends);
      for (const a of appends) this.pending.stored(a.nonceKeys, a.tip.nextSeq - a.prevTip.nextSeq);
    };
    const views = new ViewGate({
      rules, store: opts.store, pacemaker, finality: opts.finality, log: opts.log,
      convicted: (address) => opts.watch.convicted(address), abandoned: (subs) => this.resubmit(subs),
    });
    this.follower = new ReplicaRole({
      host, store: opts.store, rules, watch: opts.watch, log: opts.log, bond: opts.bond, metrics: opts.metrics, appendAll: this.appendAll,
      views, leader: () => rules.membership.leaderOf(pacemaker.curView), paused: () => this.leading !== undefined,
    });
    this.unsubscribe.push(
      pacemaker.onView((view, entry) => this.onView(view, entry)),
      // A branch of this store no quorum follows (soft batches of an abandoned view kept while it was away): dropped.
      opts.finality.onDivergence((height) => {
        if (this.leading !== undefined) return;
        this.follower.dropBranch(height).catch((e: Error) => opts.log.warn('could not drop a branch no quorum follows', { error: e.message }));
      }),
    );
    if (pacemaker.curView === 0 && this.leads(0)) this.leadViewZero();
  }

  /** Starts following (and leading view 0 if it is its leader) and answers the appends other nodes forward to a leader. */
  static async start(opts: ValidatorRoleOptions, address: Bytes): Promise<ValidatorRole> {
    const role = new ValidatorRole(opts, address);
    role.pending.start();
    try {
      await serveAppends(opts.host, opts.rules.separator, (s) => role.sequenceForwarded(s), opts.log);
    } catch (e) {
      await role.stop();
      throw e;
    }
    return role;
  }

  /**
   * A submission another node forwarded to this one as the leader: sequenced only while it leads the current view,
   * never forwarded on (two nodes in different views would pass it back and forth).
   */
  private sequenceForwarded(s: Submission): Promise<Receipt> {
    const view = this.opts.pacemaker.curView;
    if (this.term && this.term.view === view) return this.sequence(this.term, s);
    this.lastUnserved = performance.now();
    return Promise.reject(new PrimaryUnavailableError(`not leading view ${view}`));
  }

  private leads(view: number): boolean {
    return equalBytes(this.opts.rules.membership.leaderOf(view), this.address);
  }

  /** Whether work waits that a leader should be making progress on (for the pacemaker's no-progress timeout). */
  unservedSince(ms: number): boolean {
    return performance.now() - this.lastUnserved < ms;
  }

  /** ReplicaRole.refusedFutureBatchSince, of the follower. */
  refusedFutureBatchSince(view: number, ms: number): boolean {
    return this.follower.refusedFutureBatchSince(view, ms);
  }

  /** View 0: recover as the primary always has (what its key signed, from its peers), then lead. */
  private leadViewZero(): void {
    const { startup, log } = this.opts;
    this.leading = 0;
    const peers = startup?.peers.filter((p) => p !== this.opts.host.peerId) ?? [];
    if (startup?.unsafeSkipRecovery) {
      this.startTerm(0, undefined);
      return;
    }
    if (peers.length === 0) {
      throw new InvalidArgumentError('the leader of view 0 without peers cannot recover what a lost or old store lacks: give it its peers (--peers), '
        + 'or accept the risk with --unsafe-skip-recovery (a new log, or a store known to be complete)');
    }
    const recovery = new PrimaryStartup({
      host: this.opts.host, store: this.opts.store, rules: this.opts.rules, watch: this.opts.watch, log, peers, quorum: startup?.quorum,
      metrics: this.opts.metrics, appendAll: this.appendAll,
    });
    this.startup = recovery;
    void recovery.run().then(async (ready) => {
      this.startup = undefined;
      // The others may have moved on while this node was down: it learns their view before leading view 0.
      if (ready) await this.opts.pacemaker.askPeers();
      if (!ready || this.stopped || this.opts.pacemaker.curView !== 0) return;
      this.startTerm(0, undefined);
      log.info('leading view 0: synced to the highest header its peers hold signed with its key', { height: this.opts.store.tip.height });
    }, (e: Error) => log.error('view 0 start-up recovery failed; not leading', { error: e.message }));
  }

  /** A new view: the old term ends (before the view is entered); the view's leader starts its term in the background. */
  private async onView(view: number, entry: ViewEntryProof): Promise<void> {
    await this.endTerm();
    if (this.stopped) return;
    if (!this.leads(view)) {
      this.pending.reforward();
      return;
    }
    this.leading = view;
    void this.lead(view, entry).then(() => this.pending.reforward(), (e: Error) => {
      this.opts.log.error('could not start leading the view', { view, error: e.message });
      if (this.leading === view && !this.term) this.leading = undefined;
    });
  }

  /** Whether a client's submission waits unsequenced while the leader stores batches with room for it (T2). */
  censored(): boolean {
    return this.pending.censored();
  }

  private async endTerm(): Promise<void> {
    const term = this.term;
    this.term = undefined;
    this.leading = undefined;
    await this.startup?.stop();
    this.startup = undefined;
    await term?.primary.stop();
  }

  /**
   * Leads `view`: the store is brought to hold the TC's highest lock (hL) as its tip (synced from peers if it lacks
   * it, the abandoned view's batches above it removed), then the Primary seals on it, its first batch carrying the
   * justification. The removed batches' submissions are queued again.
   */
  private async lead(view: number, entry: ViewEntryProof): Promise<void> {
    const { store, finality, log } = this.opts;
    const high = highLock(entry.tc);
    const base = high?.height ?? -1;
    await this.follower.idle();
    if (high !== null && !(await this.holdBase(view, high))) return;
    // Locked but not final here: perhaps final elsewhere (then it is extended), else it is re-proposed.
    if (base > finality.finalizedHeight) await finality.askPeers();
    if (base < finality.finalizedHeight) {
      log.error('the view\'s highest lock is below this node\'s final height; not leading it', { view, lock: base, final: finality.finalizedHeight });
      return;
    }
    const requeue = await store.submissionsAbove(base);
    const justification = { tc: entry.tc, highLockCert: entry.highLockCert };
    const reproposing = high !== null && base > finality.finalizedHeight;
    if (reproposing && !(await this.repropose(view, base, justification))) return;
    if (store.tip.height > base) await store.truncate(base);
    if (this.leading !== view) return;
    this.startTerm(view, reproposing ? undefined : justification);
    log.info('leading the view', { view, base, reproposed: reproposing, requeued: requeue.length });
    for (const s of requeue) this.term?.primary.append(s).catch(() => {});
  }

  /**
   * Brings the store to hold the header of the view's highest lock at its height, syncing from peers (a few rounds)
   * when it holds another header there or none; false when it cannot, or the view moved on meanwhile.
   */
  private async holdBase(view: number, high: LockRef): Promise<boolean> {
    const { store, finality, log } = this.opts;
    for (let round = 0; ; round++) {
      if (this.leading !== view) return false;
      const stored = await finality.storedHeaderHash(high.height);
      if (stored && equalBytes(stored, high.headerHash)) return true;
      if (round >= BASE_SYNC_ROUNDS) {
        log.warn('cannot reach the header the view must extend; not leading it', { view, height: high.height });
        return false;
      }
      if (stored) await store.truncate(Math.max(finality.finalizedHeight, high.height - 1)); // another header there: refetch
      this.leading = undefined; // the follower may store while it syncs
      await this.follower.catchUp();
      await this.follower.idle();
      if (this.opts.pacemaker.curView !== view) return false;
      this.leading = view;
    }
  }

  /**
   * Re-proposes the locked header at `base` in `view` (its stored batch, only the header's view changed, signed anew,
   * with the view's justification) as the view's first header: stored with its lock vote, then published. It can
   * become final at once, with no new submission. False when the view moved on or the batch is gone.
   */
  private async repropose(view: number, base: number, justification: Justification): Promise<boolean> {
    const { store, rules, privateKey, watch, host, topic, log } = this.opts;
    const locked = await store.getBatch(base);
    if (!locked || this.leading !== view) return false;
    const batch = decodeBatch(locked.bytes);
    await store.truncate(base - 1);
    const prevTip = store.tip;
    const header = { ...batch.header, view };
    const signed = signHeader(rules.separator, header, privateKey);
    const bytes = encodeBatch({ ...signed, submissions: batch.submissions, justification });
    const tip = {
      height: base, headerHash: headerHash(rules.separator, header), nextSeq: header.firstSeq + header.count, headHash: header.headHash, timestamp: header.timestamp,
    };
    await this.appendAll([{ bytes, prevTip, tip, nonceKeys: batch.submissions.map((sub) => nonceKey(sub.sender, sub.nonce)) }]);
    await watch.stored(signed, 'own re-proposal').catch(() => {});
    host.publish(topic, bytes).catch((e: Error) => log.warn('publish failed; peers will sync', { error: e.message }));
    return this.leading === view;
  }

  private startTerm(view: number, justification: Justification | undefined): void {
    const primary = startPrimary(this.opts, { appendAll: this.appendAll, window: this.opts.finality, view, justification });
    this.term = { view, primary };
    this.leading = view;
    for (const l of [...this.termListeners]) l(view);
  }

  /**
   * Sequences the submission when leading the current view, otherwise forwards it to the leader; a forward that
   * finds no leader waits for the next view (the pacemaker counts it as pending work) and tries its leader.
   */
  append(s: Submission): Promise<Receipt> {
    const answered = this.route(s);
    this.pending.track(s, answered);
    return answered;
  }

  private async route(s: Submission): Promise<Receipt> {
    for (let attempt = 1; ; attempt++) {
      const view = this.opts.pacemaker.curView;
      try {
        if (this.term && this.term.view === view) return await this.sequence(this.term, s);
        if (this.leads(view)) throw new NotReadyError(this.startup?.notReady ?? `this node leads view ${view} but is not ready to sequence in it`);
        return await this.follower.append(s);
      } catch (e) {
        const unavailable = e instanceof NotReadyError || (e instanceof SequencerError && e.code === ErrorCode.PrimaryUnavailable);
        if (!unavailable || this.stopped) throw e;
        this.lastUnserved = performance.now();
        if (attempt >= FORWARD_ATTEMPTS || !(await this.viewOrTermAfter(view))) throw e;
      }
    }
  }

  /**
   * Sends submissions of removed soft batches to the current leader again (the same signed bytes: a submission the
   * log already holds is answered with its receipt, not sequenced twice). In order, in the background.
   */
  private resubmit(submissions: readonly Submission[]): void {
    this.opts.log.info('sending the submissions of abandoned batches to the leader again', { count: submissions.length });
    this.resubmitting = this.resubmitting.then(async () => {
      for (const s of submissions) {
        if (this.stopped) return;
        // Tracked as pending, like a client's: re-forwarded at each view change until a stored batch holds it.
        await this.append(s).catch((e: Error) => this.opts.log.warn('an abandoned submission could not be sent again', { error: e.message }));
      }
    });
  }

  /** The leader's sequencing, unless fault injection makes it censor the sender (then it never answers in time). */
  private sequence(term: Term, s: Submission): Promise<Receipt> {
    if (this.opts.unsafeCensor?.some((a) => equalBytes(a, s.sender))) {
      return new Promise((_, reject) => setTimeout(() => reject(new PrimaryUnavailableError('censored (fault injection)')), CENSOR_ANSWER_MS).unref());
    }
    return term.primary.append(s);
  }

  /**
   * Resolves true once the node is in a view after `view`, or leads `view` with its term started (a leader still
   * bringing its store to the view's base is not ready a moment: its clients wait for it rather than for another
   * view); false after FORWARD_RETRY_WAIT_MS.
   */
  private viewOrTermAfter(view: number): Promise<boolean> {
    if (this.opts.pacemaker.curView > view || this.term?.view === view) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (moved: boolean) => { clearTimeout(timer); offView(); offTerm(); resolve(moved); };
      const timer = setTimeout(() => done(false), FORWARD_RETRY_WAIT_MS);
      const offView = this.opts.pacemaker.onView(() => done(true));
      const offTerm = subscribe(this.termListeners, (started) => { if (started === view) done(true); });
    });
  }

  onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return this.follower.onGossip(bytes, fromPeer);
  }

  get halted(): string | undefined {
    return this.term?.primary.halted;
  }

  get notReady(): string | undefined {
    return this.startup?.notReady;
  }

  bondProblem(): string | null {
    return this.follower.bondProblem();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe) u();
    await this.endTerm();
    await this.follower.stop();
  }
}
