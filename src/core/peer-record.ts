/**
 * Peer record: the primary's signed statement that a libp2p peer id is its own (docs/protocol.md §Status).
 * A replica forwards appends only to a peer whose record recovers to the configured primary and names the
 * peer id of the (Noise-authenticated) connection the record came over, so holding the primary's key, not
 * merely claiming to be the primary, is what routes client submissions. Its own EIP-712 type keeps the
 * signature from ever being taken for a header or a submission.
 */
import { equalBytes, toHex, type Bytes } from './bytes.ts';
import { peerRecordStructHash, typedDataDigest } from './eip712.ts';
import { CURRENT_VIEW } from './header.ts';
import type { LogRules } from './rules.ts';
import { recoverAddress, sign } from './signature.ts';

/** A libp2p peer id is ~52 characters; anything much longer is not one. */
export const MAX_PEER_ID_CHARS = 128;

export interface PeerRecord {
  readonly peerId: string;
  /** Unix seconds when the primary signed it; informational (a restarted primary signs a fresh one). */
  readonly issuedAt: number;
  readonly signature: Bytes;
}

export function peerRecordDigest(separator: Uint8Array, logId: Uint8Array, peerId: string, issuedAt: number): Bytes {
  return typedDataDigest(separator, peerRecordStructHash(logId, peerId, issuedAt));
}

export function signPeerRecord(separator: Uint8Array, logId: Uint8Array, peerId: string, issuedAt: number, privateKey: Uint8Array): PeerRecord {
  return { peerId, issuedAt, signature: sign(peerRecordDigest(separator, logId, peerId, issuedAt), privateKey) };
}

/** The address that signed the record for this log; throws SignatureError on a malformed signature. */
export function peerRecordSigner(separator: Uint8Array, logId: Uint8Array, record: PeerRecord): Bytes {
  return recoverAddress(peerRecordDigest(separator, logId, record.peerId, record.issuedAt), record.signature);
}

/**
 * The validator whose key `record` proves `peer` holds, or why it proves none: the record must be signed, for this
 * log, by a validator of its set, and name `peer`, the peer id that libp2p's Noise handshake authenticated for the
 * connection the record came over (a record replayed by another peer names someone else).
 */
export function provenValidator(rules: LogRules, record: PeerRecord, peer: string): { readonly validator: Bytes } | { readonly why: string } {
  if (record.peerId !== peer) return { why: `its peer record names another peer (${record.peerId})` };
  let signer: Bytes;
  try {
    signer = peerRecordSigner(rules.separator, rules.logId, record);
  } catch (e) {
    return { why: `peer record signature: ${(e as Error).message}` };
  }
  return rules.membership.includes(signer) ? { validator: signer } : { why: `peer record signed by ${toHex(signer)}, not by a validator` };
}

/** Why `record` does not prove that `peer` holds the key of view 0's leader (the primary), or null when it does. */
export function whyNotPrimary(rules: LogRules, record: PeerRecord, peer: string): string | null {
  const proven = provenValidator(rules, record, peer);
  if ('why' in proven) return proven.why;
  return equalBytes(proven.validator, rules.membership.leaderOf(CURRENT_VIEW)) ? null : `peer record signed by ${toHex(proven.validator)}, not by the primary`;
}
