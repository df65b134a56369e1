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
import { PrimaryUnavailableError, SequencerError } from '../core/errors.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import { addressFromPrivateKey } from '../core/signature.ts';
import { decodeSubmission, encodeSubmission, type Submission } from '../core/submission.ts';
import { createHost, type Host } from '../p2p/host.ts';
import { loadOrCreatePeerKey } from '../p2p/identity.ts';
import {
  APPEND_PROTOCOL, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, STATUS_PROTOCOL, SYNC_MAX_BATCHES, SYNC_MAX_BYTES, SYNC_PROTOCOL,
  batchTopic, decodeJson, decodeSyncRequest, encodeJson, encodeSyncRequest, type Status,
} from '../p2p/protocols.ts';
import { MAX_BATCH_BYTES } from '../core/limits.ts';
import { parseReceipt, receiptToJson } from '../rpc/codec.ts';
import { createMethods, type NodeApi } from '../rpc/methods.ts';
import { startRpcServer, type RpcServer } from '../rpc/server.ts';
import { LogReader, type Entry, type EntryProof, type ExpandedBatch } from '../sequencer/log-reader.ts';
import { Primary } from '../sequencer/primary.ts';
import { Replica } from '../sequencer/replica.ts';
import { HeaderWatch } from '../sequencer/header-watch.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { LogStore } from '../storage/log-store.ts';
import { headerHash } from '../core/header.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';

export const VERSION: string = pkg.version;

const FORWARD_TIMEOUT_MS = 10_000;

export class SequencerNode implements NodeApi {
  readonly config: NodeConfig;
  readonly rules: LogRules;
  readonly separator: Bytes;
  readonly address: Bytes | undefined;
  private readonly store: LogStore;
  private readonly host: Host;
  private readonly reader: LogReader;
  private readonly log: Logger;
  private watch!: HeaderWatch;
  private primary: Primary | undefined;
  private replica: Replica | undefined;
  private rpc: RpcServer | undefined;
  /** Peer believed to be the primary (from its status); only a routing hint, receipts are verified. */
  private primaryPeer: string | undefined;

