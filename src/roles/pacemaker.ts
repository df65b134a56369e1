/**
 * The pacemaker (docs/protocol.md §View change): which view this node is in, when a validator gives up on the view's
 * leader, and how the network moves on. A validator signs a Timeout for its view (through the SafetySigner: persisted
 * first, and it never votes in that view again) when the view makes no progress for T(v) while work is pending (T1),
 * or when f + 1 validators already want out (T4: at least one honest one does). Timeouts travel on their own topic
 * with the certificate of the lock they report; every node counts them, and q timeouts of one view are a timeout
 * certificate (TC), which moves every node to the next view and is published for the nodes that missed timeouts. The
 * new view's leader proposes on the TC's highest lock (roles/validator-role.ts).
 *
 * Bounded whatever peers send: per validator only its highest-view timeout is kept, timeouts of views below the
 * current one are ignored unverified, and each is verified once.
 */
import type { Certificate, CheckedCertificate, CheckedTimeoutCertificate, TimeoutCertificate } from '../core/certificate.ts';
import { compareRank, highLock } from '../core/certificate.ts';
import { equalBytes, fromHex, toHex } from '../core/bytes.ts';
import { subscribe } from '../core/listeners.ts';
import type { LockRef } from '../core/vote.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import {
  buildTimeoutCertificate, checkTimeoutCertificateWithLock, checkTimeoutMessage, decodeTimeoutTopicMessage, encodeTimeoutTopicMessage,
  type CheckedTimeoutMessage, type TimeoutMessage,
} from '../core/timeout.ts';
import type { Host } from '../p2p/host.ts';
import type { SafetySigner } from '../storage/safety-store.ts';
import { timeoutTopic } from '../wire/p2p-messages.ts';
import { requestStatus } from './log-service.ts';
import type { Verdict } from './role.ts';

/** T(v) = base × 2^min(k, MAX_BACKOFF_EXPONENT), k = views entered since finality last advanced, not counting views skipped on T3. */
export const DEFAULT_VIEW_TIMEOUT_MS = 1_000;
const MAX_BACKOFF_EXPONENT = 5;
/** How often the view timer looks at the clock: the resolution of T(v). */
const TICK_MS = 50;

/** How a view was entered: TC(view − 1), and the certificate of its highest lock (absent when that lock is ⊥). */
export interface ViewEntryProof {
  readonly tc: CheckedTimeoutCertificate;
  readonly highLockCert?: CheckedCertificate;
}

export interface PacemakerOptions {
  readonly host: Host;
  readonly rules: LogRules;
  readonly log: Logger;
  /** A validator's signer (it times out and persists its view); observers have none and only follow. */
  readonly signer?: SafetySigner;
  /** Whether the view has work it should be making progress on (headers above the final height, pending submissions). */
  readonly workPending: () => boolean | Promise<boolean>;
  /** Whether a submission is being censored: pending long while the leader stores batches without it (T2). */
  readonly censored?: () => boolean;
  /** When a vote of `view` was last counted (performance.now()): votes flowing are progress too (T1). */
  readonly lastVoteOf?: (view: number) => number;
  /** Whether this node holds an equivocation proof against the leader of `view` (T3). */
  readonly leaderConvicted?: (view: number) => boolean;
  /** T(v) before back-off (the node's default: DEFAULT_VIEW_TIMEOUT_MS). 0: this validator never times a view out (it still follows view changes the others make). */
  readonly baseTimeoutMs?: number;
  /**
   * Whether the validator may sign timeouts now (default: always). A validator recovering from a lost store may not
   * until it has learned which views its key timed out before (roles/validator-startup.ts).
   */
  readonly maySign?: () => boolean;
}

export class Pacemaker {
  private readonly opts: PacemakerOptions;
  private readonly topic: string;
  private view: number;
  /** Per validator index, its highest-view checked timeout (views ≥ the current one). */
  private readonly latest = new Map<number, CheckedTimeoutMessage>();
  /** Per validator index, the highest view of a verified timeout of it (-1: none): status `timeoutViews`. */
  private readonly timedOutViews: number[];
  private lastProgress = performance.now();
  private lastTick = performance.now();
  /** Views entered since finality last advanced: the back-off exponent. */
  private failedViews = 0;
  private lastPublished = 0;
  private ownTimeout: CheckedTimeoutMessage | undefined;
  private highestEntry: ViewEntryProof | undefined;
  private readonly viewListeners: ((view: number, entry: ViewEntryProof) => void | Promise<void>)[] = [];
  private readonly timeoutListeners: ((t: CheckedTimeoutMessage) => void)[] = [];
  private readonly conflictListeners: ((first: CheckedTimeoutMessage, second: CheckedTimeoutMessage) => void)[] = [];
  /** (validator, view) pairs already shown to conflict: one proof each, and no more verification for them. */
  private readonly conflicted = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private entering: Promise<void> = Promise.resolve();
  private timingOut = false;
  private checking = false;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private entered = 0;

