/**
 * Which batches a node follows across views (docs/protocol.md §View change, following a new view). Within a view the
 * chain only grows; a header of a later view than the node's chain tip is the first of its view and must carry its
 * justification (TC(view − 1) and the certificate of the TC's highest lock), which is checked before anything else
 * happens. It extends the highest lock, so the tentative suffix above that lock (soft headers of the abandoned view)
 * is removed from the store first (LogStore.truncate; never at or below the final height). Headers of a view older
 * than the node's are followed only up to the highest certified height (ancestors of what a quorum locked);
 * above it they belong to an abandoned view and are ignored.
 */
import { ZERO32, equalBytes, type Bytes } from '../core/bytes.ts';
import { decodeBatch, encodeBatch, type Tip } from '../core/batch.ts';
import { BatchRejectedError } from '../core/errors.ts';
import { headerHash, type Header } from '../core/header.ts';
import { checkViewEntry } from '../core/justification.ts';
import type { Logger } from '../core/logger.ts';
import type { Submission } from '../core/submission.ts';
import type { LogRules } from '../core/rules.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Finality } from './finality.ts';
import type { Pacemaker } from './pacemaker.ts';

export type GateDecision =
  /** Verify it against the tip as usual. */
  | { readonly kind: 'follow' }
  /**
   * Not for this node's chain now (an abandoned view, already held, or it does not attach yet: `sync` asks peers,
   * from `from` when the node must look below its tip for the first header of a view it missed).
   */
  | { readonly kind: 'ignore'; readonly sync: boolean; readonly from?: number };

export interface ViewGateOptions {
  readonly rules: LogRules;
  readonly store: LogStore;
  readonly pacemaker: Pacemaker;
  readonly finality: Finality;
  readonly log: Logger;
  /** Whether a validator (a view's leader) was caught equivocating (the header watch's proofs). */
  readonly convicted: (address: Uint8Array) => boolean;
  /**
   * Called with the submissions of the batches removed from the store (soft batches of an abandoned view): the owner
   * sends them to the current leader again, so what a client was told was sequenced is sequenced once more.
   */
  readonly abandoned?: (submissions: readonly Submission[]) => void;
}

export class ViewGate {
  private readonly opts: ViewGateOptions;

  constructor(opts: ViewGateOptions) {
    this.opts = opts;
  }

  /**
   * Whether a header is refused for its signer: a leader caught equivocating (T3), above the highest height a quorum
   * locked (below it, its headers are the certified chain every view extends, and are followed like any other).
   */
  refusesSigner(header: Header): boolean {
    return this.opts.convicted(this.opts.rules.membership.leaderOf(header.view)) && header.height > this.opts.finality.lockedHeight;
  }