  private constructor(config: NodeConfig, rules: LogRules, store: LogStore, host: Host, log: Logger) {
    this.config = config;
    this.rules = rules;
    this.separator = rules.separator;
    this.address = config.privateKey ? addressFromPrivateKey(config.privateKey) : undefined;
    this.store = store;
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
    try {
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
    const node = new SequencerNode(config, rules, store, host, log);
    try {
      await node.wire();
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  private async wire(): Promise<void> {
    const { host, store, rules, config, log } = this;
    const topic = batchTopic(rules.logId);
    this.watch = await HeaderWatch.open({ store, rules, chainId: config.chainId, log });
    await host.handleRequests(SYNC_PROTOCOL, (req) => this.serveSync(req), { maxRequestBytes: 64 });
    await host.handleRequests(STATUS_PROTOCOL, () => [encodeJson(this.status())], { maxRequestBytes: 64 });

    if (config.mode === 'primary') {
      this.primary = new Primary({
        store, rules, log,
        privateKey: config.privateKey!,
        watch: this.watch,
        maxPendingTxs: config.maxPendingTxs,
        publish: (bytes) => host.publish(topic, bytes),
      });
      await host.handleRequests(APPEND_PROTOCOL, (req) => this.serveForwardedAppend(req), { maxRequestBytes: MAX_REQUEST_BYTES });
      // Subscribing keeps the primary in the mesh, and lets it see headers signed with its key elsewhere.
      const primary = this.primary;
      host.subscribe(topic, (msg, from) => primary.onGossip(msg, from));
    } else {
      const replica = new Replica({
        store, rules, log,
        watch: this.watch,
        source: {
          peers: () => this.syncPeers(),
          fetch: (peer, fromHeight) => host.request(peer, SYNC_PROTOCOL,
            encodeSyncRequest({ logId: rules.logId, fromHeight, maxBatches: SYNC_MAX_BATCHES }),
            { maxFrameBytes: MAX_FRAME_BYTES, maxFrames: SYNC_MAX_BATCHES }),
        },
      });
      this.replica = replica;
      host.subscribe(topic, (msg, from) => replica.onGossip(msg, from));
      host.onPeerConnected((peer) => {
        void this.learnStatus(peer);
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

  /** Connected peers, the primary first (it always has the newest batches). */
  private syncPeers(): string[] {
    const peers = this.host.connectedPeers();
    const p = this.primaryPeer;
    return p && peers.includes(p) ? [p, ...peers.filter((x) => x !== p)] : peers;
  }

  private async learnStatus(peer: string): Promise<void> {
    try {
      for await (const frame of this.host.request(peer, STATUS_PROTOCOL, new Uint8Array(0), { maxFrameBytes: 4096, maxFrames: 1 })) {
        const s = decodeJson(frame) as Partial<Status>;
        if (s.mode === 'primary' && s.address === toHex(this.rules.primary) && s.logId === toHex(this.rules.logId)) this.primaryPeer = peer;
      }
    } catch (e) {
      this.log.debug('status request failed', { peer, error: (e as Error).message });
    }
  }

  private async *serveSync(request: Uint8Array): AsyncGenerator<Uint8Array> {
    const req = decodeSyncRequest(request);
    if (!equalBytes(req.logId, this.rules.logId)) return;
    const max = Math.min(req.maxBatches, SYNC_MAX_BATCHES);
    for await (const b of this.store.batchesFrom(req.fromHeight, max, SYNC_MAX_BYTES)) yield b.bytes;
  }

  private async serveForwardedAppend(request: Uint8Array): Promise<Uint8Array[]> {
    try {
      const receipt = await this.append(decodeSubmission(request));
      return [encodeJson({ result: receiptToJson(receipt, headerHash(this.separator, receipt.header)) })];
    } catch (e) {
      const error = e instanceof SequencerError ? { code: e.code, message: e.message, data: e.data } : { code: -32603, message: 'internal error' };
      if (!(e instanceof SequencerError)) this.log.error('forwarded append failed', { error: (e as Error).message });
      return [encodeJson({ error })];
    }
  }

  // ---- NodeApi ----

  async append(s: Submission): Promise<Receipt> {
    if (this.primary) return this.primary.append(s);
    return this.forward(s);
  }

  /** Replica: hands the submission to the primary over libp2p and checks the receipt before passing it on. */
  private async forward(s: Submission): Promise<Receipt> {
    if (!this.primaryPeer || !this.host.connectedPeers().includes(this.primaryPeer)) {
      await Promise.all(this.host.connectedPeers().map((p) => this.learnStatus(p)));
    }
    const peer = this.primaryPeer;
    if (!peer || !this.host.connectedPeers().includes(peer)) throw new PrimaryUnavailableError('not connected to the primary');
    let reply: { result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } } | undefined;
    try {
      for await (const frame of this.host.request(peer, APPEND_PROTOCOL, encodeSubmission(s), {
        maxFrameBytes: MAX_FRAME_BYTES, maxFrames: 1, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      })) reply = decodeJson(frame) as typeof reply;
    } catch (e) {
      throw new PrimaryUnavailableError((e as Error).message);
    }
    if (reply?.error) throw new SequencerError(reply.error.code, reply.error.message, reply.error.data);
    let receipt: Receipt;
    try {
      receipt = parseReceipt(reply?.result);
    } catch {
      throw new PrimaryUnavailableError('the primary answered with a malformed receipt');
    }
    const problem = checkReceipt(this.separator, this.rules.primary, receipt, s.transactions);
    if (problem) throw new PrimaryUnavailableError(`the primary answered with an invalid receipt: ${problem}`);
    await this.watch.observe(receipt, `receipt forwarded from ${peer}`);
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
    const stored = await this.reader.batch(receipt.header.height);
    return { valid: true, reason: null, status: stored ? 'consistent' : 'pending', proof: null };
  }

  async stop(): Promise<void> {
    await this.rpc?.close();
    await this.primary?.stop();
    await this.replica?.stop();
    await this.host.stop();
    await this.store.close();
  }
}