  constructor(opts: PacemakerOptions) {
    this.opts = opts;
    this.topic = timeoutTopic(opts.rules.logId);
    this.view = opts.signer?.state.curView ?? 0;
    this.timedOutViews = opts.rules.membership.validators.map(() => -1);
  }

  /** Subscribes to the timeouts topic and starts the view timer (validators only time out; everyone follows). */
  start(): void {
    this.opts.host.subscribe(this.topic, (data, from) => this.onGossip(data, from));
    // A peer connecting may be in a later view (this node restarted, or was cut off): it says how it got there.
    this.unsubscribe = this.opts.host.onPeerConnected(() => void this.askPeers());
    void this.askPeers();
    if (this.opts.signer && this.opts.rules.membership.n > 1 && (this.opts.baseTimeoutMs ?? 0) > 0) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
  }

  get curView(): number {
    return this.view;
  }

  /** Views this node entered since it started (sequencer_info `viewChanges`). */
  get viewChanges(): number {
    return this.entered;
  }

  /** The timeout certificate (and lock certificate) that ended the view before the current one, if this node saw it. */
  get entry(): ViewEntryProof | undefined {
    return this.highestEntry;
  }

  /** The status answer's `viewEntry`: the TC (and highest-lock certificate) this node entered its view on, hex. */
  entryHex(): string | null {
    const entry = this.highestEntry;
    return entry ? toHex(encodeTimeoutTopicMessage({ kind: 'tc', tc: entry.tc, highLockCert: entry.highLockCert })) : null;
  }

  /**
   * Asks the connected peers how they entered their views (status `viewEntry`) and enters the highest valid one above
   * its own: a node that restarted, or was away during a view change, learns the view at once instead of from the
   * next view's first header. Invalid answers are ignored. Bounded by the status requests' own timeouts.
   */
  async askPeers(): Promise<void> {
    const { host, log } = this.opts;
    await Promise.all(host.connectedPeers().map(async (peer) => {
      try {
        const hex = (await requestStatus(host, peer)).viewEntry;
        if (typeof hex !== 'string') return;
        const decoded = decodeTimeoutTopicMessage(fromHex(hex));
        if (decoded.kind !== 'tc' || decoded.tc.view < this.view) return;
        await this.enter(this.checkEntry(decoded.tc, decoded.highLockCert));
      } catch (e) {
        log.debug('no usable view entry from a peer', { peer, error: (e as Error).message });
      }
    }));
  }

  /** T(curView): how long the view may go without progress while work is pending; null when this node never times out. */
  get viewTimeoutMs(): number | null {
    const base = this.opts.signer ? this.opts.baseTimeoutMs ?? 0 : 0;
    return base > 0 ? base * 2 ** Math.min(this.failedViews, MAX_BACKOFF_EXPONENT) : null;
  }

  /**
   * Per validator index, the highest view this node verified a timeout of it for since it started (-1: none): the
   * status answer's `timeoutViews`, which a validator recovering from a lost store reads to learn its own.
   */
  timeoutViews(): number[] {
    return [...this.timedOutViews];
  }

  /** The view this validator last timed out (-1: none). */
  get timedOutView(): number {
    return this.opts.signer?.state.tmoView ?? -1;
  }

  /**
   * Calls `listener` after this node entered a new view (persisted first, for a validator); entering waits for what
   * it returns (a leader's term of the old view ending), so it must not wait for the entering itself.
   */
  onView(listener: (view: number, entry: ViewEntryProof) => void | Promise<void>): () => void {
    return subscribe(this.viewListeners, listener);
  }

  /** Calls `listener` with every other validator's timeout this node verified (accountability: lock lies, kind 5). */
  onTimeout(listener: (t: CheckedTimeoutMessage) => void): () => void {
    return subscribe(this.timeoutListeners, listener);
  }

  /** Calls `listener` with two different verified timeouts of one validator for one view (kind 6). */
  onConflict(listener: (first: CheckedTimeoutMessage, second: CheckedTimeoutMessage) => void): () => void {
    return subscribe(this.conflictListeners, listener);
  }

