/**
 * A sequencer node: the facade that wires the log store, the role (primary or replica), the libp2p host and
 * the RPC server together. Components get their collaborators explicitly; this file owns lifecycles only.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import { decodeBatch, peekSignedHeader, type LogRules } from '../core/batch.ts';
import { domainSeparator } from '../core/eip712.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { HaltedError, NotReadyError } from '../core/errors.ts';
import { encodeSignedHeader, headerHash, type SignedHeader } from '../core/header.ts';
import { MAX_BATCH_BYTES } from '../core/limits.ts';
import { checkReceipt, receiptMismatch, type Receipt } from '../core/receipt.ts';
import { signPeerRecord, type PeerRecord } from '../core/peer-record.ts';
import { addressFromPrivateKey } from '../core/signature.ts';
import type { Submission } from '../core/submission.ts';
import { createHost, peerIdOfAddress, type Host } from '../p2p/host.ts';
import { loadOrCreatePeerKey } from '../p2p/identity.ts';
import { batchTopic, type Status } from '../wire/p2p-messages.ts';
import { createMethods, type NodeApi } from '../rpc/methods.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { HeaderWatch } from '../roles/header-watch.ts';
import type { Entry } from '../core/entry.ts';
import { LogReader, type EntryProof, type ExpandedBatch } from '../roles/log-reader.ts';
import { PrimaryLink, serveAppends, serveLog } from '../roles/peer-services.ts';
import { shareProofs } from '../roles/proof-gossip.ts';
import { Primary } from '../roles/primary.ts';
import { PrimaryStartup } from '../roles/primary-startup.ts';
import { Replica } from '../roles/replica.ts';
import { BondWatcher } from '../chain/bond-watcher.ts';
import { LogStore } from '../storage/log-store.ts';
import type { NodeConfig } from './config.ts';
import { ProcessMonitor } from './process-stats.ts';
import type { Logger } from '../core/logger.ts';

export const VERSION: string = pkg.version;

/**
 * What sequencer_verifyReceipt answers (docs/protocol.md §JSON-RPC API). `reason` says why for `invalid`
 * and `mismatch`; `proof` is set for `conflict` only.
 *   invalid:    the receipt does not check on its own (another log or view, signature, Merkle proof);
 *   consistent: the node stores this very header, with these entries, sender, nonce and digest;
 *   mismatch:   the node stores this header, but not with the entries, sender, nonce or digest the receipt states;
 *   pending:    the node does not hold the height yet; it keeps the header and judges it when the height arrives;
 *   conflict:   the header conflicts with one the node holds: the equivocation proof, now also held by the node.
 */
export type ReceiptStatus = 'invalid' | 'consistent' | 'mismatch' | 'pending' | 'conflict';
export interface ReceiptVerdict {
  readonly valid: boolean;
  readonly reason: string | null;
  readonly status: ReceiptStatus;
  readonly proof: EquivocationProof | null;
}

export class SequencerNode implements NodeApi {
  readonly config: NodeConfig;
  readonly rules: LogRules;
  readonly separator: Bytes;
  readonly address: Bytes | undefined;
  private readonly store: LogStore;
  private readonly host: Host;
  private readonly reader: LogReader;
  private readonly log: Logger;
  private readonly watch: HeaderWatch;
  private primary: Primary | undefined;
  /** A primary's start-up recovery while it runs (§Primary start-up); the Primary exists only after it. */
  private startup: PrimaryStartup | undefined;
  private peerRecord: PeerRecord | undefined;
  private tipHeader: { height: number; signed: SignedHeader | undefined } | undefined;
  private replica: Replica | undefined;
  private link: PrimaryLink | undefined;
  /** The primary's on-chain bond, when the node is given the contract (config.bond). */
  private bond: BondWatcher | undefined;
  private rpc: RpcServer | undefined;
  private readonly monitor = new ProcessMonitor();

