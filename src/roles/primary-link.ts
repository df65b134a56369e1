/**
 * A node's link to the leader (docs/protocol.md §Status, §Append forwarding): which connected peer has proved it
 * holds which validator's key, so which one leads the current view, where to fetch missing batches first, and
 * forwarding a submission to the leader and checking the receipt it gets back.
 */
import { toHex, type Bytes } from '../core/bytes.ts';
import { PrimaryUnavailableError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { provenValidator } from '../core/peer-record.ts';
import { checkReceipt, type Receipt } from '../core/receipt.ts';
import type { LogRules } from '../core/rules.ts';
import { encodeSubmission, type Submission } from '../core/submission.ts';
import type { Host } from '../p2p/host.ts';
import { parseReceipt } from '../wire/json.ts';
import { APPEND_PROTOCOL, MAX_FRAME_BYTES, decodeJson, type Status } from '../wire/p2p-messages.ts';
import { parsePeerRecord } from '../wire/status.ts';
import { fetchBatches, requestStatus } from './log-service.ts';
import { restatePrimaryError, type PrimaryReply } from './primary-errors.ts';
import type { BatchSource } from './replica.ts';

const FORWARD_TIMEOUT_MS = 10_000;
/**
 * Peers already warned about (an unproved claim to be the primary): the claim is asked again at every
 * (re)connection, so without this one peer would fill the log. Bounded, as peer ids cost an attacker nothing:
 * when full it starts over, so a flood of ids gets at most one warning per id per round.
 */
const MAX_WARNED_PEERS = 1024;

/** The validator whose key a status answer from `peer` proves it holds, or why it proves none. */
function statusValidator(rules: LogRules, status: Partial<Status>, peer: string): { readonly validator: Bytes } | { readonly why: string } {
  let record;
  try {
    record = parsePeerRecord(status);
  } catch (e) {
    return { why: `no valid peer record (${(e as Error).message})` };
  }
  return record === null ? { why: 'no peer record' } : provenValidator(rules, record, peer);
}

/**
 * A node's view of the network: which connected peer has proved it holds which validator's key (its status
 * carries a PeerRecord for its own peer id), hence the leader's peer, where to fetch missing batches, and how to
 * forward appends.
 */
export class PrimaryLink implements BatchSource {
  private readonly host: Host;
  private readonly rules: LogRules;
  private readonly log: Logger;
  /** The address of the current view's leader (default: view 0's, the primary). */
  private readonly leader: () => Bytes;
  /** Peer id of each validator (by address hex) that proved its key over a connection. */
  private readonly validatorPeers = new Map<string, string>();
  private readonly warned = new Set<string>();

  constructor(host: Host, rules: LogRules, log: Logger, leader: () => Bytes = () => rules.membership.leaderOf(0)) {
    this.host = host;
    this.rules = rules;
    this.log = log;
    this.leader = leader;
  }

  /** The peer that proved it holds the current leader's key, if any. */
  private get primaryPeer(): string | undefined {
    return this.validatorPeers.get(toHex(this.leader()));
  }

  /** Asks a newly connected peer who it is; only a proof of a validator's key maps it to that validator. */
  async learnStatus(peer: string): Promise<void> {
    let status: Partial<Status>;
    try {
      status = await requestStatus(this.host, peer);
    } catch (e) {
      this.log.debug('status request failed', { peer, error: (e as Error).message });
      return;
    }
    // `mode` is only a hint: the record decides. A peer that neither claims nor proves anything is an observer.
    const claims = status.mode === 'primary' || status.peerRecord != null;
    const proven = claims ? statusValidator(this.rules, status, peer) : undefined;
    for (const [address, p] of this.validatorPeers) if (p === peer) this.validatorPeers.delete(address);
    if (proven && 'validator' in proven) {
      this.validatorPeers.set(toHex(proven.validator), peer);
      return;
    }
    if (proven) this.warnImpostor(peer, proven.why);
  }

  /** Warns once per peer; later claims of the same peer are logged at debug level. */
  private warnImpostor(peer: string, reason: string): void {
    const message = 'a peer claims to be the primary without proving it; not forwarding to it';
    if (this.warned.has(peer)) {
      this.log.debug(message, { peer, reason });
      return;
    }
    if (this.warned.size >= MAX_WARNED_PEERS) this.warned.clear();
    this.warned.add(peer);
    this.log.warn(message, { peer, reason });
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
