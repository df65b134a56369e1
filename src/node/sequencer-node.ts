/**
 * A sequencer node: the facade that owns the lifecycles of the log store, the header watch, the libp2p host
 * and the node's role (src/roles/role.ts: a primary or a replica), and answers the node's API from them.
 * Components get their collaborators explicitly. The JSON-RPC server that exposes the API is started by the
 * layers above (src/rpc/serve-node.ts, from the composition root src/cli/start-sequencer.ts) and attached here, so
 * that `stop` closes it first.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import type { Tip } from '../core/batch.ts';
import { domainSeparator } from '../core/eip712.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { CURRENT_VIEW, encodeSignedHeader, headerHash, type SignedHeader } from '../core/header.ts';
import { MAX_BATCH_BYTES } from '../core/limits.ts';
import { Membership } from '../core/membership.ts';
import { InvalidArgumentError, InvariantError, StorageUnavailableError } from '../core/errors.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import type { LogRules } from '../core/rules.ts';
import { addressFromPrivateKey } from '../core/signature.ts';
import type { Submission } from '../core/submission.ts';
import { createHost, peerIdOfAddress, type Host } from '../p2p/host.ts';
import { loadOrCreatePeerKey } from '../p2p/identity.ts';
import { batchTopic, pendingTopic, proofTopic, timeoutTopic, voteTopic, type Status } from '../wire/p2p-messages.ts';
import type { InfoJson, ReceiptStatus } from '../wire/rpc-types.ts';
import { HeaderWatch } from '../roles/header-watch.ts';
import type { Entry } from '../core/entry.ts';
import { LogReader, type EntryProof, type ExpandedBatch } from '../roles/log-reader.ts';
import { serveLog } from '../roles/log-service.ts';
import { shareProofs } from '../roles/proof-gossip.ts';
import { VoteEvidence } from '../roles/vote-evidence.ts';
import type { VoteProofJson } from '../wire/vote-proof-json.ts';
import { PrimaryRole } from '../roles/primary-role.ts';
import { ReplicaRole } from '../roles/replica-role.ts';
import { DEFAULT_VIEW_TIMEOUT_MS, Pacemaker } from '../roles/pacemaker.ts';
import { ValidatorRole } from '../roles/validator-role.ts';
import { ViewGate } from '../roles/view-gate.ts';
import type { Role } from '../roles/role.ts';
import { Finality } from '../roles/finality.ts';
import { Voter } from '../roles/voter.ts';
import { ValidatorStartup, needsRecovery } from '../roles/validator-startup.ts';
import { SafetySigner } from '../storage/safety-store.ts';
import type { FinalityCertificate } from '../core/finality-certificate.ts';
import { BondWatcher } from '../chain/bond-watcher.ts';
import { LogStore, StoreFaultError } from '../storage/log-store.ts';
import type { ParsedReceipt } from '../wire/json.ts';
import type { NodeConfig } from './config.ts';
import { PrometheusNodeMetrics, type HaltReason } from './metrics.ts';
import { ProcessMonitor } from './process-stats.ts';
import { ValidatorActivity } from './validator-activity.ts';
import type { Logger } from '../core/logger.ts';

export const VERSION: string = pkg.version;

/**
 * What sequencer_verifyReceipt answers (docs/protocol.md §JSON-RPC API; the statuses: ReceiptStatus in
 * src/wire/rpc-types.ts). `valid` is false for `invalid` and `mismatch` (a receipt that misstates the log is not
 * to be relied on); `reason` says why for those two; `proof` is set for `conflict` only.
 */
export interface ReceiptVerdict {
  readonly valid: boolean;
  readonly reason: string | null;
  readonly status: ReceiptStatus;
  readonly proof: EquivocationProof | null;
}

/**
 * A failed read or write of the store (disk full, too many open files, an I/O error) as the documented error a
 * client gets from any call of the node's API: -32012 storage unavailable, retry later (docs/protocol.md §Errors).
 */
async function storageUnavailable<T>(work: Promise<T>, what: string): Promise<T> {
  try {
    return await work;
  } catch (e) {
    throw e instanceof StoreFaultError ? new StorageUnavailableError(what, e.message) : e;
  }
}

