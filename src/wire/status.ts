/**
 * Reading a peer's status answer (docs/protocol.md §Status). The answer is whatever the peer chose to send, so
 * each signed field is parsed on its own, when it is used, and the caller verifies its signature.
 */
import { DecodeError, fromHex } from '../core/bytes.ts';
import { decodeSignedHeader, type SignedHeader } from '../core/header.ts';
import { MAX_PEER_ID_CHARS, type PeerRecord } from '../core/peer-record.ts';
import type { Status } from './p2p-messages.ts';

/** The `peerRecord` of a status answer, decoded but not verified (null when the peer sent none). Throws if malformed. */
export function parsePeerRecord(status: Partial<Status>): PeerRecord | null {
  const r = status.peerRecord as { peerId?: unknown; issuedAt?: unknown; signature?: unknown } | null | undefined;
  if (r === null || r === undefined) return null;
  if (typeof r.peerId !== 'string' || r.peerId.length > MAX_PEER_ID_CHARS) throw new DecodeError('peerRecord.peerId is not a peer id');
  if (typeof r.issuedAt !== 'number' || !Number.isSafeInteger(r.issuedAt) || r.issuedAt < 0) throw new DecodeError('peerRecord.issuedAt is not a u64');
  if (typeof r.signature !== 'string') throw new DecodeError('peerRecord.signature is not hex');
  return { peerId: r.peerId, issuedAt: r.issuedAt, signature: fromHex(r.signature, 65) };
}

/** The `highestHeader` of a status answer, decoded but not verified (null when the peer holds none). Throws if malformed. */
export function parseHighestHeader(status: Partial<Status>): SignedHeader | null {
  const v = status.highestHeader;
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new DecodeError('highestHeader is not hex');
  return decodeSignedHeader(fromHex(v));
}
