/**
 * A sequencer node: the facade that wires the log store, the role (primary or replica), the libp2p host and
 * the RPC server together. Components get their collaborators explicitly; this file owns lifecycles only.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import type { LogRules } from '../core/batch.ts';
import { domainSeparator } from '../core/eip712.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { MAX_BATCH_BYTES } from '../core/limits.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import { addressFromPrivateKey } from '../core/signature.ts';
import type { Submission } from '../core/submission.ts';
import { createHost, type Host } from '../p2p/host.ts';
import { loadOrCreatePeerKey } from '../p2p/identity.ts';
import { batchTopic, type Status } from '../p2p/protocols.ts';
import { createMethods, type NodeApi } from '../rpc/methods.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { HeaderWatch } from '../sequencer/header-watch.ts';
import { LogReader, type Entry, type EntryProof, type ExpandedBatch } from '../sequencer/log-reader.ts';
import { PrimaryLink, serveAppends, serveLog } from '../sequencer/peer-services.ts';
import { shareProofs } from '../sequencer/proof-gossip.ts';
import { Primary } from '../sequencer/primary.ts';
import { Replica } from '../sequencer/replica.ts';
import { LogStore } from '../storage/log-store.ts';
import type { NodeConfig } from './config.ts';
import { ProcessMonitor } from './process-stats.ts';
import type { Logger } from './logger.ts';

export const VERSION: string = pkg.version;

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
  private replica: Replica | undefined;
  private link: PrimaryLink | undefined;
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
    const topic = batchTopic(rules.logId);
    await serveLog(host, store, rules, () => this.status());
    shareProofs(host, rules.logId, watch, log);

    if (config.mode === 'primary') {
      const primary = new Primary({
        store, rules, log, watch,
        reader: this.reader,
        privateKey: config.privateKey!,
        maxPendingTxs: config.maxPendingTxs,
        publish: (bytes) => host.publish(topic, bytes),
      });
      this.primary = primary;
      await serveAppends(host, rules.separator, (s) => primary.append(s), log);
      // Subscribing keeps the primary in the mesh, and lets it see headers signed with its key elsewhere.
      host.subscribe(topic, (msg, from) => primary.onGossip(msg, from));
    } else {
      const link = new PrimaryLink(host, rules, log);
      const replica = new Replica({ store, rules, log, watch, source: link });
      this.link = link;
      this.replica = replica;
      host.subscribe(topic, (msg, from) => replica.onGossip(msg, from));
      host.onPeerConnected((peer) => {
        void link.learnStatus(peer);
        void replica.catchUp();
      });
      replica.start();
    }

    this.rpc = await startRpcServer({ methods: createMethods(this), host: config.rpcHost, port: config.rpcPort, log });
    log.info('node started', { mode: config.mode, rpc: this.rpc.url, multiaddrs: host.multiaddrs(), height: store.tip.height });
  }

  get rpcUrl(): string {
    return this.rpc!.url;
  }

  multiaddrs(): string[] {
    return this.host.multiaddrs();
  }

  private status(): Status {
    return {
      mode: this.config.mode,
      address: this.address ? toHex(this.address) : null,
      primary: toHex(this.rules.primary),
      logId: toHex(this.rules.logId),
      height: this.store.tip.height,
    };
  }

  // ---- NodeApi ----

  /** A primary sequences; a replica forwards to the primary and shows the receipt's header to its watch. */
  async append(s: Submission): Promise<Receipt> {
    if (this.primary) return this.primary.append(s);
    const receipt = await this.link!.forward(s);
    await this.watch.observe(receipt, 'receipt forwarded from the primary');
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
      halted: this.primary?.halted ?? (this.watch.equivocated ? 'the primary equivocated; no longer following it' : null),
      equivocations: this.watch.proofs.length,
      process: this.monitor.sample(),
      version: VERSION,
    };
  }

  equivocations(): readonly EquivocationProof[] {
    return this.watch.proofs;
  }

  /**
   * Checks a client's receipt: its signature and entries (checkReceipt), then its header against this node's
   * log. A receipt whose header conflicts with what the node holds yields, and records, an equivocation proof.
   */
  async verifyReceipt(receipt: Receipt): Promise<{ valid: boolean; reason: string | null; status: 'consistent' | 'pending' | 'conflict'; proof: EquivocationProof | null }> {
    const reason = checkReceipt(this.separator, this.rules.primary, receipt);
    if (reason) return { valid: false, reason, status: 'pending', proof: null };
    const proof = await this.watch.observe(receipt, 'receipt check');
    if (proof) return { valid: true, reason: null, status: 'conflict', proof };
    // No conflict with what is held: at or below the tip, the stored header is this very header.
    const stored = receipt.header.height <= this.store.tip.height;
    return { valid: true, reason: null, status: stored ? 'consistent' : 'pending', proof: null };
  }

  async stop(): Promise<void> {
    await this.rpc?.close();
    await this.primary?.stop();
    await this.replica?.stop();
    await this.host.stop();
    await this.store.close();
    this.monitor.stop();
  }
}