/**
 * How old the peer lists sequencer_info reports may be. libp2p builds them anew on each call (every peer id and
 * multiaddr base58/string-encoded: tens of µs), which a client polling info every few ms should not pay each time;
 * a new connection shows at once (the view is dropped), a lost one within this time.
 */
export const PEER_VIEW_MAX_AGE_MS = 1_000;

/** A replica this many heights or fewer behind the highest primary-signed header it has met is ready (GET /readyz). */
export const READY_MAX_LAG = 8;

/** One reason a node is not ready; `code` is one of a fixed set (docs/metrics.md §Health), `message` says more. */
export interface NotReadyReason {
  readonly code: 'halted' | 'storage_fault' | 'recovering' | 'no_peers' | 'behind';
  readonly message: string;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly NotReadyReason[];
  readonly height: number;
  readonly highestSeenHeight: number;
}

/** A server that exposes the node to clients (the JSON-RPC server); the node closes it first when it stops. */
export interface NodeEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

/** Checks what a node of `config.mode` needs before anything is opened; returns the log's rules. Throws. */
function logRules(config: NodeConfig): LogRules {
  const own = config.privateKey ? addressFromPrivateKey(config.privateKey) : undefined;
  const first = config.validators?.[0];
  if (first && config.primary && !equalBytes(first, config.primary)) {
    throw new InvalidArgumentError(`the primary ${toHex(config.primary)} must be the first of the validators (${toHex(first)}): it leads view 0`);
  }
  if (config.mode === 'validator') {
    if (!own) throw new InvalidArgumentError('a validator needs a private key');
    if (!config.validators?.some((v) => equalBytes(v, own))) throw new InvalidArgumentError(`this key's address ${toHex(own)} is not one of the validators`);
    if (first && equalBytes(first, own)) throw new InvalidArgumentError(`${toHex(own)} is the first of the validators, the leader of view 0: start it with --mode primary`);
  }
  if (config.mode === 'primary') {
    if (!own) throw new InvalidArgumentError('a primary needs a private key');
    if (config.primary && !equalBytes(config.primary, own)) throw new InvalidArgumentError(`--primary ${toHex(config.primary)} is not this key's address ${toHex(own)}`);
    if (first && !equalBytes(first, own)) throw new InvalidArgumentError(`this key's address ${toHex(own)} is not the first of the validators (${toHex(first)}), the leader of view 0`);
    if (!config.unsafeSkipRecovery) {
      const anonymous = config.peers.filter((p) => !peerIdOfAddress(p));
      if (anonymous.length > 0) throw new InvalidArgumentError(`a primary waits for each of its peers at start-up, so each needs its /p2p/<peer id>: ${anonymous.join(', ')}`);
    }
  } else if (!config.primary && !first) {
    throw new InvalidArgumentError(`a ${config.mode} needs the primary address (--primary) or the validators (--validators)`);
  }
  const allowed = new Set(config.allow.map((a) => toHex(a)));
  return {
    logId: config.logId,
    separator: domainSeparator({ chainId: config.chainId, logId: config.logId }),
    // The first validator leads view 0 (the only view until leader failover); without a set, the primary alone.
    membership: Membership.of(config.validators ?? [config.primary ?? own!]),
    isAllowed: (sender) => allowed.has(toHex(sender)),
  };
}