  private constructor(config: NodeConfig, rules: LogRules, store: LogStore, watch: HeaderWatch, host: Host, log: Logger) {
    this.config = config;
    this.rules = rules;
    this.separator = rules.separator;
    this.address = config.privateKey ? addressFromPrivateKey(config.privateKey) : undefined;
    this.store = store;
    this.watch = watch;
    this.host = host;
    this.reader = new LogReader(store, rules);
    this.log = log;
  }

  static async start(config: NodeConfig, log: Logger): Promise<SequencerNode> {
    const own = config.privateKey ? addressFromPrivateKey(config.privateKey) : undefined;
    if (config.mode === 'primary') {
      if (!own) throw new Error('a primary needs a private key');
      if (config.primary && !equalBytes(config.primary, own)) throw new Error(`--primary ${toHex(config.primary)} is not this key's address ${toHex(own)}`);
      if (!config.unsafeSkipRecovery) {
        const anonymous = config.peers.filter((p) => !peerIdOfAddress(p));
        if (anonymous.length > 0) throw new Error(`a primary waits for each of its peers at start-up, so each needs its /p2p/<peer id>: ${anonymous.join(', ')}`);
      }
    } else if (!config.primary) {
      throw new Error('a replica needs the primary address (--primary)');
    }
    const primary = config.primary ?? own!;
    const allowed = new Set(config.allow.map((a) => toHex(a)));
    const rules: LogRules = {
      logId: config.logId,
      separator: domainSeparator({ chainId: config.chainId, logId: config.logId }),
      primary,
      isAllowed: (sender) => allowed.has(toHex(sender)),
    };

    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const store = await LogStore.open(join(config.dataDir, 'db'), `log ${toHex(config.logId)} chain ${config.chainId} primary ${toHex(primary)}`);
    let host: Host;
    let watch: HeaderWatch;
    try {
      watch = await HeaderWatch.open({ store, rules, chainId: config.chainId, log });
      host = await createHost({
        privateKey: await loadOrCreatePeerKey(config.dataDir),
        listenHost: config.p2pHost,
        listenPort: config.p2pPort,
        bootstrapPeers: [...config.peers],
        maxMessageBytes: MAX_BATCH_BYTES + 1024,
        log: (level, msg, err) => log[level](msg, err ? { error: (err as Error).message ?? String(err) } : undefined),
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    const node = new SequencerNode(config, rules, store, watch, host, log);
    try {
      await node.wire();
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  private async wire(): Promise<void> {
    const { host, store, rules, config, log, watch } = this;
    if (config.bond) {
      const bond = await BondWatcher.connect(config.bond.chainRpc, {
        contract: toHex(config.bond.contract), sequencer: toHex(rules.primary), logId: toHex(rules.logId), chainId: config.chainId, pollMs: config.bond.pollMs,
      });
      this.bond = bond;
      bond.onChange((state) => {
        const problem = this.bondProblem();
        log[problem ? 'warn' : 'info'](problem ? `not trusting the primary: ${problem}` : "the primary's bond is active", { bond: state });
        if (!problem) void this.replica?.catchUp();
      });
    }
    const topic = batchTopic(rules.logId);
    await serveLog(host, store, rules, () => this.status());
    shareProofs(host, rules.logId, watch, log);

    if (config.mode === 'primary') {
      this.peerRecord = signPeerRecord(rules.separator, rules.logId, host.peerId, Math.floor(Date.now() / 1000), config.privateKey!);
      const becomePrimary = (): void => {
        this.primary = new Primary({
          store, rules, log, watch,
          reader: this.reader,
          privateKey: config.privateKey!,
          maxPendingTxs: config.maxPendingTxs,
          publish: (bytes) => host.publish(topic, bytes),
        });
      };
      const peers = config.peers.map((p) => peerIdOfAddress(p)!).filter((p) => p !== host.peerId);
      if (peers.length === 0 || config.unsafeSkipRecovery) {
        if (config.unsafeSkipRecovery && peers.length > 0) log.warn('--unsafe-skip-recovery: signing on top of the local store without asking peers; a height they hold and this store lacks would be signed again (slashable)');
        becomePrimary();
      } else {
        const startup = new PrimaryStartup({ host, store, rules, watch, log, peers });
        this.startup = startup;
        void startup.run().then((ready) => {
          if (!ready) return;
          this.startup = undefined;
          becomePrimary();
          log.info('primary ready: synced to the highest header its peers hold signed with its key', { height: store.tip.height });
        }, (e: Error) => log.error('primary start-up recovery failed; not sequencing', { error: e.message }));
      }
      await serveAppends(host, rules.separator, (s) => this.append(s), log);
      // Subscribing keeps the primary in the mesh, and lets it see headers signed with its key elsewhere.
      host.subscribe(topic, (msg, from) => this.primary?.onGossip(msg, from) ?? this.startup?.onGossip(msg, from) ?? Promise.resolve('ignore'));
    } else {
      const link = new PrimaryLink(host, rules, log);
      // While the primary's bond does not back it (bondProblem), no batch is fetched or taken from gossip.
      const source = { peers: () => (this.bondProblem() ? [] : link.peers()), fetch: link.fetch.bind(link) };
      const replica = new Replica({ store, rules, log, watch, source });
      this.link = link;
      this.replica = replica;
      host.subscribe(topic, (msg, from) => (this.bondProblem() ? Promise.resolve('ignore' as const) : replica.onGossip(msg, from)));
      host.onPeerConnected((peer) => {
        void link.learnStatus(peer);
        void replica.catchUp();
      });
      replica.start();
    }

    this.rpc = await startRpcServer({ methods: createMethods(this), host: config.rpcHost, port: config.rpcPort, limits: { maxConnections: config.rpcMaxConnections }, log });
    log.info('node started', { mode: config.mode, rpc: this.rpc.url, multiaddrs: host.multiaddrs(), height: store.tip.height });
  }

  get rpcUrl(): string {
    return this.rpc!.url;
  }

  multiaddrs(): string[] {
    return this.host.multiaddrs();
  }

  private async status(): Promise<Status> {
    const highest = await this.highestHeader();
    const record = this.peerRecord;
    return {
      mode: this.config.mode,
      address: this.address ? toHex(this.address) : null,
      primary: toHex(this.rules.primary),
      logId: toHex(this.rules.logId),
      height: this.store.tip.height,
      highestHeader: highest ? toHex(encodeSignedHeader(highest)) : null,
      peerRecord: record ? { peerId: record.peerId, issuedAt: record.issuedAt, signature: toHex(record.signature) } : null,
    };
  }

  /** The highest primary-signed header held: one seen ahead of the tip, else the tip's (read once per tip). */
  private async highestHeader(): Promise<SignedHeader | undefined> {
    const tip = this.store.tip;
    const seen = this.watch.highestSeen();
    if (seen && seen.header.height > tip.height) return seen;
    if (tip.height < 0) return undefined;
    if (this.tipHeader?.height !== tip.height) {
      const stored = await this.store.getBatch(tip.height);
      this.tipHeader = { height: tip.height, signed: stored && peekSignedHeader(stored.bytes) };
    }
    return this.tipHeader.signed;
  }

  /**
   * Why the primary's bond does not back it now, or null (docs/slashing.md §Withdrawal delay). A primary stops
   * sequencing on what the chain shows (leaving, slashed, unbonded); a replica also stops following while the
   * bond cannot be read.
   */
  private bondProblem(): string | null {
    if (!this.bond) return null;
    return this.config.mode === 'primary' ? this.bond.revoked() : this.bond.distrust();
  }

  // ---- NodeApi ----

  /** A primary sequences; a replica forwards to the primary and shows the receipt's header to its watch. */
  async append(s: Submission): Promise<Receipt> {
    const bondProblem = this.bondProblem();
    if (bondProblem) throw new HaltedError(bondProblem);
    if (this.primary) return this.primary.append(s);
    if (this.config.mode === 'primary') throw new NotReadyError(this.startup?.notReady ?? 'the primary is stopping');
    const receipt = await this.link!.forward(s);
    await this.watch.check(receipt, 'receipt forwarded from the primary');
    return receipt;
  }

  entries(fromSeq: number, limit: number): Promise<Entry[]> {
    return this.reader.entries(fromSeq, limit);
  }

  batch(height: number): Promise<ExpandedBatch | undefined> {
    return this.reader.batch(height);
  }

  proof(seq: number): Promise<EntryProof | undefined> {
    return this.reader.proof(seq);
  }

  info(): Record<string, unknown> {
    const tip = this.store.tip;
    return {
      mode: this.config.mode,
      address: this.address ? toHex(this.address) : null,
      primary: toHex(this.rules.primary),
      peerId: this.host.peerId,
      multiaddrs: this.host.multiaddrs(),
      logId: toHex(this.rules.logId),
      chainId: this.config.chainId,
      entries: tip.nextSeq,
      height: tip.height,
      headHash: toHex(tip.headHash),
      headerHash: toHex(tip.headerHash),
      connectedPeers: this.host.connectedPeers(),
      halted: this.primary?.halted ?? (this.watch.equivocated ? 'the primary equivocated; no longer following it' : null) ?? this.bondProblem(),
      bond: this.bond?.state ?? null,
      notReady: this.startup?.notReady ?? null,
      storageFault: this.store.fault ?? null,
      equivocations: this.watch.proofs.length,
      process: this.monitor.sample(),
      version: VERSION,
    };
  }

  equivocations(): readonly EquivocationProof[] {
    return this.watch.proofs;
  }

  /**
   * Checks a client's receipt: on its own (checkReceipt: this log, an allowed view, the primary's signature,
   * the Merkle proof), then against what this node holds. A header that conflicts with a held one yields, and
   * records, an equivocation proof; a header for a height not yet held is kept, and judged when that height
   * arrives; a stored header must come with the entries, sender and digest the log holds under it.
   * Statuses: docs/protocol.md §JSON-RPC API (verifyReceipt).
   */
  async verifyReceipt(receipt: Receipt): Promise<ReceiptVerdict> {
    const reason = checkReceipt(this.rules, receipt);
    if (reason) return { valid: false, reason, status: 'invalid', proof: null };
    const origin = 'receipt check';
    const proof = await this.watch.check(receipt, origin);
    if (proof) return { valid: true, reason: null, status: 'conflict', proof };
    const height = receipt.header.height;
    if (height > this.store.tip.height) return { valid: true, reason: null, status: 'pending', proof: null };
    const stored = await this.store.getBatch(height);
    if (!stored) throw new Error(`batch ${height} missing at or below the tip ${this.store.tip.height}`);
    const batch = decodeBatch(stored.bytes);
    if (!equalBytes(headerHash(this.separator, batch.header), headerHash(this.separator, receipt.header))) {
      // Stored after `remember` kept the receipt's header: judged against the log now (one proof, whoever records it).
      const late = await this.watch.observe(receipt, origin);
      if (!late) throw new Error(`the header stored at height ${height} differs from the receipt's, yet the watch found no conflict`);
      return { valid: true, reason: null, status: 'conflict', proof: late };
    }
    const mismatch = receiptMismatch(this.separator, receipt, batch);
    return { valid: true, reason: mismatch, status: mismatch ? 'mismatch' : 'consistent', proof: null };
  }

  async stop(): Promise<void> {
    await this.rpc?.close();
    await this.startup?.stop();
    await this.primary?.stop();
    await this.replica?.stop();
    this.bond?.stop();
    await this.host.stop();
    await this.store.close();
    this.monitor.stop();
  }
}
