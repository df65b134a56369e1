/**
 * What nodes ask each other besides gossip (docs/protocol.md §Sync protocol, §Status, §Append forwarding):
 * serving stored batches and status to any peer, a primary serving forwarded appends, and a replica's link
 * to its primary (finding the primary's peer, forwarding a submission, checking the receipt it gets back).
 */
import { equalBytes, fromHex, toHex, type Bytes } from '../core/bytes.ts';
import type { LogRules } from '../core/rules.ts';
import {
  BadSignatureError, ErrorCode, ExpiredError, InvalidParamsError, NonceReplayedError, NotAllowedError, NotReadyError, OverloadedError,
  PrimaryUnavailableError, SequencerError, StorageUnavailableError,
} from '../core/errors.ts';
import { CURRENT_VIEW, decodeSignedHeader, headerHash, type SignedHeader } from '../core/header.ts';
import { MAX_PEER_ID_CHARS, peerRecordSigner, type PeerRecord } from '../core/peer-record.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import { decodeSubmission, encodeSubmission, type Submission } from '../core/submission.ts';
import type { Host } from '../p2p/host.ts';
import {
  APPEND_PROTOCOL, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, STATUS_PROTOCOL, SYNC_MAX_BATCHES, SYNC_MAX_BYTES, SYNC_PROTOCOL,
  decodeJson, decodeSyncRequest, encodeJson, encodeSyncRequest, type Status,
} from '../wire/p2p-messages.ts';
import { parseReceipt, receiptToJson } from '../wire/json.ts';
import type { LogStore } from '../storage/log-store.ts';
import type { Logger } from '../core/logger.ts';
import type { BatchSource } from './replica.ts';

const FORWARD_TIMEOUT_MS = 10_000;
const STATUS_MAX_BYTES = 4096;

