/**
 * The replica role: follows the primary's log (Replica: verifies every batch from gossip or sync before storing
 * it), learns which peer is the primary (PrimaryLink), and forwards appends to it, showing each receipt's header
 * to the HeaderWatch. While the primary's bond does not back it, it neither fetches nor stores batches from
 * gossip (their headers are still judged: an equivocation is caught all the same), and catches up as soon as
 * the bond backs it again.
 */
import { ErrorCode, HaltedError, SequencerError } from '../core/errors.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import type { Logger } from '../core/logger.ts';
import type { Receipt } from '../core/receipt.ts';
import type { LogRules } from '../core/rules.ts';
import type { Submission } from '../core/submission.ts';
import type { Bytes } from '../core/bytes.ts';
import type { Host } from '../p2p/host.ts';
import { StoreFaultError, type AppendBatch, type LogStore } from '../storage/log-store.ts';
import { proofToJson } from '../wire/json.ts';
import type { HeaderWatch } from './header-watch.ts';
import type { NodeMetrics } from './metrics.ts';
import { PrimaryLink } from './primary-link.ts';
import { Replica } from './replica.ts';
import type { BondTrust, Role, Verdict } from './role.ts';
import type { ViewGate } from './view-gate.ts';

export interface ReplicaRoleOptions {
  readonly host: Host;
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  readonly bond?: BondTrust;
  /** Where refused batches and sync requests are counted (default: nowhere). */
  readonly metrics?: NodeMetrics;
  /** How verified batches are stored (a validator's Voter: with its lock votes; default LogStore.appendAll). */
  readonly appendAll?: (appends: readonly AppendBatch[]) => Promise<void>;
  /** View changes (logs of more than one validator): the gate for headers of other views, and the current leader. */
  readonly views?: ViewGate;
  readonly leader?: () => Bytes;
  /** While true nothing is stored from gossip or sync (a validator leading its view writes its own batches). */
  readonly paused?: () => boolean;
}

export class ReplicaRole implements Role {
  readonly kind = 'replica';
  readonly peerRecord = undefined;
  readonly halted = undefined;
  readonly notReady = undefined;
  private readonly opts: ReplicaRoleOptions;
  private readonly link: PrimaryLink;
  private readonly replica: Replica;
  private readonly unsubscribe: (() => void)[];

  constructor(opts: ReplicaRoleOptions) {
    this.opts = opts;
    const { host, store, rules, watch, log, bond, metrics, appendAll } = opts;
    const link = new PrimaryLink(host, rules, log, opts.leader);
    // While the primary's bond does not back it, no batch is fetched, nor stored from gossip (mayStore).
    const mayStore = () => !this.bondProblem() && !(opts.paused?.() ?? false);
    // A leader's own writes pause storing, not asking: what peers send still shows it a view change it missed.
    const source = { peers: () => (this.bondProblem() ? [] : link.peers()), fetch: link.fetch.bind(link) };
    const replica = new Replica({ store, rules, log, watch, source, metrics, appendAll, mayStore, views: opts.views });
    this.link = link;
    this.replica = replica;
    this.unsubscribe = [
      host.onPeerConnected((peer) => {
        void link.learnStatus(peer);
        void replica.catchUp();
      }),
    ];
    // The host dials its peers before the role exists (the node reads its store in between): peers connected
    // meanwhile raised their event to nobody, so they are asked now.
    for (const peer of host.connectedPeers()) void link.learnStatus(peer);
    if (bond) this.unsubscribe.push(bond.onChange(() => { if (!this.bondProblem()) void replica.catchUp(); }));
    replica.start();
  }

  /**
   * Forwards to the primary; the receipt's header is judged against everything held before it is returned.
   * A receipt that conflicts with a held header is not a success: -32009 halted, with the proof
   * (docs/protocol.md §Append forwarding). The primary did sequence the submission, so a storage fault while
   * judging it does not turn its checked receipt into an error: it is logged.
   */
  async append(s: Submission): Promise<Receipt> {
    const bondProblem = this.bondProblem();
    if (bondProblem) throw new HaltedError(bondProblem);
    const receipt = await this.link.forward(s);
    let proof: EquivocationProof | null;
    try {
      proof = await this.opts.watch.check(receipt, 'receipt forwarded from the primary');
    } catch (e) {
      if (!(e instanceof StoreFaultError)) throw e;
      this.opts.log.warn('storage fault: the forwarded receipt is returned without being judged against the log', {
        height: receipt.header.height, error: e.message,
      });
      return receipt;
    }
    if (proof) {
      throw new SequencerError(ErrorCode.Halted, 'node halted: the primary equivocated: its receipt conflicts with a header this node holds',
        { proof: proofToJson(proof) });
    }
    return receipt;
  }

  /** Drops the stored branch from `height` up (a commit certificate names another header there), then syncs. */
  /** Replica.refusedFutureBatchSince: a batch of `view` not valid yet by this clock within the last `ms`. */
  refusedFutureBatchSince(view: number, ms: number): boolean {
    return this.replica.refusedFutureBatchSince(view, ms);
  }

  dropBranch(height: number): Promise<void> {
    const views = this.opts.views;
    return views ? this.replica.between(() => views.dropBranch(height)) : Promise.resolve();
  }

  /** Resolves once no batch is being judged or written. */
  idle(): Promise<void> {
    return this.replica.idle();
  }

  /** Fetches what peers hold above the tip (a new leader that lacks its view's base). */
  catchUp(): Promise<void> {
    return this.replica.catchUp();
  }

  /** Batches are stored only while the bond backs the primary (mayStore), but every header is judged. */
  onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return this.replica.onGossip(bytes, fromPeer);
  }

  /** A replica stops following while the bond cannot be read, too. */
  bondProblem(): string | null {
    return this.opts.bond?.distrust() ?? null;
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe) u();
    await this.replica.stop();
  }
}