export class SequencerNode {
  readonly config: NodeConfig;
  readonly rules: LogRules;
  readonly separator: Bytes;
  readonly address: Bytes | undefined;
  private readonly store: LogStore;
  private readonly host: Host;
  private readonly reader: LogReader;
  private readonly log: Logger;
  private readonly watch: HeaderWatch;
  /** Created once the store, watch and host are up (wire); undefined only while the node starts. */
  private role: Role | undefined;
  private finality: Finality | undefined;
  /** Validators' equivocation proofs (kinds 3-6); created with finality in wire. */
  private voteEvidence: VoteEvidence | undefined;
  /** Each validator's last counted vote and the final height's rises, for sequencer_info (the explorer). */
  private activity: ValidatorActivity | undefined;
  /** Which view the node is in and when it moves on (logs of more than one validator). */
  private pacemaker: Pacemaker | undefined;
  /** A validator's (or the primary's) voting; undefined for an observer. */
  private voter: Voter | undefined;
  /** A validator without safety records recovering before it votes (§Finality); undefined otherwise. */
  private validatorStartup: ValidatorStartup | undefined;
  /** The primary's on-chain bond, when the node is given the contract (config.bond). */
  private bond: BondWatcher | undefined;
  private endpoint: NodeEndpoint | undefined;
  /** Listeners the node registered for its own lifetime, removed when it stops. */
  private readonly unsubscribe: (() => void)[] = [];
  private readonly monitor = new ProcessMonitor();
  /** This node's listen addresses and connected peers as of `at` (performance.now()); see PEER_VIEW_MAX_AGE_MS. */
  private peerView: { readonly at: number; readonly multiaddrs: string[]; readonly connectedPeers: string[] } | undefined;
  /** The node's Prometheus metrics (GET /metrics; docs/metrics.md). */
  private readonly metrics: PrometheusNodeMetrics;

  private constructor(config: NodeConfig, rules: LogRules, store: LogStore, watch: HeaderWatch, host: Host, log: Logger, metrics: PrometheusNodeMetrics) {
    this.config = config;
    this.rules = rules;
    this.separator = rules.separator;
    this.address = config.privateKey ? addressFromPrivateKey(config.privateKey) : undefined;
    this.store = store;
    this.watch = watch;
    this.host = host;
    this.reader = new LogReader(store, rules);
    this.log = log;
    this.metrics = metrics;
  }