  /** Something moved in the current view (a header of it stored, a certificate of it formed): the timer restarts. */
  progress(): void {
    this.lastProgress = performance.now();
  }

  /** Finality advanced: progress, and the back-off starts over. */
  finalized(): void {
    this.failedViews = 0;
    this.progress();
  }

  private tick(): void {
    const now = performance.now();
    // Time this node's event loop was stalled (the tick came late) is not time the view failed to progress: what
    // arrived meanwhile is still queued behind this tick. It does not count towards T(v).
    const stalled = now - this.lastTick - TICK_MS;
    this.lastTick = now;
    if (stalled > TICK_MS) this.lastProgress = Math.min(now, this.lastProgress + stalled);
    if (this.stopped || this.timingOut || this.checking || this.opts.maySign?.() === false) return;
    const signer = this.opts.signer!;
    if (signer.state.tmoView >= this.view) {
      // Timed out, still in the view: the timeout is sent again every T(v) (gossip may have lost it).
      if (this.ownTimeout && now - this.lastPublished >= this.viewTimeoutMs!) this.publish(this.ownTimeout);
      return;
    }
    if (this.opts.leaderConvicted?.(this.view)) {
      void this.timeOut('an equivocation proof against the leader is held');
      return;
    }
    if (this.opts.censored?.()) {
      void this.timeOut('a pending submission is not sequenced although the leader stores batches (censorship)');
      return;
    }
    const lastProgress = Math.max(this.lastProgress, this.opts.lastVoteOf?.(this.view) ?? -Infinity);
    if (now - lastProgress < this.viewTimeoutMs!) return;
    this.checking = true;
    void (async () => {
      try {
        if (await this.opts.workPending()) await this.timeOut('no progress');
      } catch (e) {
        this.opts.log.warn('could not tell whether work is pending', { error: (e as Error).message });
      } finally {
        this.checking = false;
      }
    })();
  }

  /** Signs (persisted first) and publishes a timeout of the current view, and counts it. */
  private async timeOut(reason: string): Promise<void> {
    const signer = this.opts.signer;
    if (!signer || this.timingOut || this.opts.maySign?.() === false) return;
    const view = this.view;
    if (signer.state.tmoView >= view || view < signer.state.floorView) return;
    this.timingOut = true;
    try {
      const signed = await signer.signTimeout(view);
      const index = this.opts.rules.membership.indexOf(signer.address);
      const message = checkTimeoutMessage(this.opts.rules, {
        view: signed.view, lock: signed.lock, signerIndex: index, signature: signed.signature,
        certificate: signed.lock === null ? undefined : signer.lockCertificate,
      });
      this.opts.log.warn('timing out the view', { view, reason, leader: index === undefined ? undefined : view % this.opts.rules.membership.n });
      this.ownTimeout = message;
      this.publish(message);
      this.count(index, message);
    } catch (e) {
      this.opts.log.warn('could not time out the view', { view, error: (e as Error).message });
    } finally {
      this.timingOut = false;
    }
  }

  private publish(message: CheckedTimeoutMessage): void {
    this.lastPublished = performance.now();
    this.opts.host.publish(this.topic, encodeTimeoutTopicMessage({ kind: 'timeout', message }))
      .catch((e: Error) => this.opts.log.debug('timeout publish failed', { error: e.message }));
  }

  /**
   * GossipSub validator of the timeouts topic: malformed or invalid messages are REJECTED; timeouts and TCs of views
   * below the current one, and timeouts already held, are IGNORED unverified; the rest is counted, ACCEPT.
   */
  async onGossip(data: Uint8Array, from: string): Promise<Verdict> {
    let decoded;
    try {
      decoded = decodeTimeoutTopicMessage(data);
    } catch (e) {
      this.opts.log.debug('malformed timeout message', { from, error: (e as Error).message });
      return 'reject';
    }
    try {
      if (decoded.kind === 'tc') {
        if (decoded.tc.view < this.view) return 'ignore';
        const entry = this.checkEntry(decoded.tc, decoded.highLockCert);
        void this.enter(entry);
        return 'accept';
      }
      const m = decoded.message;
      if (m.view < this.view || m.signerIndex >= this.opts.rules.membership.n) return m.signerIndex >= this.opts.rules.membership.n ? 'reject' : 'ignore';
      const held = this.latest.get(m.signerIndex);
      if (held && held.view === m.view && !sameLock(held.lock, m.lock)) return this.conflict(held, m);
      if (held && held.view >= m.view) return 'ignore';
      const checked = checkTimeoutMessage(this.opts.rules, m);
      for (const l of [...this.timeoutListeners]) l(checked);
      this.count(checked.signerIndex, checked);
      return 'accept';
    } catch (e) {
      this.opts.log.debug('timeout message refused', { from, error: (e as Error).message });
      return 'reject';
    }
  }

