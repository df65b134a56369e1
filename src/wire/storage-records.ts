/**
 * The storage layout (docs/protocol.md §Storage layout): the LevelDB keys and values of one log's database.
 * Integers are big-endian. The store (src/storage/log-store.ts) decides when to read and write; this file only
 * says what the bytes are, so that the layout has one home and a tool can read a database without the store.
 *
 *   'M' "identity"             UTF-8 `log <logId> chain <chainId> primary <address>`
 *   'M' "tip"                  height + 1 u64 | headerHash[32] | nextSeq u64 | headHash[32] | timestamp u64
 *   'M' "probe"                u64 ms since the epoch, written by the last recovery from a storage fault
 *   'B' height u64             prevEntryHash[32] | batch wire form
 *   'S' firstSeq u64           height u64 (the batch holding a sequence number: the greatest key ≤ seq)
 *   'N' sender[20] nonce u64   height u64 of the batch that used the nonce
 *   'M' "final"                height u64 | headerHash[32]: the highest height this node holds final
 *   'C' height u64             the commit certificate (core/certificate.ts binary form) that made that height final
 *   'E' name                   a node record: 'P' proofId[32] an equivocation proof, 'S' height u64 a signed header,
 *                              'V' signer[20] proofId[32] a validator's equivocation proof (kinds 3-6)
 *   'V' ...                    a validator's safety records (storage/safety-store.ts)
 */
import { Reader, Writer, u64be, type Bytes } from '../core/bytes.ts';
import type { Tip } from '../core/batch.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { decodeSignedHeader, encodeSignedHeader, type SignedHeader } from '../core/header.ts';
import { decodeJson, encodeJson, parseProof, proofToJson } from './json.ts';
import { parseVoteProof, type ParsedVoteProof, type VoteProofJson } from './vote-proof-json.ts';

const Prefix = {
  batch: 0x42 /* B */, seq: 0x53 /* S */, nonce: 0x4e /* N */, meta: 0x4d /* M */, record: 0x45 /* E */, certificate: 0x43 /* C */,
} as const;

function metaKey(name: string): Bytes {
  return Uint8Array.of(Prefix.meta, ...new TextEncoder().encode(name));
}

export const TIP_KEY = metaKey('tip');
export const IDENTITY_KEY = metaKey('identity');
/** The highest final height and its header hash (encodeFinal). */
export const FINAL_KEY = metaKey('final');
/** Written (synced) by each recovery attempt to learn whether the disk takes writes again. */
export const PROBE_KEY = metaKey('probe');

/** A prefix byte followed by the parts: numbers as u64, byte strings as they are. */
function key(prefix: number, ...parts: (Uint8Array | number)[]): Bytes {
  let size = 1;
  for (const p of parts) size += typeof p === 'number' ? 8 : p.byteLength;
  const w = new Writer(size).u8(prefix);
  for (const p of parts) typeof p === 'number' ? w.u64(p) : w.raw(p);
  return w.finish();
}

export function batchKey(height: number): Bytes {
  return key(Prefix.batch, height);
}

/** The height in a batchKey. */
export function heightOfBatchKey(k: Uint8Array): number {
  return new Reader(k, 1).u64();
}

/** The key of the commit certificate that made `height` final. */
export function certificateKey(height: number): Bytes {
  return key(Prefix.certificate, height);
}

/** The height in a certificateKey. */
export function heightOfCertificateKey(k: Uint8Array): number {
  return new Reader(k, 1).u64();
}

/** The key range holding every commit certificate. */
export const CERTIFICATE_KEYS = { gt: Uint8Array.of(Prefix.certificate), lt: Uint8Array.of(Prefix.certificate + 1) } as const;

export interface FinalMark {
  readonly height: number;
  readonly headerHash: Bytes;
}

export function encodeFinal(f: FinalMark): Bytes {
  return new Writer(40).u64(f.height).raw(f.headerHash).finish();
}

export function decodeFinal(bytes: Uint8Array): FinalMark {
  const r = new Reader(bytes);
  const mark = { height: r.u64(), headerHash: Uint8Array.from(r.raw(32)) };
  r.end();
  return mark;
}

/** The key of the sequence index entry for a batch's first sequence number. */
export function seqIndexKey(firstSeq: number): Bytes {
  return key(Prefix.seq, firstSeq);
}

/** `senderNonce` is a submission's nonce key, sender[20] | nonce u64 (core/batch.ts nonceKey). */
export function nonceIndexKey(senderNonce: Uint8Array): Bytes {
  return key(Prefix.nonce, senderNonce);
}

/** The key range holding every nonce index entry (a nonce key is its key minus one byte). */
export const NONCE_KEYS = { gt: Uint8Array.of(Prefix.nonce), lt: Uint8Array.of(Prefix.nonce + 1) } as const;

