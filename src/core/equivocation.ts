/**
 * Equivocation: two statements signed by the primary's key that cannot both be true
 * (docs/protocol.md §Equivocation proofs).
 *   conflict: two headers of the same log, height and view with different header hashes;
 *   fork:     a header at height h + 1 whose prevHeaderHash is not the hash of the header the same key
 *             signed at height h, in the same view.
 * This module judges pairs and builds self-contained proofs; it does no I/O. The on-chain contract
 * (contracts/SequencerBond.sol) applies the same rules.
 */
import { compareBytes, equalBytes, type Bytes } from './bytes.ts';
import { headerHash, type SignedHeader } from './header.ts';
import { keccak256 } from './hash.ts';
import { recoverAddress } from './signature.ts';

export type EquivocationKind = 'conflict' | 'fork';

export interface EquivocationProof {
  readonly kind: EquivocationKind;
  readonly chainId: number;
  readonly logId: Bytes;
  /** The address that signed both headers. */
  readonly signer: Bytes;
  /** conflict: the header with the smaller hash; fork: the parent (height h). */
  readonly a: SignedHeader;
  /** conflict: the header with the larger hash; fork: the child (height h + 1). */
  readonly b: SignedHeader;
}

export const KIND_CODE: Record<EquivocationKind, number> = { conflict: 1, fork: 2 };

/** Orders a conflicting pair canonically, so that one equivocation always yields one proof. */
function conflictPair(x: SignedHeader, hx: Bytes, y: SignedHeader, hy: Bytes): [SignedHeader, SignedHeader] {
  return compareBytes(hx, hy) < 0 ? [x, y] : [y, x];
}

/**
 * Compares a newly met header `seen` with one the node already holds (`held`), both already known to be
 * signed by `signer` for the log of `separator`. Returns the proof if the two conflict, else null.
 */
export function judgePair(
  separator: Bytes, chainId: number, signer: Bytes,
  held: SignedHeader, seen: SignedHeader,
): EquivocationProof | null {
  const h = held.header;
  const s = seen.header;
  // Headers of different logs or views never pair (nor does the contract pair them). That is safe only because
  // no such header is accepted in the first place: batches and receipts must be of this log and of a view it
  // allows (verifyHeaderSignature, checkReceipt: isAllowedView), so every header a node holds pairs with every other.
  if (!equalBytes(h.logId, s.logId) || h.view !== s.view) return null;
  const base = { chainId, logId: h.logId, signer };
  if (h.height === s.height) {
    const hh = headerHash(separator, h);
    const hs = headerHash(separator, s);
    if (equalBytes(hh, hs)) return null;
    const [a, b] = conflictPair(held, hh, seen, hs);
    return { kind: 'conflict', ...base, a, b };
  }
  const [parent, child] = h.height + 1 === s.height ? [held, seen] : s.height + 1 === h.height ? [seen, held] : [null, null];
  if (!parent || !child) return null;
  if (equalBytes(child.header.prevHeaderHash, headerHash(separator, parent.header))) return null;
  return { kind: 'fork', ...base, a: parent, b: child };
}

/** Stable identifier of a proof: keccak256 of the two header hashes in proof order. */
export function proofId(separator: Bytes, p: EquivocationProof): Bytes {
  const buf = new Uint8Array(64);
  buf.set(headerHash(separator, p.a.header), 0);
  buf.set(headerHash(separator, p.b.header), 32);
  return keccak256(buf);
}

/**
 * Checks a proof the way the contract does: both signatures recover to `signer`, same log and view, and the
 * headers conflict as the kind says. Returns null when valid, else the reason.
 */
export function checkProof(separator: Bytes, p: EquivocationProof): string | null {
  for (const [name, s] of [['a', p.a], ['b', p.b]] as const) {
    if (!equalBytes(s.header.logId, p.logId)) return `header ${name} belongs to another log`;
    try {
      if (!equalBytes(recoverAddress(headerHash(separator, s.header), s.signature), p.signer)) return `header ${name} not signed by the signer`;
    } catch (e) {
      return `header ${name}: ${(e as Error).message}`;
    }
  }
  const judged = judgePair(separator, p.chainId, p.signer, p.a, p.b);
  if (!judged) return 'the headers do not conflict';
  if (judged.kind !== p.kind) return `the headers are a ${judged.kind}, not a ${p.kind}`;
  return null;
}
