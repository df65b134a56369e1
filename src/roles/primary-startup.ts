/**
 * A primary's start-up recovery (docs/protocol.md §Primary start-up). A primary restarted on an empty or older
 * database would otherwise sign again heights its peers already hold, which is equivocation, and slashable.
 * So before the primary signs anything, this asks the configured peers (all of them, or a quorum the operator
 * chose) for the highest header signed with its key (status `highestHeader`), verifies each, and syncs the log
 * up to the highest one exactly as a replica does (the Replica role verifies and stores every batch). Only then
 * is the node's Primary created. Until then the node answers appends with NotReadyError and the reason given here.
 */
import { verifyHeaderSignature } from '../core/batch.ts';
import type { LogRules } from '../core/rules.ts';
import type { SignedHeader } from '../core/header.ts';
import type { Host } from '../p2p/host.ts';
import type { AppendBatch, LogStore } from '../storage/log-store.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';
import { parseHighestHeader } from '../wire/status.ts';
import { fetchBatches, requestStatus } from './log-service.ts';
import type { NodeMetrics } from './metrics.ts';
import { Replica } from './replica.ts';
import type { Verdict } from './role.ts';
import { InvalidArgumentError } from '../core/errors.ts';

/** While nothing changes, the reason the primary waits is logged again this often. */
const RELOG_MS = 30_000;

export interface PrimaryStartupOptions {
  readonly host: Host;
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  /** Peer ids of the configured peers (--peers), at least one. */
  readonly peers: readonly string[];
  /**
   * How many of `peers` must answer before the primary proceeds (1..peers.length; default all). Fewer than all
   * lets a primary start while some peers are gone, at a price: a header only those peers hold is signed again.
   */
  readonly quorum?: number;
  /** Pause between rounds while waiting for peers or for batches. */
  readonly retryMs?: number;
  /** Where refused batches and sync requests are counted (default: nowhere). */
  readonly metrics?: NodeMetrics;
  /** Stores what recovery syncs (see ReplicaOptions.appendAll: a validator votes on it). */
  readonly appendAll?: (appends: readonly AppendBatch[]) => Promise<void>;
}

export class PrimaryStartup {
  private readonly opts: PrimaryStartupOptions;
  private readonly quorum: number;
  private readonly replica: Replica;
  private readonly answered = new Set<string>();
  /** The highest verified header signed by this key that a peer reported. */
  private reported: SignedHeader | undefined;
  private reason: string | undefined;
  private finished = false;
  private wake: (() => void) | undefined;

  constructor(opts: PrimaryStartupOptions) {
    this.opts = opts;
    const { host, rules } = opts;
    this.quorum = opts.quorum ?? opts.peers.length;
    if (!(Number.isSafeInteger(this.quorum) && this.quorum >= 1 && this.quorum <= opts.peers.length)) {
      throw new InvalidArgumentError(`the recovery quorum must be between 1 and the number of configured peers (${opts.peers.length}), not ${this.quorum}`);
    }
    const configured = new Set(opts.peers);
    this.replica = new Replica({
      store: opts.store, rules, log: opts.log, watch: opts.watch, metrics: opts.metrics, appendAll: opts.appendAll,
      source: {
        // Any connected peer may serve the batches (each one is verified); configured peers first.
        peers: () => {
          const connected = host.connectedPeers();
          return [...connected.filter((p) => configured.has(p)), ...connected.filter((p) => !configured.has(p))];
        },
        fetch: (peer, fromHeight) => fetchBatches(host, rules, peer, fromHeight),
      },
    });
    this.reason = this.waitingReason();
  }

  /** Why the primary may not sign yet; undefined once recovery is complete. */
  get notReady(): string | undefined {
    return this.reason;
  }