  /**
   * Judges a header (its signature checked) before its batch is verified against `tip`, whose header is of view
   * `tipView` (-1 for an empty log). May enter the header's view and truncate the store (the caller has no write in
   * flight). Throws BatchRejectedError for a first header of a view whose justification does not hold.
   */
  async judge(header: Header, bytes: Uint8Array, tip: Tip, tipView: number): Promise<GateDecision> {
    const { pacemaker, finality, log } = this.opts;
    const abandoned = header.view < pacemaker.curView && header.height > finality.lockedHeight;
    // View 0 starts the log with no justification; an empty log (tipView -1) follows it.
    if (header.view <= Math.max(tipView, 0)) return header.view < tipView || abandoned ? { kind: 'ignore', sync: false } : { kind: 'follow' };
    const justification = decodeBatch(bytes).justification;
    const attaches = header.height === tip.height + 1 && equalBytes(header.prevHeaderHash, tip.headerHash);
    if (!justification?.tc) {
      if (attaches) throw new BatchRejectedError(`the first header of view ${header.view} carries no timeout certificate`);
      // A later header of a view whose first header this node lacks, perhaps below its own (abandoned) tip.
      return { kind: 'ignore', sync: true, from: finality.finalizedHeight + 1 };
    }
    const entry = checkViewEntry(this.opts.rules, header, justification);
    if (header.view > pacemaker.curView) await pacemaker.enter({ tc: entry.tc, highLockCert: entry.highLockCert });
    if (abandoned) return { kind: 'ignore', sync: false };
    if (tip.height >= header.height) {
      const held = await finality.storedHeaderHash(header.height);
      if (held && equalBytes(held, headerHash(this.opts.rules.separator, header))) return { kind: 'ignore', sync: false };
    }
    const base = header.height - 1;
    const final = finality.finalizedHeight;
    const high = entry.viewEntry.highLock;
    if (entry.viewEntry.reproposal && header.height === final && high !== null && equalBytes(high.headerHash, finality.finalizedHeaderHash ?? ZERO32)) {
      // The new leader re-proposes this node's final header (no peer it asked held it final): the same entries under
      // the new view. The content stays final; the header becomes the new view's, so that its chain attaches here.
      await this.replaceFinal(header, bytes);
      return { kind: 'ignore', sync: false };
    }
    if (base < final) {
      log.error('a view starts below this node\'s final height: not following it', { view: header.view, height: header.height, final });
      return { kind: 'ignore', sync: false };
    }
    if (tip.height < base) return { kind: 'ignore', sync: true };
    const stored: Bytes | undefined = base < 0 ? ZERO32 : await finality.storedHeaderHash(base);
    if (stored === undefined || !equalBytes(stored, header.prevHeaderHash)) {
      // This node's tentative chain left the certified one below `base`: all of it above the final height goes.
      log.warn('the new view extends a header this node does not hold; dropping its tentative batches', { view: header.view, from: final + 1 });
      await this.truncate(final);
      return { kind: 'ignore', sync: true };
    }
    if (tip.height > base) {
      log.info('new view: dropping the abandoned view\'s batches above its highest lock', { view: header.view, from: base + 1, to: tip.height });
      await this.truncate(base);
    }
    return { kind: 'follow' };
  }

  /**
   * A commit certificate names another header at `height` than the one stored: the stored batches from there up
   * are a branch no quorum follows (kept while this node was away); they go, their submissions handed on.
   */
  async dropBranch(height: number): Promise<void> {
    const keep = Math.max(height - 1, this.opts.finality.finalizedHeight);
    if (keep >= this.opts.store.tip.height) return;
    this.opts.log.warn('dropping stored batches no quorum follows', { from: keep + 1, to: this.opts.store.tip.height });
    await this.truncate(keep);
  }

  /**
   * Replaces the final header by its re-proposal (checked by checkViewEntry to differ from it only in its view, its
   * signature checked by the caller): the stored entries under the new header, signature and justification, so
   * nothing of the batch's body is taken from the relay. The abandoned view's batches above it go, as on entering.
   */
  private async replaceFinal(header: Header, bytes: Uint8Array): Promise<void> {
    const { store, rules, abandoned, log } = this.opts;
    const kept = await store.getBatch(header.height);
    if (!kept) return;
    const incoming = decodeBatch(bytes);
    const replaced = encodeBatch({ header, signature: incoming.signature, submissions: decodeBatch(kept.bytes).submissions, justification: incoming.justification });
    const tip = {
      height: header.height, headerHash: headerHash(rules.separator, header), nextSeq: header.firstSeq + header.count, headHash: header.headHash, timestamp: header.timestamp,
    };
    const removed = await this.submissionsAbove(header.height);
    log.warn('the new view re-proposes this node\'s final header: same entries, the new view\'s header', { view: header.view, height: header.height });
    await store.replaceFinal(replaced, tip);
    if (removed.length > 0) abandoned?.(removed);
  }

  /** The submissions of the stored batches above `height` (handed on when they are removed), if anyone takes them. */
  private submissionsAbove(height: number): Promise<readonly Submission[]> {
    return this.opts.abandoned ? this.opts.store.submissionsAbove(height) : Promise.resolve([]);
  }

  /** Removes the batches above `height`, handing their submissions to `abandoned`. */
  private async truncate(height: number): Promise<void> {
    const { store, abandoned } = this.opts;
    const removed = await this.submissionsAbove(height);
    await store.truncate(height);
    if (removed.length > 0) abandoned?.(removed);
  }
}
