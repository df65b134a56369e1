/**
 * The primary role: recovers at start-up (PrimaryStartup: syncs up to the highest header its peers hold signed
 * with its key, docs/protocol.md §Primary start-up), then sequences (Primary); with no peers to ask it refuses
 * to start unless told to skip recovery. It also answers the appends replicas forward to it, and while its bond
 * does not back it, refuses every append.
 */
import type { Bytes } from '../core/bytes.ts';
import { HaltedError, InvalidArgumentError, InvalidParamsError, NotReadyError } from '../core/errors.ts';
import { headerHash } from '../core/header.ts';
import type { Logger } from '../core/logger.ts';
import { signPeerRecord, type PeerRecord } from '../core/peer-record.ts';
import type { Receipt } from '../core/receipt.ts';
import type { LogRules } from '../core/rules.ts';
import { decodeSubmission, type Submission } from '../core/submission.ts';
import type { Host } from '../p2p/host.ts';
import type { AppendBatch, LogStore } from '../storage/log-store.ts';
import { receiptToJson } from '../wire/json.ts';
import { APPEND_PROTOCOL, MAX_REQUEST_BYTES, encodeJson } from '../wire/p2p-messages.ts';
import type { HeaderWatch } from './header-watch.ts';
import type { LogReader } from './log-reader.ts';
import type { NodeMetrics } from './metrics.ts';
import { appendErrorReply } from './primary-errors.ts';
import { Primary, type PrimaryOptions, type SealWindow } from './primary.ts';
import { PrimaryStartup } from './primary-startup.ts';
import type { BondTrust, Role, Verdict } from './role.ts';

/** What a role that sequences (the primary, a validator leading its views) gives its Primary. */
export interface LeaderOptions {
  readonly host: Host;
  readonly store: LogStore;
  readonly reader: LogReader;
  readonly rules: LogRules;
  readonly watch: HeaderWatch;
  readonly log: Logger;
  readonly privateKey: Bytes;
  /** Topic its batches are published on. */
  readonly topic: string;
  readonly maxPendingTxs?: number;
  /** See PrimaryOptions.sealLingerMs. */
  readonly sealLingerMs?: number;
  readonly bond?: BondTrust;
  /** Where what it sequences, verifies and syncs is counted (default: nowhere). */
  readonly metrics?: NodeMetrics;
}

/** A Primary publishing on the role's topic, sealing with the role's key and limits, and these view-specific parts. */
export function startPrimary(opts: LeaderOptions, parts: Pick<PrimaryOptions, 'appendAll' | 'window' | 'view' | 'justification'>): Primary {
  const { host, store, rules, watch, log, reader, privateKey, maxPendingTxs, sealLingerMs, topic, metrics } = opts;
  return new Primary({ store, rules, log, watch, reader, privateKey, maxPendingTxs, sealLingerMs, metrics, ...parts, publish: (bytes) => host.publish(topic, bytes) });
}

export interface PrimaryRoleOptions extends LeaderOptions {
  /** Peer ids of the configured peers: they are asked before the primary signs (§Primary start-up). */
  readonly peers: readonly string[];
  /** How many of `peers` must answer before the primary proceeds (config.recoveryQuorum); default all of them. */
  readonly recoveryQuorum?: number;
  /**
   * Signs on top of the local store without asking any peer (config.unsafeSkipRecovery). Without peers, the
   * role refuses to start unless this is set: there would be nobody to recover a lost store from.
   */
  readonly unsafeSkipRecovery?: boolean;
  /** How batches are stored (the leader's Voter: with its lock votes), and finality's leader window. */
  readonly appendAll?: (appends: readonly AppendBatch[]) => Promise<void>;
  readonly window?: SealWindow;
}