  /** Gossip while recovering is handled as a replica would (a verified successor of the tip is stored). */
  onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return this.finished ? Promise.resolve('ignore') : this.replica.onGossip(bytes, fromPeer);
  }

  /**
   * Rounds of asking and syncing until the log holds every header a peer reported signed by this key. Resolves
   * true then (the replica role is stopped: the caller may start the primary), or false if stopped first.
   */
  async run(): Promise<boolean> {
    const { log, retryMs = 1000 } = this.opts;
    let logged: string | undefined;
    let loggedAt = 0;
    while (!this.finished) {
      const blocker = await this.round();
      if (blocker === undefined) break;
      this.reason = blocker;
      if (blocker !== logged || Date.now() - loggedAt > RELOG_MS) {
        const stuck = this.answered.size >= this.quorum;
        log[stuck ? 'warn' : 'info'](stuck ? 'primary not ready: cannot sync to the highest header signed with its key' : 'primary not ready: waiting for peers', {
          reason: blocker, tip: this.opts.store.tip.height,
        });
        logged = blocker;
        loggedAt = Date.now();
      }
      if (this.finished) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    const completed = !this.finished;
    this.finished = true;
    await this.replica.stop();
    if (completed) this.reason = undefined;
    const unasked = this.waitingFor();
    if (completed && unasked.length > 0 && !this.primaryConvicted()) {
      log.warn('primary proceeds without the status of some configured peers (recovery quorum reached): a header only they hold would be signed again', {
        quorum: this.quorum, unanswered: unasked,
      });
    }
    return completed;
  }

  async stop(): Promise<void> {
    this.finished = true;
    this.wake?.();
    await this.replica.stop();
  }

  private waitingFor(): string[] {
    return this.opts.peers.filter((p) => !this.answered.has(p));
  }

  /** What the primary waits for while fewer than `quorum` peers have answered. */
  private waitingReason(): string {
    const waiting = this.waitingFor().join(', ');
    if (this.quorum === this.opts.peers.length) return `waiting for the status of configured peers ${waiting}`;
    return `waiting for the status of ${this.quorum - this.answered.size} more of configured peers ${waiting} (recovery quorum ${this.quorum} of ${this.opts.peers.length})`;
  }

  /** One round: ask the connected peers that have not answered (all of them, even once the quorum has), then sync. Returns what still blocks, or undefined when done. */
  private async round(): Promise<string | undefined> {
    const { host, store, watch } = this.opts;
    // An equivocation on record halts the primary as soon as it is created; nothing to recover for.
    if (this.primaryConvicted()) return undefined;
    const connected = new Set(host.connectedPeers());
    await Promise.all(this.waitingFor().filter((p) => connected.has(p)).map((p) => this.ask(p)));
    if (this.answered.size < this.quorum) return this.waitingReason();
    // Headers seen ahead of the tip (gossip, an earlier run of this recovery) count too: they are durable.
    const target = Math.max(this.reported?.header.height ?? -1, watch.highestSeen()?.header.height ?? -1);
    if (store.tip.height >= target) return undefined;
    this.reason = `syncing up to height ${target}, the highest header signed with this key that a peer holds (at height ${store.tip.height})`;
    await this.replica.catchUp();
    if (this.primaryConvicted() || store.tip.height >= target) return undefined;
    return `a header for height ${target} is signed with this key, but no peer served the batches after height ${store.tip.height}`;
  }

  /** Asks one peer; a peer counts as answered once it sent a status, whatever it holds. */
  private async ask(peer: string): Promise<void> {
    const { rules, watch, log } = this.opts;
    let signed: SignedHeader | null;
    try {
      const status = await requestStatus(this.opts.host, peer);
      this.answered.add(peer);
      signed = parseHighestHeader(status);
      if (signed) verifyHeaderSignature(rules, signed);
    } catch (e) {
      if (this.answered.has(peer)) log.warn('a peer reported an invalid highest header; ignoring it', { peer, error: (e as Error).message });
      else log.debug('status request failed; will retry', { peer, error: (e as Error).message });
      return;
    }
    if (!signed) return;
    // A reported header that conflicts with what is held is equivocation already committed: recorded, and it
    // halts. Otherwise it is kept durably, so a restart before the sync completes still knows how far to get.
    const origin = `status of ${peer}`;
    if ((await watch.observe(signed, origin)) ?? (await watch.remember(signed, origin))) return;
    if (!this.reported || signed.header.height > this.reported.header.height) this.reported = signed;
  }

  /** Whether the key this start-up recovers for (view 0's leader, the primary) was caught equivocating. */
  private primaryConvicted(): boolean {
    return this.opts.watch.convicted(this.opts.rules.membership.leaderOf(0));
  }
}
