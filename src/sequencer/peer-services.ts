/**
 * What nodes ask each other besides gossip (docs/protocol.md §Sync protocol, §Status, §Append forwarding):
 * serving stored batches and status to any peer, a primary serving forwarded appends, and a replica's link
 * to its primary (finding the primary's peer, forwarding a submission, checking the receipt it gets back).
 */
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import type { LogRules } from '../core/batch.ts';
import { InvalidParamsError, PrimaryUnavailableError, SequencerError } from '../core/errors.ts';
import { headerHash } from '../core/header.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import { decodeSubmission, encodeSubmission, type Submission } from '../core/submission.ts';
import type { Host } from '../p2p/host.ts';
import {
  APPEND_PROTOCOL, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, STATUS_PROTOCOL, SYNC_MAX_BATCHES, SYNC_MAX_BYTES, SYNC_PROTOCOL,
  decodeJson, decodeSyncRequest, encodeJson, encodeSyncRequest, type Status,
} from '../p2p/protocols.ts';
import { parseReceipt, receiptToJson } from '../rpc/codec.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Logger } from '../node/logger.ts';
import type { BatchSource } from './replica.ts';

const FORWARD_TIMEOUT_MS = 10_000;
const STATUS_MAX_BYTES = 4096;

/** Every node serves its stored batches and its status. */
export async function serveLog(host: Host, store: LogStore, rules: LogRules, status: () => Status): Promise<void> {
  await host.handleRequests(SYNC_PROTOCOL, async function* (request) {
    const req = decodeSyncRequest(request);
    if (!equalBytes(req.logId, rules.logId)) return;
    for await (const b of store.batchesFrom(req.fromHeight, Math.min(req.maxBatches, SYNC_MAX_BATCHES), SYNC_MAX_BYTES)) yield b.bytes;
  }, { maxRequestBytes: 64 });
  await host.handleRequests(STATUS_PROTOCOL, () => [encodeJson(status())], { maxRequestBytes: 64 });
}

/** A primary answers forwarded submissions with the receipt JSON, or the error with its code. */
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
      if (e instanceof SequencerError) return [encodeJson({ error: { code: e.code, message: e.message, data: e.data } })];
      log.error('forwarded append failed', { error: (e as Error).message });
      return [encodeJson({ error: { code: -32603, message: 'internal error' } })];
    }
  }, { maxRequestBytes: MAX_REQUEST_BYTES });
}

/**
 * A replica's view of the network: which connected peer is the primary (from status answers: only a routing
 * hint, since whatever comes back is verified), where to fetch missing batches, and how to forward appends.
 */
export class PrimaryLink implements BatchSource {
  private readonly host: Host;
  private readonly rules: LogRules;
  private readonly log: Logger;
  private primaryPeer: string | undefined;

  constructor(host: Host, rules: LogRules, log: Logger) {
    this.host = host;
    this.rules = rules;
    this.log = log;
  }

  /** Asks a newly connected peer who it is. */
  async learnStatus(peer: string): Promise<void> {
    try {
      for await (const frame of this.host.request(peer, STATUS_PROTOCOL, new Uint8Array(0), { maxFrameBytes: STATUS_MAX_BYTES, maxFrames: 1 })) {
        const s = decodeJson(frame) as Partial<Status>;
        if (s.mode === 'primary' && s.address === toHex(this.rules.primary) && s.logId === toHex(this.rules.logId)) this.primaryPeer = peer;
      }
    } catch (e) {
      this.log.debug('status request failed', { peer, error: (e as Error).message });
    }
  }

  /** Connected peers, the primary first (it always has the newest batches). */
  peers(): string[] {
    const peers = this.host.connectedPeers();
    const p = this.primaryPeer;
    return p && peers.includes(p) ? [p, ...peers.filter((x) => x !== p)] : peers;
  }

  fetch(peer: string, fromHeight: number): AsyncIterable<Uint8Array> {
    return this.host.request(peer, SYNC_PROTOCOL, encodeSyncRequest({ logId: this.rules.logId, fromHeight, maxBatches: SYNC_MAX_BATCHES }),
      { maxFrameBytes: MAX_FRAME_BYTES, maxFrames: SYNC_MAX_BATCHES });
  }

  /** Hands the submission to the primary and returns its receipt once it checks against the payloads. */
  async forward(s: Submission): Promise<Receipt> {
    const connected = () => this.primaryPeer !== undefined && this.host.connectedPeers().includes(this.primaryPeer);
    if (!connected()) await Promise.all(this.host.connectedPeers().map((p) => this.learnStatus(p)));
    const peer = this.primaryPeer;
    if (!peer || !connected()) throw new PrimaryUnavailableError('not connected to the primary');
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
    const problem = checkReceipt(this.rules.separator, this.rules.primary, receipt, s.transactions);
    if (problem) throw new PrimaryUnavailableError(`the primary answered with an invalid receipt: ${problem}`);
    return receipt;
  }
}
