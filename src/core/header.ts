/**
 * Batch header: the statement the primary signs. Wire form, 164 bytes (docs/protocol.md §Header):
 *   logId[32] | height u64 | view u64 | firstSeq u64 | count u32 | prevHeaderHash[32] | headHash[32]
 *   | entriesRoot[32] | timestamp u64 (unix ms)
 * Its hash is the EIP-712 digest, which is both what the primary signs and what the next header links to.
 */
import { Reader, Writer, equalBytes, type Bytes } from './bytes.ts';
import { headerStructHash, typedDataDigest, type HeaderFields } from './eip712.ts';
import { recoverAddress, sign, SIGNATURE_BYTES } from './signature.ts';

export type Header = HeaderFields;

export const HEADER_BYTES = 32 + 8 + 8 + 8 + 4 + 32 + 32 + 32 + 8;
export const SIGNED_HEADER_BYTES = HEADER_BYTES + SIGNATURE_BYTES;

/**
 * The views a header may carry: the one place that says which. A log of one validator stays in view 0 (it has no
 * one to hand over to); a log of more changes views when its leader fails (docs/protocol.md §View change), so any
 * view up to 2^53 - 1. Every header a node or client accepts (batches, receipts) must pass it: equivocation is
 * judged, and slashed, only between headers of the same view.
 */
export function isAllowedView(view: number, validators: number): boolean {
  return validators > 1 ? Number.isSafeInteger(view) && view >= 0 : view === CURRENT_VIEW;
}

/** View 0, where every log starts; its leader (Membership.leaderOf(0)) is the configured primary. */
export const CURRENT_VIEW = 0;

/**
 * Whether two headers hold the same content: every field but `view` equal. A re-proposal (docs/protocol.md §View
 * change) is content-equal to the locked header it repeats: the same entries at the same sequence numbers after the
 * same parent, so a receipt for one is a receipt for the other. Headers of different views never pair as an
 * equivocation, so content-equal headers of two views are not one.
 */
export function contentEqual(a: Header, b: Header): boolean {
  return a.height === b.height && a.firstSeq === b.firstSeq && a.count === b.count && a.timestamp === b.timestamp
    && equalBytes(a.logId, b.logId) && equalBytes(a.prevHeaderHash, b.prevHeaderHash)
    && equalBytes(a.headHash, b.headHash) && equalBytes(a.entriesRoot, b.entriesRoot);
}

export interface SignedHeader {
  readonly header: Header;
  readonly signature: Bytes;
}

export function writeHeader(w: Writer, h: Header): void {
  w.raw(h.logId).u64(h.height).u64(h.view).u64(h.firstSeq).u32(h.count)
    .raw(h.prevHeaderHash).raw(h.headHash).raw(h.entriesRoot).u64(h.timestamp);
}

export function readHeader(r: Reader): Header {
  return {
    logId: r.raw(32),
    height: r.u64(),
    view: r.u64(),
    firstSeq: r.u64(),
    count: r.u32(),
    prevHeaderHash: r.raw(32),
    headHash: r.raw(32),
    entriesRoot: r.raw(32),
    timestamp: r.u64(),
  };
}

export function encodeSignedHeader(s: SignedHeader): Bytes {
  const w = new Writer(SIGNED_HEADER_BYTES);
  writeHeader(w, s.header);
  return w.raw(s.signature).finish();
}

export function decodeSignedHeader(bytes: Uint8Array): SignedHeader {
  const r = new Reader(bytes);
  const header = readHeader(r);
  const signature = r.raw(SIGNATURE_BYTES);
  r.end();
  return { header, signature };
}

/** Every receipt of a batch shares its header object, so the hash is computed once per header and domain. */
const hashCache = new WeakMap<Header, { separator: Uint8Array; hash: Bytes }>();

export function headerHash(separator: Uint8Array, h: Header): Bytes {
  const cached = hashCache.get(h);
  if (cached && cached.separator === separator) return cached.hash;
  const hash = typedDataDigest(separator, headerStructHash(h));
  hashCache.set(h, { separator, hash });
  return hash;
}

export function signHeader(separator: Uint8Array, h: Header, privateKey: Uint8Array): SignedHeader {
  return { header: h, signature: sign(headerHash(separator, h), privateKey) };
}

/** The address that signed the header; throws SignatureError on a malformed signature. */
export function headerSigner(separator: Uint8Array, s: SignedHeader): Bytes {
  return recoverAddress(headerHash(separator, s.header), s.signature);
}