/** A leader answers forwarded submissions with the receipt JSON, or the error with its code (§Append forwarding). */
export async function serveAppends(host: Host, separator: Bytes, append: (s: Submission) => Promise<Receipt>, log: Logger): Promise<void> {
  await host.handleRequests(APPEND_PROTOCOL, async (request) => {
    try {
      let submission: Submission;
      try {
        submission = decodeSubmission(request);
      } catch (e) {
        throw new InvalidParamsError(`malformed submission: ${(e as Error).message}`);
      }
      const receipt = await append(submission);
      return [encodeJson({ result: receiptToJson(receipt, headerHash(separator, receipt.header)) })];
    } catch (e) {
      return [encodeJson(appendErrorReply(e, log))];
    }
  }, { maxRequestBytes: MAX_REQUEST_BYTES });
}

export class PrimaryRole implements Role {
  readonly kind = 'primary';
  readonly peerRecord: PeerRecord;
  private readonly opts: PrimaryRoleOptions;
  /** The start-up recovery while it runs; the Primary exists only after it. */
  private startup: PrimaryStartup | undefined;
  private primary: Primary | undefined;
  private stopped = false;

  private constructor(opts: PrimaryRoleOptions) {
    this.opts = opts;
    const { host, rules, log } = opts;
    this.peerRecord = signPeerRecord(rules.separator, rules.logId, host.peerId, Math.floor(Date.now() / 1000), opts.privateKey);
    const peers = opts.peers.filter((p) => p !== host.peerId);
    if (opts.unsafeSkipRecovery) {
      log.warn('skipping start-up recovery (--unsafe-skip-recovery): signing on top of the local store without asking any peer; '
        + 'if it lacks batches a replica holds (lost or restored disk), those heights are signed again: equivocation, slashable', { height: opts.store.tip.height });
      this.becomePrimary();
      return;
    }
    // Nobody to ask means nothing protects a lost or old store from being signed on top of: the operator must say so.
    if (peers.length === 0) {
      throw new InvalidArgumentError('a primary without peers cannot recover what a lost or old store lacks: give it its replicas (--peers), '
        + 'or accept the risk with --unsafe-skip-recovery (a new log, or a store known to be complete)');
    }
    const startup = new PrimaryStartup({
      host, store: opts.store, rules, watch: opts.watch, log, peers, quorum: opts.recoveryQuorum, metrics: opts.metrics, appendAll: opts.appendAll,
    });
    this.startup = startup;
    void startup.run().then((ready) => {
      if (!ready || this.stopped) return;
      this.startup = undefined;
      this.becomePrimary();
      log.info('primary ready: synced to the highest header its peers hold signed with its key', { height: opts.store.tip.height });
    }, (e: Error) => log.error('primary start-up recovery failed; not sequencing', { error: e.message }));
  }

  /** Starts recovering (or sequencing at once) and serves the appends replicas forward. */
  static async start(opts: PrimaryRoleOptions): Promise<PrimaryRole> {
    const role = new PrimaryRole(opts);
    try {
      await serveAppends(opts.host, opts.rules.separator, (s) => role.append(s), opts.log);
    } catch (e) {
      await role.stop();
      throw e;
    }
    return role;
  }

  private becomePrimary(): void {
    this.primary = startPrimary(this.opts, { appendAll: this.opts.appendAll, window: this.opts.window });
  }

  async append(s: Submission): Promise<Receipt> {
    const bondProblem = this.bondProblem();
    if (bondProblem) throw new HaltedError(bondProblem);
    if (this.primary) return this.primary.append(s);
    throw new NotReadyError(this.startup?.notReady ?? 'the primary is stopping');
  }

  /** Subscribed to its own topic, it stays in the mesh and sees headers signed with its key elsewhere. */
  onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict> {
    return this.primary?.onGossip(bytes, fromPeer) ?? this.startup?.onGossip(bytes, fromPeer) ?? Promise.resolve('ignore');
  }

  get halted(): string | undefined {
    return this.primary?.halted;
  }

  get notReady(): string | undefined {
    return this.startup?.notReady;
  }

  /** A primary stops sequencing on what the chain shows: its bond leaving, slashed or gone. */
  bondProblem(): string | null {
    return this.opts.bond?.revoked() ?? null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.startup?.stop();
    await this.primary?.stop();
  }
}