/** Every node serves its stored batches and its status. */
export async function serveLog(host: Host, store: LogStore, rules: LogRules, status: () => Promise<Status>): Promise<void> {
  await host.handleRequests(SYNC_PROTOCOL, async function* (request) {
    const req = decodeSyncRequest(request); // a malformed request throws: the stream is reset, nothing is read
    if (!equalBytes(req.logId, rules.logId)) return;
    for await (const b of store.batchesFrom(req.fromHeight, req.maxBatches, SYNC_MAX_BYTES)) yield b.bytes;
  }, { maxRequestBytes: 64 });
  await host.handleRequests(STATUS_PROTOCOL, async () => [encodeJson(await status())], { maxRequestBytes: 64 });
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

/** Asks a peer for its status. The answer is whatever the peer chose to send: callers verify what they use. */
export async function requestStatus(host: Host, peer: string): Promise<Partial<Status>> {
  for await (const frame of host.request(peer, STATUS_PROTOCOL, new Uint8Array(0), { maxFrameBytes: STATUS_MAX_BYTES, maxFrames: 1 })) {
    const s = decodeJson(frame);
    if (s !== null && typeof s === 'object') return s as Partial<Status>;
  }
  throw new Error('empty or malformed status answer');
}

/** Batches from `fromHeight` on, as a peer serves them (§Sync protocol); callers verify every one. */
export function fetchBatches(host: Host, rules: LogRules, peer: string, fromHeight: number): AsyncIterable<Uint8Array> {
  return host.request(peer, SYNC_PROTOCOL, encodeSyncRequest({ logId: rules.logId, fromHeight, maxBatches: SYNC_MAX_BATCHES }),
    { maxFrameBytes: MAX_FRAME_BYTES, maxFrames: SYNC_MAX_BATCHES });
}

/** The `peerRecord` of a status answer; throws on anything malformed. */
function parsePeerRecord(v: unknown): PeerRecord {
  const r = v as { peerId?: unknown; issuedAt?: unknown; signature?: unknown } | null;
  if (typeof r?.peerId !== 'string' || r.peerId.length > MAX_PEER_ID_CHARS) throw new Error('peerRecord.peerId is not a peer id');
  if (typeof r.issuedAt !== 'number' || !Number.isSafeInteger(r.issuedAt) || r.issuedAt < 0) throw new Error('peerRecord.issuedAt is not a u64');
  if (typeof r.signature !== 'string') throw new Error('peerRecord.signature is not hex');
  return { peerId: r.peerId, issuedAt: r.issuedAt, signature: fromHex(r.signature, 65) };
}

/**
 * Why a status answer from `peer` does not prove that `peer` holds the primary's key, or null if it does: its
 * record must be signed by the primary for this log and name `peer`, the peer id that libp2p's Noise handshake
 * authenticated for the connection the answer came over (a record replayed by another peer names someone else).
 */
function disprovePrimary(rules: LogRules, status: Partial<Status>, peer: string): string | null {
  let record: PeerRecord;
  try {
    record = parsePeerRecord(status.peerRecord);
  } catch (e) {
    return `no valid peer record (${(e as Error).message})`;
  }
  if (record.peerId !== peer) return `its peer record names another peer (${record.peerId})`;
  let signer: Bytes;
  try {
    signer = peerRecordSigner(rules.separator, rules.logId, record);
  } catch (e) {
    return `peer record signature: ${(e as Error).message}`;
  }
  return equalBytes(signer, rules.membership.leaderOf(CURRENT_VIEW)) ? null : `peer record signed by ${toHex(signer)}, not by the primary`;
}

/** The `highestHeader` of a status answer, decoded but not verified (null when the peer holds none). Throws if malformed. */
export function parseHighestHeader(status: Partial<Status>): SignedHeader | null {
  const v = status.highestHeader;
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Error('highestHeader is not hex');
  return decodeSignedHeader(fromHex(v));
}

type PrimaryReply = { result?: unknown; error?: { code?: unknown; message?: unknown } };

/** The replica's own error for each code a primary answers an append with (undefined: the answer makes no sense). */
const RESTATED: Partial<Record<number, (s: Submission) => SequencerError | undefined>> = {
  [ErrorCode.InvalidParams]: () => new InvalidParamsError('the primary refused the submission as malformed'),
  [ErrorCode.NotAllowed]: (s) => new NotAllowedError(toHex(s.sender)),
  [ErrorCode.BadSignature]: () => new BadSignatureError('the primary refused the submission\'s signature'),
  [ErrorCode.NonceReplayed]: (s) => new NonceReplayedError(toHex(s.sender), s.nonce),
  [ErrorCode.Expired]: (s) => (s.expiry === 0 ? undefined : new ExpiredError(s.expiry, Math.floor(Date.now() / 1000))),
  [ErrorCode.TooLarge]: () => new SequencerError(ErrorCode.TooLarge, 'the submission exceeds a limit of the primary'),
  [ErrorCode.Overloaded]: () => new OverloadedError(),
  [ErrorCode.Halted]: () => new SequencerError(ErrorCode.Halted, 'the primary has halted: it no longer sequences'),
  [ErrorCode.NotReady]: () => new NotReadyError('the primary is not ready to sequence yet (catching up after a restart)'),
  [ErrorCode.StorageUnavailable]: () => new StorageUnavailableError('the primary\'s store cannot take writes', 'reported by the primary'),
};

/**
 * The primary's refusal restated by this replica: the code picks the error, the message and data are the
 * replica's own (from the submission it holds), so nothing a peer wrote reaches a client as this node's answer.
 * The primary's own text travels only as `data.primaryMessage`. Codes a primary never sends for an append
 * mean the answer cannot be trusted: primary unavailable (docs/protocol.md §Append forwarding).
 */
function restatePrimaryError(error: PrimaryReply['error'], s: Submission): SequencerError {
  const own = (typeof error?.code === 'number' ? RESTATED[error.code]?.(s) : undefined)
    ?? new PrimaryUnavailableError('the primary answered with an unexpected error');
  const primaryMessage = typeof error?.message === 'string' ? error.message.slice(0, 500) : undefined;
  return new SequencerError(own.code, own.message, primaryMessage === undefined ? own.data : { ...own.data, primaryMessage });
}

/**
 * A replica's view of the network: which connected peer has proved it holds the primary's key (its status
 * carries a PeerRecord for its own peer id), where to fetch missing batches, and how to forward appends.
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

  /** Asks a newly connected peer who it is; only a proof of the primary's key makes it the forwarding target. */
  async learnStatus(peer: string): Promise<void> {
    let status: Partial<Status>;
    try {
      status = await requestStatus(this.host, peer);
    } catch (e) {
      this.log.debug('status request failed', { peer, error: (e as Error).message });
      return;
    }
    // `mode` is only a hint: the record decides. A peer that neither claims nor proves anything is a replica.
    const problem = status.mode === 'primary' || status.peerRecord != null ? disprovePrimary(this.rules, status, peer) : undefined;
    if (problem === null) {
      this.primaryPeer = peer;
      return;
    }
    if (this.primaryPeer === peer) this.primaryPeer = undefined;
    if (problem !== undefined) this.log.warn('a peer claims to be the primary without proving it; not forwarding to it', { peer, reason: problem });
  }

  /** Connected peers, the primary first (it always has the newest batches). */
  peers(): string[] {
    const peers = this.host.connectedPeers();
    const p = this.primaryPeer;
    return p && peers.includes(p) ? [p, ...peers.filter((x) => x !== p)] : peers;
  }

  fetch(peer: string, fromHeight: number): AsyncIterable<Uint8Array> {
    return fetchBatches(this.host, this.rules, peer, fromHeight);
  }

  /** Hands the submission to the primary and returns its receipt once it checks against the payloads. */
  async forward(s: Submission): Promise<Receipt> {
    const connected = () => this.primaryPeer !== undefined && this.host.connectedPeers().includes(this.primaryPeer);
    if (!connected()) await Promise.all(this.host.connectedPeers().map((p) => this.learnStatus(p)));
    const peer = this.primaryPeer;
    if (!peer || !connected()) throw new PrimaryUnavailableError('not connected to the primary');
    let reply: PrimaryReply | undefined;
    try {
      for await (const frame of this.host.request(peer, APPEND_PROTOCOL, encodeSubmission(s), {
        maxFrameBytes: MAX_FRAME_BYTES, maxFrames: 1, signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      })) reply = decodeJson(frame) as PrimaryReply;
    } catch (e) {
      this.log.debug('forwarding to the primary failed', { peer, error: (e as Error).message });
      throw new PrimaryUnavailableError('the request to the primary failed');
    }
    if (reply?.error !== undefined) throw restatePrimaryError(reply.error, s);
    let receipt: Receipt;
    try {
      receipt = parseReceipt(reply?.result);
    } catch {
      throw new PrimaryUnavailableError('the primary answered with a malformed receipt');
    }
    const problem = checkReceipt(this.rules, receipt, s.transactions);
    if (problem) throw new PrimaryUnavailableError(`the primary answered with an invalid receipt: ${problem}`);
    return receipt;
  }
}