/** The key of a node record (`name`: 'P' proofId or 'S' height, see below). */
export function recordKey(name: Uint8Array): Bytes {
  return key(Prefix.record, name);
}

/** The key range holding every node record (iterate with these bounds; a record's name is its key minus one byte). */
export const RECORD_KEYS = { gt: Uint8Array.of(Prefix.record), lt: Uint8Array.of(Prefix.record + 1) } as const;

export function encodeIdentity(identity: string): Bytes {
  return new TextEncoder().encode(identity);
}

export function decodeIdentity(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

export function encodeTip(t: Tip): Bytes {
  return new Writer(8 + 32 + 8 + 32 + 8).u64(t.height + 1).raw(t.headerHash).u64(t.nextSeq).raw(t.headHash).u64(t.timestamp).finish();
}

export function decodeTip(bytes: Uint8Array): Tip {
  const r = new Reader(bytes);
  const tip = { height: r.u64() - 1, headerHash: r.raw(32), nextSeq: r.u64(), headHash: r.raw(32), timestamp: r.u64() };
  r.end();
  return tip;
}

export function encodeProbe(msSinceEpoch: number): Bytes {
  return u64be(msSinceEpoch);
}

/** The value of a sequence index or nonce key: a batch height. */
export function encodeHeight(height: number): Bytes {
  return new Writer(8).u64(height).finish();
}

export function decodeHeight(bytes: Uint8Array): number {
  return new Reader(bytes).u64();
}

/** The value of a batchKey: the batch as it travels, after the entry hash its entry chain starts from. */
export function encodeBatchValue(prevEntryHash: Uint8Array, batchBytes: Uint8Array): Bytes {
  const value = new Uint8Array(32 + batchBytes.byteLength);
  value.set(prevEntryHash, 0);
  value.set(batchBytes, 32);
  return value;
}

export function decodeBatchValue(value: Uint8Array): { prevEntryHash: Bytes; bytes: Bytes } {
  return { prevEntryHash: value.subarray(0, 32), bytes: value.subarray(32) };
}

// ---- Node records ('E' name) ----

const PROOF_RECORD = 0x50; // 'P' + proofId[32]
const SEEN_RECORD = 0x53; // 'S' + height u64
const VOTE_PROOF_RECORD = 0x56; // 'V' + signer[20] + proofId[32]

/** An equivocation proof held by the node, under its proof id (core/equivocation.ts proofId). */
export function proofRecordName(proofId: Uint8Array): Bytes {
  return Uint8Array.of(PROOF_RECORD, ...proofId);
}

/**
 * A proof is stored as its JSON (docs/protocol.md §Equivocation proofs, UTF-8): the protocol's own export form,
 * which names its kind and domain and is checked field by field when read back. Proofs are few (one halts the
 * log), so a compact binary form would buy nothing, and every database written so far holds this form.
 */
export function encodeProofRecord(proof: EquivocationProof): Bytes {
  return encodeJson(proofToJson(proof));
}

/** A primary-signed header seen ahead of the tip, under its height: the signed header wire form. */
export function seenRecordName(height: number): Bytes {
  return new Writer(9).u8(SEEN_RECORD).u64(height).finish();
}

export function encodeSeenRecord(signed: SignedHeader): Bytes {
  return encodeSignedHeader(signed);
}

/**
 * A validator's equivocation proof (kinds 3-6) held by the node, under its signer and id (core/vote-proofs.ts
 * voteProofId, which does not name the signer: validators voting the same two headers sign the same digests). A record
 * kind of its own, so that a version reading 'P' records as header proofs never meets one.
 */
export function voteProofRecordName(signer: Uint8Array, proofId: Uint8Array): Bytes {
  return Uint8Array.of(VOTE_PROOF_RECORD, ...signer, ...proofId);
}

/** Stored as its JSON (wire/vote-proof-json.ts, UTF-8), for the reasons encodeProofRecord gives. */
export function encodeVoteProofRecord(proof: VoteProofJson): Bytes {
  return encodeJson(proof);
}

export type NodeRecord =
  | { readonly kind: 'proof'; readonly proof: EquivocationProof }
  | { readonly kind: 'vote-proof'; readonly parsed: ParsedVoteProof }
  | { readonly kind: 'seen'; readonly signed: SignedHeader };

/** A node record read back; undefined for a name this version does not know. Throws on a corrupt record. */
export function decodeRecord(name: Uint8Array, value: Uint8Array): NodeRecord | undefined {
  if (name[0] === PROOF_RECORD) return { kind: 'proof', proof: parseProof(decodeJson(value)) };
  if (name[0] === SEEN_RECORD) return { kind: 'seen', signed: decodeSignedHeader(value) };
  if (name[0] === VOTE_PROOF_RECORD) return { kind: 'vote-proof', parsed: parseVoteProof(decodeJson(value)) };
  return undefined;
}