  /** Opens the store, the watch and the host, and starts the node's role. Without an RPC server: src/cli/start-sequencer.ts starts both. */
  static async start(config: NodeConfig, log: Logger): Promise<SequencerNode> {
    const rules = logRules(config);
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const primary = rules.membership.leaderOf(CURRENT_VIEW);
    // A set of more than one validator is part of the store's identity (a one-member log keeps today's identity).
    const members = rules.membership.n > 1 ? ` members ${toHex(rules.membership.hash)}` : '';
    const store = await LogStore.open(join(config.dataDir, 'db'), `log ${toHex(config.logId)} chain ${config.chainId} primary ${toHex(primary)}${members}`);
    let host: Host;
    let watch: HeaderWatch;
    const metrics = new PrometheusNodeMetrics({ mode: config.mode, version: VERSION });
    try {
      watch = await HeaderWatch.open({ store, rules, chainId: config.chainId, log });
      host = await createHost({
        privateKey: await loadOrCreatePeerKey(config.dataDir),
        listenHost: config.p2pHost,
        listenPort: config.p2pPort,
        bootstrapPeers: [...config.peers],
        maxMessageBytes: MAX_BATCH_BYTES + 1024,
        log: (level, msg, err) => log[level](msg, err ? { error: (err as Error).message ?? String(err) } : undefined),
        metrics: metrics.libp2p(),
        scoredTopics: [batchTopic(rules.logId), proofTopic(rules.logId), voteTopic(rules.logId), timeoutTopic(rules.logId), pendingTopic(rules.logId)],
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    const node = new SequencerNode(config, rules, store, watch, host, log, metrics);
    try {
      await node.wire();
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  private async wire(): Promise<void> {
    const { host, store, rules, config, log, watch, reader } = this;
    const primary = toHex(rules.membership.leaderOf(CURRENT_VIEW));
    if (config.bond) {
      const bond = await BondWatcher.connect(config.bond.chainRpc, {
        contract: toHex(config.bond.contract), sequencer: primary, logId: toHex(rules.logId), chainId: config.chainId, pollMs: config.bond.pollMs,
      });
      this.bond = bond;
      this.unsubscribe.push(bond.onChange((state) => {
        const problem = this.bondProblem();
        log[problem ? 'warn' : 'info'](problem ? `not trusting the primary: ${problem}` : "the primary's bond is active", { bond: state });
      }));
    }
    const topic = batchTopic(rules.logId);
    const { metrics } = this;
    this.unsubscribe.push(store.onAppended((tip, write) => metrics.stored(tip, write)));
    this.unsubscribe.push(host.onPeerConnected(() => { this.peerView = undefined; }));
    await serveLog(host, store, rules, () => this.status(), metrics);
    const isValidator = config.mode !== 'replica' && this.address !== undefined && rules.membership.includes(this.address);
    const signer = isValidator ? await SafetySigner.open(store.safetyDatabase, rules, config.privateKey!) : undefined;
    // Views change only in logs of more than one validator; a one-member log stays in view 0.
    const pacemaker = rules.membership.n > 1
      ? new Pacemaker({
        host, rules, log, signer, workPending: () => this.workPending(), baseTimeoutMs: config.viewTimeoutMs ?? DEFAULT_VIEW_TIMEOUT_MS,
        censored: () => this.role instanceof ValidatorRole && this.role.censored(),
        leaderConvicted: (view) => this.leaderConvicted(view),
        lastVoteOf: (view) => this.finality?.lastVoteOf(view) ?? -Infinity,
        maySign: () => this.validatorStartup?.notReady === undefined,
      })
      : undefined;
    this.pacemaker = pacemaker;
    const finality = await Finality.start({ host, store, rules, watch, log, view: pacemaker && (() => pacemaker.curView) });
    this.finality = finality;
    const activity = this.activity = new ValidatorActivity(finality, rules.membership.n);
    this.unsubscribe.push(() => activity.stop());
    const evidence = await VoteEvidence.open({ store, rules, chainId: config.chainId, log });
    this.voteEvidence = evidence;
    evidence.follow(finality, {
      storedHeaderHash: (height) => finality.storedHeaderHash(height),
      headerByHash: (height, hash) => watch.headerByHash(height, hash),
    });
    if (pacemaker) evidence.followTimeouts(pacemaker, finality);
    this.unsubscribe.push(shareProofs(host, rules.logId, watch, evidence, log));
    if (signer) {
      const voter = new Voter({ signer, store, rules, finality, watch, log });
      this.voter = voter;
      if (needsRecovery(rules, signer)) {
        // No safety records: its key may have voted before (a lost store); it asks the others first (§Finality).
        const startup = new ValidatorStartup({ host, store, rules, signer, watch, log, learnView: pacemaker && (async () => { await pacemaker.askPeers(); return pacemaker.curView; }) });
        this.validatorStartup = startup;
        void startup.run().then((ready) => { if (ready) voter.enable(); },
          (e: Error) => log.error('validator start-up recovery failed; not voting', { error: e.message }));
      } else {
        // A one-validator log whose store predates its votes votes from the height after its tip.
        const tip = store.tip;
        if (signer.state.lastLock === null && tip.height >= 0) await signer.startAfter({ view: CURRENT_VIEW, height: tip.height, headerHash: tip.headerHash });
        voter.enable();
      }
    }
    const appendAll = this.voter?.storeAndVote;
    const common = { host, store, rules, watch, log, bond: this.bond, metrics, appendAll };
    if (pacemaker) {
      this.unsubscribe.push(
        store.onAppended(() => pacemaker.progress()),
        finality.onLockCertificate((qc) => { if (qc.view === pacemaker.curView) pacemaker.progress(); }),
        // Back-off starts over only when the view itself finalises (not on certificates left over from earlier views).
        finality.onFinal(() => { if (finality.finalizedView === pacemaker.curView) pacemaker.finalized(); else pacemaker.progress(); }),
      );
    }
    this.role = pacemaker && this.voter
      ? await ValidatorRole.start({
        ...common, appendAll: this.voter.storeAndVote, reader, topic, pacemaker, finality,
        privateKey: config.privateKey!,
        maxPendingTxs: config.maxPendingTxs,
        sealLingerMs: config.sealLingerMs,
        unsafeCensor: config.unsafeCensor,
        startup: config.mode === 'primary' ? {
          peers: config.peers.map((p) => peerIdOfAddress(p)!), quorum: config.recoveryQuorum, unsafeSkipRecovery: config.unsafeSkipRecovery,
        } : undefined,
      }, this.address!)
      : pacemaker
        ? new ReplicaRole({
          ...common,
          views: new ViewGate({
            rules, store, pacemaker, finality, log, convicted: (address) => watch.convicted(address),
            // Soft batches of an abandoned view: their submissions go to the leader again (the same signed bytes).
            abandoned: (subs) => { for (const s of subs) void this.role?.append(s).catch(() => {}); },
          }),
          leader: () => rules.membership.leaderOf(pacemaker.curView),
        })
        : config.mode === 'primary'
      ? await PrimaryRole.start({
        ...common, reader, topic,
        privateKey: config.privateKey!,
        peers: config.peers.map((p) => peerIdOfAddress(p)!),
        unsafeSkipRecovery: config.unsafeSkipRecovery,
        recoveryQuorum: config.recoveryQuorum,
        maxPendingTxs: config.maxPendingTxs,
        sealLingerMs: config.sealLingerMs,
        window: finality,
      })
      : new ReplicaRole(common);
    pacemaker?.start();
    const role = this.role;
    if (pacemaker && role instanceof ReplicaRole) {
      this.unsubscribe.push(finality.onDivergence((height) => {
        role.dropBranch(height).catch((e: Error) => log.warn('could not drop a branch no quorum follows', { error: e.message }));
      }));
    }
    host.subscribe(topic, async (msg, from) => {
      const verdict = await role.onGossip(msg, from);
      metrics.gossip(verdict);
      return verdict;
    });
    metrics.observe({
      tip: () => store.tip,
      highestSeenHeight: () => Math.max(store.tip.height, watch.highestSeen()?.header.height ?? -1),
      finalizedHeight: () => finality.finalizedHeight,
      connectedPeers: () => host.connectedPeers().length,
      equivocations: () => watch.proofs.length + evidence.proofs.length,
      halted: () => this.haltReason(),
      storageFault: () => store.fault !== undefined,
      recovering: () => role.notReady !== undefined,
      ready: () => this.readiness().ready,
      view: () => pacemaker?.curView ?? CURRENT_VIEW,
      timedOutView: () => pacemaker?.timedOutView ?? -1,
    });
    if (pacemaker) this.unsubscribe.push(pacemaker.onView(() => metrics.viewEntered()));
  }

  /** Whether an equivocation proof against the leader of `view` is held: its headers (kinds 1-2) or its votes (kinds 3-6). */
  private leaderConvicted(view: number): boolean {
    const leader = this.rules.membership.leaderOf(view);
    return this.watch.convicted(leader) || (this.voteEvidence?.convicted(leader) ?? false);
  }

  /**
   * Whether the current view has work its leader should be making progress on (the pacemaker's no-progress rule):
   * appends that found no leader lately, or stored headers of the view above the final height.
   */
  private async workPending(): Promise<boolean> {
    const pacemaker = this.pacemaker!;
    const recent = 2 * (pacemaker.viewTimeoutMs ?? 0);
    if (this.role instanceof ValidatorRole && (this.role.unservedSince(recent) || this.role.refusedFutureBatchSince(pacemaker.curView, recent))) return true;
    const tip = this.store.tip;
    if (tip.height <= (this.finality?.finalizedHeight ?? -1)) return false;
    return (await this.watch.held(tip.height))?.header.view === pacemaker.curView;
  }

  /** Attaches the server that exposes this node (src/rpc/serve-node.ts); `stop` closes it before anything else. */
  attach(endpoint: NodeEndpoint): void {
    this.endpoint = endpoint;
  }

  /** The URL of the attached JSON-RPC server. */
  get rpcUrl(): string {
    if (!this.endpoint) throw new InvariantError('no RPC server is attached to this node');
    return this.endpoint.url;
  }

  /**
   * Calls `listener` after each batch is stored (durably; sequenced by a primary, verified by a replica), with the
   * new tip: what server push (src/rpc/events.ts) follows. Returns the unsubscribe function.
   */
  onBatchStored(listener: (tip: Tip) => void): () => void {
    return this.store.onAppended(listener);
  }

  /**
   * Calls `listener` each time the node's final height rises (§Finality), with the new final height and its header
   * hash. Returns the unsubscribe function.
   */
  onFinalized(listener: (height: number, headerHash: Bytes) => void): () => void {
    const finality = this.finality;
    if (!finality) return () => {};
    return finality.onFinal((height) => listener(height, finality.finalizedHeaderHash!));
  }

  multiaddrs(): string[] {
    return this.host.multiaddrs();
  }

  private async status(): Promise<Status> {
    const highest = await this.highestHeader();
    const record = this.role?.peerRecord;
    return {
      mode: this.config.mode,
      address: this.address ? toHex(this.address) : null,
      primary: toHex(this.rules.membership.leaderOf(CURRENT_VIEW)),
      logId: toHex(this.rules.logId),
      height: this.store.tip.height,
      highestHeader: highest ? toHex(encodeSignedHeader(highest)) : null,
      peerRecord: record ? { peerId: record.peerId, issuedAt: record.issuedAt, signature: toHex(record.signature) } : null,
      ...(this.finality?.statusCertificates() ?? { finalCertificate: null, lockCertificate: null, voteHeights: [] }),
      viewEntry: this.pacemaker?.entryHex() ?? null,
      timeoutViews: this.pacemaker?.timeoutViews() ?? [],
    };
  }

  /** The highest primary-signed header held: one seen ahead of the tip, else the tip's (the watch's detached, cached copy). */
  private async highestHeader(): Promise<SignedHeader | undefined> {
    const tip = this.store.tip;
    const seen = this.watch.highestSeen();
    if (seen && seen.header.height > tip.height) return seen;
    return tip.height < 0 ? undefined : this.watch.held(tip.height);
  }

  /** Why the primary's bond does not back it now, as the role judges it, or null (docs/slashing.md §Withdrawal delay). */
  private bondProblem(): string | null {
    return this.role?.bondProblem() ?? null;
  }

  // ---- NodeApi ----

  /** A primary sequences; a replica forwards to the primary and shows the receipt's header to its watch. */
  async append(s: Submission): Promise<Receipt> {
    if (!this.role) throw new InvariantError('the node has not started');
    const started = performance.now();
    let ok = false;
    try {
      const receipt = await storageUnavailable(this.role.append(s), 'the submission cannot be taken now');
      ok = true;
      return receipt;
    } finally {
      this.metrics.appended((performance.now() - started) / 1000, ok);
    }
  }

  entries(fromSeq: number, limit: number): Promise<Entry[]> {
    return storageUnavailable(this.reader.entries(fromSeq, limit), 'the log cannot be read now');
  }

  batch(height: number): Promise<ExpandedBatch | undefined> {
    return storageUnavailable(this.reader.batch(height), 'the log cannot be read now');
  }

  proof(seq: number): Promise<EntryProof | undefined> {
    return storageUnavailable(this.reader.proof(seq), 'the log cannot be read now');
  }

  info(): InfoJson {
    const tip = this.store.tip;
    const peers = this.peers();
    const { membership } = this.rules;
    const index = this.voter?.index ?? -1;
    const view = this.pacemaker?.curView ?? CURRENT_VIEW;
    const leader = membership.leaderOf(view);
    const lock = this.voter?.lock;
    const finalHash = this.finality?.finalizedHeaderHash;
    return {
      mode: this.config.mode,
      role: index < 0 ? 'observer' : equalBytes(leader, membership.validators[index]) ? 'leader' : 'validator',
      validatorIndex: index < 0 ? null : index,
      validators: membership.validators.map((v) => toHex(v)),
      f: membership.f,
      quorum: membership.quorum,
      membershipHash: toHex(membership.hash),
      view,
      leader: toHex(leader),
      viewChanges: this.pacemaker?.viewChanges ?? 0,
      timeoutView: this.pacemaker?.timedOutView ?? -1,
      viewTimeoutMs: this.pacemaker?.viewTimeoutMs ?? null,
      finalizedHeight: this.finality?.finalizedHeight ?? -1,
      finalizedHeaderHash: finalHash ? toHex(finalHash) : null,
      lock: lock ? { view: lock.view, height: lock.height, headerHash: toHex(lock.headerHash) } : null,
      address: this.address ? toHex(this.address) : null,
      primary: toHex(this.rules.membership.leaderOf(CURRENT_VIEW)),
      peerId: this.host.peerId,
      multiaddrs: [...peers.multiaddrs],
      logId: toHex(this.rules.logId),
      chainId: this.config.chainId,
      entries: tip.nextSeq,
      height: tip.height,
      headHash: toHex(tip.headHash),
      headerHash: toHex(tip.headerHash),
      connectedPeers: [...peers.connectedPeers],
      halted: this.haltedBecause(),
      bond: this.bond?.state ?? null,
      notReady: this.role?.notReady ?? this.validatorStartup?.notReady ?? null,
      storageFault: this.store.fault ?? null,
      equivocations: this.watch.proofs.length + this.voteEquivocations().length,
      validatorVotes: this.activity?.validatorVotes ?? membership.validators.map(() => null),
      finalizedAt: this.activity?.finalizedAt ?? [],
      process: this.monitor.sample(),
      version: VERSION,
    };
  }

  /** The peer lists of sequencer_info, rebuilt when older than PEER_VIEW_MAX_AGE_MS. */
  private peers(): { readonly multiaddrs: readonly string[]; readonly connectedPeers: readonly string[] } {
    const now = performance.now();
    if (!this.peerView || now - this.peerView.at >= PEER_VIEW_MAX_AGE_MS) {
      this.peerView = { at: now, multiaddrs: this.host.multiaddrs(), connectedPeers: this.host.connectedPeers() };
    }
    return this.peerView;
  }

  /** Why the node is halted (sequencer_info's `halted`), or null. */
  private haltedBecause(): string | null {
    return this.role?.halted ?? (this.watch.halted ? 'the primary equivocated; no longer following it' : null) ?? this.bondProblem();
  }

  /** Why the node is halted, as the bounded reason of the sequencer_halted metric, or undefined. */
  private haltReason(): HaltReason | undefined {
    if (this.watch.halted) return 'equivocation';
    if (this.bondProblem()) return 'bond';
    if (this.role?.halted) return 'internal';
    return undefined;
  }

  /**
   * Whether the node should be sent traffic (GET /readyz): not halted, its store writable, past a primary's
   * start-up recovery, connected to a peer when it has any configured, and (a replica) within READY_MAX_LAG heights
   * of the highest primary-signed header it has met. Every reason that holds is listed, codes first.
   */
  readiness(): Readiness {
    const reasons: NotReadyReason[] = [];
    const halted = this.haltedBecause();
    if (halted) reasons.push({ code: 'halted', message: halted });
    if (this.store.fault) reasons.push({ code: 'storage_fault', message: this.store.fault });
    if (this.role?.notReady) reasons.push({ code: 'recovering', message: this.role.notReady });
    if (this.config.peers.length > 0 && this.host.connectedPeers().length === 0) {
      reasons.push({ code: 'no_peers', message: `connected to none of the ${this.config.peers.length} configured peers` });
    }
    const seen = this.watch.highestSeen()?.header.height ?? -1;
    const lag = seen - this.store.tip.height;
    if (this.config.mode === 'replica' && lag > READY_MAX_LAG) {
      reasons.push({ code: 'behind', message: `${lag} heights behind the highest header seen (${seen}); ready within ${READY_MAX_LAG}` });
    }
    return { ready: reasons.length === 0, reasons, height: this.store.tip.height, highestSeenHeight: Math.max(seen, this.store.tip.height) };
  }

  /** The node's metrics in the Prometheus text format, and its content type (GET /metrics). */
  async metricsText(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.metrics.contentType, body: await this.metrics.text() };
  }

  /** The finality certificate of `height` (docs/protocol.md §Finality certificate), or undefined when it is not final here. */
  finalityCertificate(height: number): Promise<FinalityCertificate | undefined> {
    return storageUnavailable(this.finality?.certificate(height) ?? Promise.resolve(undefined), 'the log cannot be read now');
  }

  /** Resolves with the finality certificate once `height` is final here, or undefined after `timeoutMs`. */
  async waitFinal(height: number, timeoutMs: number): Promise<FinalityCertificate | undefined> {
    if (!this.finality || !(await this.finality.waitFinal(height, timeoutMs))) return undefined;
    return this.finalityCertificate(height);
  }

  equivocations(): readonly EquivocationProof[] {
    return this.watch.proofs;
  }

  /** Validators' equivocation proofs (kinds 3-6) held, JSON form; a vote equivocation does not halt the node. */
  voteEquivocations(): readonly VoteProofJson[] {
    return this.voteEvidence?.proofs ?? [];
  }

  /**
   * Checks a client's receipt: on its own (checkReceipt: this log, an allowed view, the primary's signature,
   * the Merkle proof; and the JSON's `headerHash`, when given, is the header's hash), then against what this
   * node holds. A header that conflicts with a held one yields, and records, an equivocation proof; a header
   * for a height not yet held is kept, and judged when that height arrives; a stored header must come with the
   * entries, sender and digest the log holds under it. One call costs what one receipt asks: the stored headers
   * it is judged against (cached by the watch) and the one submission it names (LogReader.receiptMismatch),
   * never the whole batch expanded. Statuses: docs/protocol.md §JSON-RPC API (verifyReceipt).
   */
  verifyReceipt(receipt: ParsedReceipt): Promise<ReceiptVerdict> {
    return storageUnavailable(this.judgeReceipt(receipt), 'the receipt cannot be checked against the log now');
  }

  private async judgeReceipt(receipt: ParsedReceipt): Promise<ReceiptVerdict> {
    const hash = headerHash(this.separator, receipt.header);
    const reason = checkReceipt(this.rules, receipt)
      ?? (receipt.headerHash && !equalBytes(receipt.headerHash, hash) ? 'headerHash is not the hash of the header' : null);
    if (reason) return { valid: false, reason, status: 'invalid', proof: null };
    const origin = 'receipt check';
    const proof = await this.watch.check(receipt, origin);
    if (proof) return { valid: true, reason: null, status: 'conflict', proof };
    const height = receipt.header.height;
    if (height > this.store.tip.height) return { valid: true, reason: null, status: 'pending', proof: null };
    const held = await this.watch.held(height);
    if (!held) throw new InvariantError(`batch ${height} missing at or below the tip ${this.store.tip.height}`);
    if (held.header.view !== receipt.header.view && !equalBytes(headerHash(this.separator, held.header), hash)) {
      // A header of another view: the receipt's view was abandoned, or this height was re-proposed (§View change).
      // Its transactions still hold those positions if the log's batch there has them; otherwise it was replaced.
      const moved = await this.reader.receiptMismatch(receipt);
      if (moved === undefined) throw new InvariantError(`batch ${height} missing at or below the tip ${this.store.tip.height}`);
      if (moved === null) return { valid: true, reason: null, status: 'consistent', proof: null };
      return {
        valid: false, status: 'replaced', proof: null,
        reason: `height ${height} holds a header of view ${held.header.view}: this receipt's batch (view ${receipt.header.view}) was abandoned in a view change `
          + `(${moved}); send the same signed submission again: it is sequenced once`,
      };
    }
    if (!equalBytes(headerHash(this.separator, held.header), hash)) {
      // Stored after `remember` kept the receipt's header: judged against the log now (one proof, whoever records it).
      const late = await this.watch.observe(receipt, origin);
      if (!late) throw new InvariantError(`the header stored at height ${height} differs from the receipt's, yet the watch found no conflict`);
      return { valid: true, reason: null, status: 'conflict', proof: late };
    }
    const mismatch = await this.reader.receiptMismatch(receipt);
    if (mismatch === undefined) throw new InvariantError(`batch ${height} missing at or below the tip ${this.store.tip.height}`);
    // A mismatch is no equivocation, but the receipt misstates the log: not something to rely on.
    return { valid: mismatch === null, reason: mismatch, status: mismatch ? 'mismatch' : 'consistent', proof: null };
  }

  async stop(): Promise<void> {
    await this.endpoint?.close();
    await this.pacemaker?.stop();
    await this.role?.stop();
    this.validatorStartup?.stop();
    await this.voter?.stop();
    await this.finality?.stop();
    this.voteEvidence?.close();
    for (const u of this.unsubscribe) u();
    this.bond?.stop();
    await this.host.stop();
    this.watch.close();
    await this.store.close();
    this.monitor.stop();
  }
}