  /** A second, different timeout of one validator for one view: verified once per (validator, view), then evidence. */
  private conflict(held: CheckedTimeoutMessage, m: TimeoutMessage): Verdict {
    const slot = `${m.signerIndex}:${m.view}`;
    if (this.conflicted.has(slot)) return 'ignore';
    const checked = checkTimeoutMessage(this.opts.rules, m);
    this.conflicted.add(slot);
    this.opts.log.warn('a validator signed two different timeouts for one view', { validator: m.signerIndex, view: m.view });
    for (const l of [...this.conflictListeners]) l(held, checked);
    return 'accept';
  }

  /** Checks a TC (and the certificate of its highest lock) as a view entry: the lock certificate must match exactly. */
  checkEntry(tc: TimeoutCertificate, cert: Certificate | undefined): ViewEntryProof {
    return checkTimeoutCertificateWithLock(this.opts.rules, tc, cert);
  }

  private count(index: number, m: CheckedTimeoutMessage): void {
    if (m.view > (this.timedOutViews[index] ?? -1)) this.timedOutViews[index] = m.view;
    const held = this.latest.get(index);
    if (held && held.view >= m.view) return;
    this.latest.set(index, m);
    const { membership } = this.opts.rules;
    const same = [...this.latest.values()].filter((t) => t.view === m.view);
    if (same.length >= membership.quorum && m.view >= this.view) {
      const tc = buildTimeoutCertificate(membership.n, m.view, same);
      const high = highLock(tc);
      const certHolder = high === null ? undefined : same.find((t) => t.lock !== null && compareRank(t.lock, high) === 0 && equalBytes(t.lock.headerHash, high.headerHash) && t.certificate);
      let entry: ViewEntryProof;
      try {
        entry = checkTimeoutCertificateWithLock(this.opts.rules, tc, certHolder?.certificate);
      } catch (e) {
        // Each timeout checked on its own: only locks that two signers certified differently at one rank get here.
        this.opts.log.warn('the timeouts of a view do not make a usable certificate', { view: m.view, error: (e as Error).message });
        return;
      }
      this.opts.host.publish(this.topic, encodeTimeoutTopicMessage({ kind: 'tc', tc: entry.tc, highLockCert: entry.highLockCert }))
        .catch((e: Error) => this.opts.log.debug('TC publish failed', { error: e.message }));
      void this.enter(entry);
      return;
    }
    // T4: f + 1 validators want out of the current view: at least one honest one does, so this one follows.
    const wanting = [...this.latest.values()].filter((t) => t.view === this.view).length;
    if (m.view === this.view && wanting >= membership.f + 1) void this.timeOut('f + 1 validators timed out');
  }

  /** Enters view tc.view + 1 (persisted first for a validator), if above the current one. Serialised. */
  enter(entry: ViewEntryProof): Promise<void> {
    this.entering = this.entering.then(async () => {
      const view = entry.tc.view + 1;
      if (this.stopped || view <= this.view) return;
      if (this.opts.signer && view > this.opts.signer.state.curView) await this.opts.signer.enterView(view);
      this.view = view;
      this.highestEntry = entry;
      // A view left because its leader is proven to equivocate (T3) was skipped, not waited out: it says nothing
      // about how slow the network is, so it does not lengthen the next views' timeouts.
      if (!this.opts.leaderConvicted?.(entry.tc.view)) this.failedViews++;
      this.entered++;
      this.ownTimeout = undefined;
      this.progress();
      for (const [i, t] of this.latest) if (t.view < view) this.latest.delete(i);
      this.opts.log.info('entered a new view', { view, leader: view % this.opts.rules.membership.n });
      await Promise.all(this.viewListeners.map((l) => l(view, entry)));
    }).catch((e: Error) => this.opts.log.error('could not enter the next view', { error: e.message }));
    return this.entering;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    await this.entering;
  }
}

/** Whether two reported locks are the same (⊥ equals only ⊥). */
function sameLock(a: LockRef | null, b: LockRef | null): boolean {
  if (a === null || b === null) return a === b;
  return a.view === b.view && a.height === b.height && equalBytes(a.headerHash, b.headerHash);
}
