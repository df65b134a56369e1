/**
 * Names and message formats of the node-to-node protocols (docs/protocol.md §GossipSub, §Sync protocol,
 * §Append forwarding, §Status). Request/response protocols exchange unsigned-varint length-prefixed frames:
 * one request frame, then zero or more response frames, then the responder closes the stream.
 */
import { DecodeError, Reader, Writer, toHex, type Bytes } from '../core/bytes.ts';
import { MAX_BATCH_BYTES } from '../core/limits.ts';

export function batchTopic(logId: Uint8Array): string {
  return `/sequencer/1/${toHex(logId).slice(2)}/batches`;
}

/** Equivocation proofs, as their JSON (docs/protocol.md §Equivocation proofs), so every node learns of one. */
export function proofTopic(logId: Uint8Array): string {
  return `/sequencer/1/${toHex(logId).slice(2)}/equivocations`;
}

/** Validators' votes, as vote bundles (core/vote.ts; docs/protocol.md §Vote), so every node can form certificates. */
export function voteTopic(logId: Uint8Array): string {
  return `/sequencer/1/${toHex(logId).slice(2)}/votes`;
}

/** Validators' timeouts and timeout certificates (core/timeout.ts; docs/protocol.md §View change). */
export function timeoutTopic(logId: Uint8Array): string {
  return `/sequencer/1/${toHex(logId).slice(2)}/timeouts`;
}

/** Submissions a validator saw go unsequenced (docs/protocol.md §View change, censorship), each in its wire form. */
export function pendingTopic(logId: Uint8Array): string {
  return `/sequencer/1/${toHex(logId).slice(2)}/pending`;
}

export const SYNC_PROTOCOL = '/sequencer/sync/1.0.0';
export const STATUS_PROTOCOL = '/sequencer/status/1.0.0';
export const APPEND_PROTOCOL = '/sequencer/append/1.0.0';

/** A responder sends at most this many batches, and stops after the one that crosses SYNC_MAX_BYTES. */
export const SYNC_MAX_BATCHES = 256;
export const SYNC_MAX_BYTES = 16 * 1024 * 1024;
/** Largest frame on any request/response protocol: one batch. */
export const MAX_FRAME_BYTES = MAX_BATCH_BYTES;
export const MAX_REQUEST_BYTES = MAX_BATCH_BYTES;

export interface SyncRequest {
  readonly logId: Bytes;
  readonly fromHeight: number;
  readonly maxBatches: number;
}

/** logId[32] | fromHeight u64 | maxBatches u32 */
export function encodeSyncRequest(r: SyncRequest): Bytes {
  return new Writer(44).raw(r.logId).u64(r.fromHeight).u32(r.maxBatches).finish();
}

/**
 * Decodes and validates a sync request; throws DecodeError unless it is exactly 44 bytes, `fromHeight` is at
 * most 2^53-1 and `maxBatches` is within 1..SYNC_MAX_BATCHES (the responder then refuses the stream).
 */
export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  const r = new Reader(bytes);
  const req = { logId: r.raw(32), fromHeight: r.u64(), maxBatches: r.u32() };
  r.end();
  if (req.maxBatches < 1 || req.maxBatches > SYNC_MAX_BATCHES) throw new DecodeError(`maxBatches ${req.maxBatches} is outside 1..${SYNC_MAX_BATCHES}`);
  return req;
}

/**
 * Status: UTF-8 JSON. The plain fields are unauthenticated hints; what a peer acts on carries the primary's
 * signature: `peerRecord` (a primary proving that its peer id is the key's) and `highestHeader` (what a
 * restarting primary must not sign again; docs/protocol.md §Status, §Primary start-up).
 */
export interface Status {
  readonly mode: 'primary' | 'validator' | 'replica';
  readonly address: string | null;
  readonly primary: string;
  readonly logId: string;
  readonly height: number;
  /** The highest primary-signed header the node holds (its tip's, or one seen ahead): signed header wire form, hex. */
  readonly highestHeader: string | null;
  /** A primary's PeerRecord for the peer id it answers from (signature hex); null on replicas. */
  readonly peerRecord: { readonly peerId: string; readonly issuedAt: number; readonly signature: string } | null;
  /** The highest commit certificate the node holds for a header it stores (binary form, hex), or null: self-verifying. */
  readonly finalCertificate: string | null;
  /** The highest lock certificate it holds above that (binary form, hex), or null: what a validator that missed the lock votes needs to commit. */
  readonly lockCertificate: string | null;
  /**
   * Per validator (by index), the highest height this node counted a vote of it at since it started, -1 for none:
   * an unsigned hint a validator recovering from a lost store uses to stay above its own forgotten votes.
   */
  readonly voteHeights: readonly number[];
  /**
   * How the node entered its current view: the timeouts topic's TC message (`0x02 | TC | hasCert | [certificate]`,
   * docs/protocol.md §View change), hex; null in view 0 or when it entered its view without one (a restart).
   * Self-verifying: a node that restarted, or missed the view change, enters that view from it.
   */
  readonly viewEntry?: string | null;
  /**
   * Per validator (by index), the highest view this node verified a timeout of it for since it started, -1 for none:
   * an unsigned hint a validator recovering from a lost store uses never to sign a second timeout for a view.
   */
  readonly timeoutViews?: readonly number[];
}

/** Status, append replies and gossiped proofs are UTF-8 JSON (the codec lives with the JSON forms). */
export { decodeJson, encodeJson } from './json.ts';
