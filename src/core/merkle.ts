/**
 * Merkle tree over a batch's entry hashes, shaped as in RFC 6962 §2.1 (split at the largest power of two
 * below n), which is the same tree as pairing bottom-up and promoting an odd last node unchanged.
 * An interior node is sha256(left || right) with no prefix; leaves are entry hashes, whose preimages are
 * longer than 64 bytes and tagged, and the signed header fixes the leaf count, so nodes and leaves cannot
 * be confused. Levels are computed bottom-up with one native call per level.
 */
import { sha256, sha256Pairs } from './hash.ts';
import { equalBytes, type Bytes } from './bytes.ts';
import { InvalidArgumentError } from './errors.ts';

const H = 32;

export class MerkleTree {
  /** levels[0] holds the leaves, levels[levels.length - 1] the root; each a packed array of 32-byte hashes. */
  private readonly levels: Bytes[];
  readonly size: number;

  /** `leaves` is n packed 32-byte hashes. */
  constructor(leaves: Bytes) {
    if (leaves.byteLength === 0 || leaves.byteLength % H !== 0) throw new InvalidArgumentError('a Merkle tree needs one or more 32-byte leaves');
    this.size = leaves.byteLength / H;
    this.levels = [leaves];
    let level = leaves;
    while (level.byteLength > H) {
      const n = level.byteLength / H;
      const pairs = Math.floor(n / 2);
      const next = new Uint8Array(Math.ceil(n / 2) * H);
      if (pairs > 0) sha256Pairs(level.subarray(0, pairs * 2 * H), next.subarray(0, pairs * H));
      if (n % 2 === 1) next.set(level.subarray((n - 1) * H), pairs * H);
      this.levels.push(next);
      level = next;
    }
  }

  /** Leaf i (an entry hash). */
  leaf(i: number): Bytes {
    return this.levels[0].subarray(i * H, i * H + H);
  }

  get root(): Bytes {
    return this.levels[this.levels.length - 1].subarray(0, H);
  }

  /** Hash of the RFC 6962 subtree over leaves [start, start + size). */
  private subtree(start: number, size: number): Bytes {
    const level = ceilLog2(size);
    const index = start >>> level;
    return this.levels[level].subarray(index * H, index * H + H);
  }

  /**
   * Proof that leaves [lo, hi) are in the tree: the hashes of the maximal subtrees disjoint from the range,
   * in the order a left-to-right traversal of the RFC 6962 recursion meets them. A single-entry inclusion
   * proof is the range [i, i + 1).
   */
  rangeProof(lo: number, hi: number): Bytes[] {
    if (!(0 <= lo && lo < hi && hi <= this.size)) throw new InvalidArgumentError('range outside the tree');
    const proof: Bytes[] = [];
    this.collectProof(proof, lo, hi, 0, this.size);
    return proof;
  }

  /** rangeProof's recursion over the subtree [start, start + size) (a method, not a closure: one per receipt). */
  private collectProof(proof: Bytes[], lo: number, hi: number, start: number, size: number): void {
    if (start + size <= lo || start >= hi) {
      proof.push(this.subtree(start, size));
      return;
    }
    if (size === 1) return;
    const k = largestPowerOfTwoBelow(size);
    this.collectProof(proof, lo, hi, start, k);
    this.collectProof(proof, lo, hi, start + k, size - k);
  }
}

export function merkleRoot(leaves: Bytes): Bytes {
  return new MerkleTree(leaves).root;
}

/** The largest power of two strictly below n (n >= 2; a batch holds far fewer than 2^31 entries). */
function largestPowerOfTwoBelow(n: number): number {
  return 1 << (31 - Math.clz32(n - 1));
}

/** ceil(log2(n)) for 1 <= n <= 2^31: the level of a subtree of n leaves. */
function ceilLog2(n: number): number {
  return 32 - Math.clz32(n - 1);
}

function hashPair(left: Uint8Array, right: Uint8Array): Bytes {
  const buf = new Uint8Array(2 * H);
  buf.set(left, 0);
  buf.set(right, H);
  return sha256(buf);
}

/** Recomputes the root from leaves [lo, lo + leaves.length) of a tree of `size` leaves and a range proof. */
export function rootFromRangeProof(size: number, lo: number, leaves: readonly Uint8Array[], proof: readonly Uint8Array[]): Bytes | null {
  const hi = lo + leaves.length;
  if (!(Number.isSafeInteger(size) && Number.isSafeInteger(lo) && 0 <= lo && lo < hi && hi <= size)) return null;
  // Every leaf and proof element must be exactly 32 bytes: hashPair would otherwise zero-pad a short one or let
  // the right half overwrite a long one, so non-canonical proofs (and malformed entry hashes) would verify.
  for (const x of leaves) if (x.byteLength !== H) return null;
  for (const x of proof) if (x.byteLength !== H) return null;
  let next = 0;
  const walk = (start: number, size: number): Bytes | null => {
    if (start + size <= lo || start >= hi) return next < proof.length ? proof[next++] : null;
    if (size === 1) return leaves[start - lo];
    const k = largestPowerOfTwoBelow(size);
    const left = walk(start, k);
    const right = left && walk(start + k, size - k);
    return left && right ? hashPair(left, right) : null;
  };
  const root = walk(0, size);
  return root && next === proof.length ? root : null;
}

export function verifyRangeProof(root: Uint8Array, size: number, lo: number, leaves: readonly Uint8Array[], proof: readonly Uint8Array[]): boolean {
  const computed = rootFromRangeProof(size, lo, leaves, proof);
  return computed !== null && equalBytes(computed, root);
}
