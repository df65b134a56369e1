/**
 * The watcher's trust anchor (docs/sdk.md §Trust anchor): the last header it verified, with where the log stood
 * after it, and how far the caller was given entries. A caller persists its JSON form and resumes from it; a node
 * that contradicts it is caught (InconsistentLogError).
 */
import { equalBytes, toHex, ZERO32 } from '../core/bytes.ts';
import { GENESIS_TIP, verifyHeaderSignature, type Tip } from '../core/batch.ts';
import { BaseError } from '../core/errors.ts';
import type { SignedHeader } from '../core/header.ts';
import type { LogRules } from '../core/rules.ts';
import { parseHex, parseIndex, parseSignedHeader, signedHeaderToJson, type HeaderJson } from '../wire/json.ts';
import { VerificationError } from './errors.ts';

export interface TrustAnchor {
  /** Where the log stands after the verified header. */
  readonly tip: Tip;
  /** The verified header and its signature; null at the log's start (height -1). */
  readonly signed: SignedHeader | null;
}

/** The JSON form of a trust anchor plus the watcher's cursor: what `watcher.anchor` returns and `{ anchor }` takes. */
export interface TrustAnchorJson {
  /** Height of the verified header; -1 at the log's start. */
  height: number;
  headerHash: string;
  /** The sequence number after the verified header's entries. */
  nextSeq: number;
  /** The entry hash the verified header commits to (its headHash): the next batch's chain starts from it. */
  headHash: string;
  header: HeaderJson | null;
  signature: string | null;
  /** The next sequence number the watcher yields: every entry before it was handed to the caller. */
  cursor: number;
}

export const GENESIS_ANCHOR: TrustAnchor = { tip: GENESIS_TIP, signed: null };

export function anchorOf(signed: SignedHeader, headerHash: Uint8Array): TrustAnchor {
  const h = signed.header;
  return { signed, tip: { height: h.height, headerHash, nextSeq: h.firstSeq + h.count, headHash: h.headHash, timestamp: h.timestamp } };
}

export function anchorToJson(anchor: TrustAnchor, cursor: number): TrustAnchorJson {
  const json = anchor.signed ? signedHeaderToJson(anchor.signed) : null;
  return {
    height: anchor.tip.height,
    headerHash: toHex(anchor.tip.headerHash),
    nextSeq: anchor.tip.nextSeq,
    headHash: toHex(anchor.tip.headHash),
    header: json?.header ?? null,
    signature: json?.signature ?? null,
    cursor,
  };
}

/**
 * Reads a persisted anchor back, checking it as it would check a node's answer: the header is this log's and
 * signed by the leader of its view, and the other fields are the ones that header implies (or the log's start's).
 * Throws VerificationError.
 */
export function parseAnchor(rules: LogRules, v: TrustAnchorJson): { anchor: TrustAnchor; cursor: number } {
  try {
    const cursor = parseIndex(v.cursor, 'anchor.cursor');
    if (v.header === null) {
      if (v.height !== -1 || v.nextSeq !== 0 || !equalBytes(parseHex(v.headHash, 'anchor.headHash', 32), ZERO32)) {
        throw new VerificationError('anchor without a header must be the log\'s start (height -1, nextSeq 0)');
      }
      return { anchor: GENESIS_ANCHOR, cursor };
    }
    const signed = parseSignedHeader({ header: v.header, signature: v.signature }, 'anchor');
    const anchor = anchorOf(signed, verifyHeaderSignature(rules, signed));
    const json = anchorToJson(anchor, cursor);
    for (const field of ['height', 'headerHash', 'nextSeq', 'headHash'] as const) {
      if (String(json[field]).toLowerCase() !== String(v[field]).toLowerCase()) throw new VerificationError(`anchor.${field} is not what its header implies`);
    }
    if (cursor < anchor.tip.nextSeq - anchor.signed!.header.count || cursor > anchor.tip.nextSeq) {
      throw new VerificationError('anchor.cursor lies outside the anchor\'s batch');
    }
    return { anchor, cursor };
  } catch (e) {
    if (e instanceof VerificationError) throw e;
    throw new VerificationError(`invalid trust anchor: ${(e as Error).message}`, { cause: e as BaseError });
  }
}
