/**
 * Start-up of a validator that has no safety records (docs/protocol.md §Finality, Validator start-up): a new key, a
 * wiped or lost store, a replica turned validator. Its key may have signed votes its store no longer knows, so it
 * signs nothing until a quorum of the other validators has told it the highest height they saw a vote of its key
 * at (votes are gossiped to every node). Its lock votes then start above that height (and above its own stored tip
 * at start, which it never voted past in this store), once its log has caught up to it; the heights in between are
 * voted from the stored headers (Voter.enable). Likewise for timeouts: it learns the highest view its key timed out
 * (timeouts are gossiped to every node too) and signs nothing in that view again; until then it signs no timeout.
 *
 * A store that has safety records is trusted as current (a restored backup must have its 'V' records deleted,
 * which sends it down this path). While this runs the node verifies and stores batches as usual; only its votes wait.
 */
import { verifyHeaderSignature } from '../core/batch.ts';
import { fromHex } from '../core/bytes.ts';
import { InvariantError } from '../core/errors.ts';
import { CURRENT_VIEW, headerHash } from '../core/header.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import type { Host } from '../p2p/host.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { SafetySigner } from '../storage/safety-store.ts';
import { parseHighestHeader } from '../wire/status.ts';
import { LEADER_WINDOW } from './finality.ts';
import type { HeaderWatch } from './header-watch.ts';
import { requestStatus } from './log-service.ts';

export interface ValidatorStartupOptions {
  readonly host: Host;
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly signer: SafetySigner;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  readonly retryMs?: number;
  /**
   * Asks the peers how they entered their views and returns the view this node is in after checking their answers
   * (the pacemaker; absent in a log of one validator): the highest view whose timeout certificate it verified.
   */
  readonly learnView?: () => Promise<number>;
}

/** Whether a validator with this signer must recover before it votes: no safety records, in a set of more than one. */
export function needsRecovery(rules: LogRules, signer: SafetySigner): boolean {
  const s = signer.state;
  return rules.membership.n > 1 && s.lastLock === null && s.lastCommit === null && s.lastProposal === null && s.tmoView < 0 && s.lock === null;
}

/** The validator index of the address a status answer claims (an unsigned hint), or -1 (not one, or not an address). */
function addressIndex(rules: LogRules, address: string): number {
  try {
    return rules.membership.indexOf(fromHex(address, 20));
  } catch {
    return -1;
  }
}

export class ValidatorStartup {
  private readonly opts: ValidatorStartupOptions;
  private readonly self: number;
  /** Validator indices (other than self) whose status was received, by the address each status claims. */
  private readonly answered = new Set<number>();
  /** The height its votes must stay above: its tip at start, and the highest vote of its key reported so far. */
  private floor: number;
  /** The highest leader-signed header any answer carried (bounds the unsigned vote heights). */
  private highestHeader = -1;
  /** The highest view a timeout of its key was reported for (an unsigned hint, bounded by the verified view). */
  private ownTimeoutView = -1;
  private reason: string | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(opts: ValidatorStartupOptions) {
    this.opts = opts;
    this.self = opts.rules.membership.indexOf(opts.signer.address);
    this.floor = opts.store.tip.height;
    this.reason = this.waitingReason();
  }

  /** How many other validators must answer: a quorum of others (at most all of them). */
  private get needed(): number {
    const { n, quorum } = this.opts.rules.membership;
    return Math.min(quorum, n - 1);
  }

  /** Why the validator does not vote yet; undefined once it may. */
  get notReady(): string | undefined {
    return this.reason;
  }

  private waitingReason(): string {
    return `recovering before voting: ${this.answered.size} of the ${this.needed} other validators needed have reported what they hold`;
  }

  /** Asks and waits until it may vote; resolves true then (its safety state set), false if stopped first. */
  async run(): Promise<boolean> {
    const { store, signer, log, retryMs = 1000 } = this.opts;
    while (!this.stopped) {
      if (this.answered.size < this.needed) await this.askAll();
      if (this.answered.size >= this.needed) {
        if (store.tip.height >= this.floor) break;
        this.reason = `recovering before voting: syncing up to height ${this.floor}, the highest a validator reported (at ${store.tip.height})`;
      } else {
        this.reason = this.waitingReason();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    if (this.stopped) return false;
    // A timeout of its key reported for view w: it timed w out before its records were lost, so it signs no timeout
    // and no vote in w again (L1; a second, different timeout for w would be slashable, kind 6). A timeout is only
    // signed in the view a validator is in, so a claim above the highest view this node can verify is a lie: capped.
    const view = this.opts.learnView ? await this.opts.learnView() : 0;
    const timedOut = Math.min(this.ownTimeoutView, view);
    if (this.ownTimeoutView > view) log.warn('a validator reported a timeout of this key above any view it can show; capped', { reported: this.ownTimeoutView, view });
    if (timedOut >= 0) await signer.recoverTimedOut(timedOut);
    // Its lock votes start after the floor: at or below it, it may have voted before its records were lost.
    if (this.floor >= 0) {
      const held = await this.opts.watch.held(this.floor);
      if (!held) throw new InvariantError(`the header at height ${this.floor} is not held`);
      await signer.startAfter({ view: CURRENT_VIEW, height: this.floor, headerHash: headerHash(this.opts.rules.separator, held.header) });
    }
    this.reason = undefined;
    log.info('validator recovered: voting above the floor', { floor: this.floor, tip: store.tip.height, answered: this.answered.size, timedOutView: timedOut });
    return true;
  }

  private async askAll(): Promise<void> {
    const { host, rules, log } = this.opts;
    await Promise.all(host.connectedPeers().map(async (peer) => {
      let status;
      try {
        status = await requestStatus(host, peer);
      } catch (e) {
        log.debug('status request failed; will retry', { peer, error: (e as Error).message });
        return;
      }
      const index = typeof status.address === 'string' ? addressIndex(rules, status.address) : -1;
      if (index < 0 || index === this.self) return;
      let highest = -1;
      try {
        const signed = parseHighestHeader(status);
        if (signed) {
          verifyHeaderSignature(rules, signed);
          highest = signed.header.height;
        }
      } catch (e) {
        log.warn('a validator reported an invalid highest header; not counting its answer', { peer, error: (e as Error).message });
        return;
      }
      // The height of this key's votes it saw: an unsigned hint, so bounded by what signed headers make possible
      // (no vote is for a height above every header, and the leader seals at most its window ahead); a lie only
      // keeps this validator from voting a while longer.
      this.highestHeader = Math.max(this.highestHeader, highest);
      const seen = Array.isArray(status.voteHeights) ? status.voteHeights[this.self] : undefined;
      const ownVote = typeof seen === 'number' && Number.isSafeInteger(seen) ? Math.min(seen, this.highestHeader + LEADER_WINDOW) : -1;
      this.floor = Math.max(this.floor, ownVote);
      const timedOut = Array.isArray(status.timeoutViews) ? status.timeoutViews[this.self] : undefined;
      if (typeof timedOut === 'number' && Number.isSafeInteger(timedOut)) this.ownTimeoutView = Math.max(this.ownTimeoutView, timedOut);
      this.answered.add(index);
    }));
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}
