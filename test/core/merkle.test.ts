/** The Merkle tree against an independent recursive RFC 6962-shaped reference written here. */
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { MerkleTree, merkleRoot, rootFromRangeProof, verifyRangeProof } from '../../src/core/merkle.ts';
import { detBytes, rand } from './helpers.ts';
import { InvalidArgumentError } from '../../src/core/errors.ts';

// ---- reference -------------------------------------------------------------------------------------------

function node(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(left).update(right).digest());
}
/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

class Reference {
  private readonly memo = new Map<string, Uint8Array>();
  readonly leaves: Uint8Array[];
  constructor(leaves: Uint8Array[]) {
    this.leaves = leaves;
  }

  /** MTH(D[start : start + size]) with node = sha256(left || right) and a leaf being its own hash. */
  hash(start: number, size: number): Uint8Array {
    if (size === 1) return this.leaves[start];
    const key = `${start}/${size}`;
    let h = this.memo.get(key);
    if (!h) {
      const k = split(size);
      h = node(this.hash(start, k), this.hash(start + k, size - k));
      this.memo.set(key, h);
    }
    return h;
  }

  get root(): Uint8Array {
    return this.hash(0, this.leaves.length);
  }

  /** Maximal subtrees disjoint from [lo, hi), in left-to-right order of the recursion. */
  proof(lo: number, hi: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    const walk = (start: number, size: number): void => {
      if (start + size <= lo || start >= hi) { out.push(this.hash(start, size)); return; }
      if (size === 1) return;
      const k = split(size);
      walk(start, k);
      walk(start + k, size - k);
    };
    walk(0, this.leaves.length);
    return out;
  }
}

/** The sequence of operations a verifier performs for (size, lo, hi): equal shapes compute the same function. */
function shape(size: number, lo: number, hi: number): string {
  const walk = (start: number, n: number): string => {
    if (start + n <= lo || start >= hi) return 'P';
    if (n === 1) return `L${start - lo}`;
    const k = split(n);
    return `(${walk(start, k)},${walk(start + k, n - k)})`;
  };
  return walk(0, size);
}

function makeLeaves(n: number, seed = n): Uint8Array[] {
  const all = detBytes(n * 32, seed * 7919 + 1);
  return Array.from({ length: n }, (_, i) => all.slice(i * 32, i * 32 + 32));
}
function pack(leaves: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(leaves));
}
function flip(b: Uint8Array, bit = 0): Uint8Array {
  const c = new Uint8Array(b);
  c[bit >> 3] ^= 1 << (bit & 7);
  return c;
}

// ---- tests -----------------------------------------------------------------------------------------------

describe('MerkleTree root', () => {
  test('equals the reference for n = 1..70', () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = makeLeaves(n);
      const tree = new MerkleTree(pack(leaves));
      assert.equal(tree.size, n);
      assert.deepEqual(tree.root, new Reference(leaves).root, `n = ${n}`);
      assert.deepEqual(merkleRoot(pack(leaves)), tree.root);
    }
  });

  test('equals the reference for big n', () => {
    for (const n of [127, 128, 129, 1000, 1023, 1024, 1025, 4097]) {
      const leaves = makeLeaves(n);
      assert.deepEqual(new MerkleTree(pack(leaves)).root, new Reference(leaves).root, `n = ${n}`);
    }
  });

  test('small shapes written out', () => {
    const [a, b, c, d, e] = makeLeaves(5);
    assert.deepEqual(merkleRoot(pack([a])), a);
    assert.deepEqual(merkleRoot(pack([a, b])), node(a, b));
    assert.deepEqual(merkleRoot(pack([a, b, c])), node(node(a, b), c));
    assert.deepEqual(merkleRoot(pack([a, b, c, d])), node(node(a, b), node(c, d)));
    assert.deepEqual(merkleRoot(pack([a, b, c, d, e])), node(node(node(a, b), node(c, d)), e));
  });

  test('leaf(i) returns the leaves', () => {
    const leaves = makeLeaves(13);
    const tree = new MerkleTree(pack(leaves));
    for (let i = 0; i < 13; i++) assert.deepEqual(tree.leaf(i), leaves[i]);
  });

  test('refuses no leaves or a partial leaf', () => {
    assert.throws(() => new MerkleTree(new Uint8Array(0)), InvalidArgumentError);
    assert.throws(() => new MerkleTree(new Uint8Array(31)), InvalidArgumentError);
    assert.throws(() => new MerkleTree(new Uint8Array(65)), InvalidArgumentError);
  });

  test('leaf order matters', () => {
    const [a, b] = makeLeaves(2);
    assert.notDeepEqual(merkleRoot(pack([a, b])), merkleRoot(pack([b, a])));
  });
});

describe('range proofs, every range of every tree with n <= 17', () => {
  test('proofs equal the reference and verify; every tampering fails', () => {
    let ranges = 0;
    for (let n = 1; n <= 17; n++) {
      const leaves = makeLeaves(n);
      const tree = new MerkleTree(pack(leaves));
      const ref = new Reference(leaves);
      const root = tree.root;
      for (let lo = 0; lo < n; lo++) {
        for (let hi = lo + 1; hi <= n; hi++) {
          ranges++;
          const where = `n=${n} [${lo},${hi})`;
          const range = leaves.slice(lo, hi);
          const proof = tree.rangeProof(lo, hi);
          assert.deepEqual(proof, ref.proof(lo, hi), where);
          assert.equal(verifyRangeProof(root, n, lo, range, proof), true, where);
          assert.deepEqual(rootFromRangeProof(n, lo, range, proof), root, where);

          // A tampered leaf (each one).
          for (let i = 0; i < range.length; i++) {
            const bad = range.slice();
            bad[i] = flip(bad[i], (i * 31 + 5) % 256);
            assert.equal(verifyRangeProof(root, n, lo, bad, proof), false, `${where} leaf ${i}`);
          }
          // A tampered proof element (each one).
          for (let i = 0; i < proof.length; i++) {
            const bad = proof.slice();
            bad[i] = flip(bad[i], 255);
            assert.equal(verifyRangeProof(root, n, lo, range, bad), false, `${where} proof ${i}`);
          }
          // An extra element at either end, a missing element (each one), two elements swapped.
          assert.equal(verifyRangeProof(root, n, lo, range, [...proof, rand(32)]), false, `${where} extra`);
          assert.equal(verifyRangeProof(root, n, lo, range, [...proof, proof[0] ?? root]), false, `${where} extra dup`);
          assert.equal(verifyRangeProof(root, n, lo, range, [rand(32), ...proof]), false, `${where} extra first`);
          for (let i = 0; i < proof.length; i++) {
            assert.equal(verifyRangeProof(root, n, lo, range, proof.filter((_, j) => j !== i)), false, `${where} missing ${i}`);
          }
          if (proof.length >= 2) {
            const swapped = [proof[1], proof[0], ...proof.slice(2)];
            assert.equal(verifyRangeProof(root, n, lo, range, swapped), false, `${where} swapped`);
          }
          // Leaves missing at either end or an extra leaf.
          if (range.length >= 2) {
            assert.equal(verifyRangeProof(root, n, lo, range.slice(1), proof), false, `${where} first leaf dropped`);
            assert.equal(verifyRangeProof(root, n, lo, range.slice(0, -1), proof), false, `${where} last leaf dropped`);
          }
          if (hi < n) assert.equal(verifyRangeProof(root, n, lo, [...range, leaves[hi]], proof), false, `${where} extra leaf`);
          // Wrong lo.
          for (const lo2 of [lo - 1, lo + 1, lo + 2]) {
            if (lo2 === lo) continue;
            assert.equal(verifyRangeProof(root, n, lo2, range, proof), false, `${where} lo ${lo2}`);
          }
          // Wrong size: fails unless the verifier's computation is literally the same (the proof carries no size;
          // the size comes from the signed header's count).
          for (const n2 of [n - 1, n + 1, n + 2, 2 * n, 0]) {
            const same = n2 >= hi && n2 > 0 && shape(n2, lo, hi) === shape(n, lo, hi);
            assert.equal(verifyRangeProof(root, n2, lo, range, proof), same, `${where} size ${n2}`);
          }
          // Wrong root.
          assert.equal(verifyRangeProof(flip(root), n, lo, range, proof), false, `${where} root`);
        }
      }
    }
    assert.equal(ranges, Array.from({ length: 17 }, (_, i) => ((i + 1) * (i + 2)) / 2).reduce((a, b) => a + b));
  });

  test('single-entry inclusion proofs have the expected length', () => {
    // For a power-of-two tree the inclusion proof has log2(n) elements.
    for (const n of [1, 2, 4, 8, 16]) {
      const tree = new MerkleTree(pack(makeLeaves(n)));
      for (let i = 0; i < n; i++) assert.equal(tree.rangeProof(i, i + 1).length, Math.log2(n));
    }
    // The whole tree needs no proof.
    for (let n = 1; n <= 17; n++) assert.equal(new MerkleTree(pack(makeLeaves(n))).rangeProof(0, n).length, 0);
  });
});

describe('range proofs on big trees', () => {
  test('random ranges of n = 1000 and 4097 equal the reference and verify', () => {
    for (const n of [1000, 4097]) {
      const leaves = makeLeaves(n);
      const tree = new MerkleTree(pack(leaves));
      const ref = new Reference(leaves);
      const root = tree.root;
      assert.deepEqual(root, ref.root);
      const ranges: [number, number][] = [[0, 1], [n - 1, n], [0, n], [0, n - 1], [1, n], [511, 513], [512, 1000]];
      for (let i = 0; i < 40; i++) {
        const lo = randomInt(0, n);
        const hi = lo + 1 + (i % 3 === 0 ? 0 : randomInt(0, Math.min(n - lo, i % 3 === 1 ? 20 : n - lo)));
        ranges.push([lo, Math.min(hi, n)]);
      }
      for (const [lo, hi] of ranges) {
        const where = `n=${n} [${lo},${hi})`;
        const range = leaves.slice(lo, hi);
        const proof = tree.rangeProof(lo, hi);
        assert.deepEqual(proof, ref.proof(lo, hi), where);
        assert.equal(verifyRangeProof(root, n, lo, range, proof), true, where);
        const j = randomInt(0, range.length);
        const badLeaves = range.slice();
        badLeaves[j] = flip(badLeaves[j]);
        assert.equal(verifyRangeProof(root, n, lo, badLeaves, proof), false, `${where} leaf`);
        if (proof.length > 0) {
          const k = randomInt(0, proof.length);
          const badProof = proof.slice();
          badProof[k] = flip(badProof[k]);
          assert.equal(verifyRangeProof(root, n, lo, range, badProof), false, `${where} proof`);
          assert.equal(verifyRangeProof(root, n, lo, range, proof.slice(0, -1)), false, `${where} missing`);
        }
        assert.equal(verifyRangeProof(root, n, lo, range, [...proof, rand(32)]), false, `${where} extra`);
        if (lo + 1 + range.length <= n) assert.equal(verifyRangeProof(root, n, lo + 1, range, proof), false, `${where} lo+1`);
        if (shape(n + 1, lo, hi) !== shape(n, lo, hi)) assert.equal(verifyRangeProof(root, n + 1, lo, range, proof), false, `${where} size`);
      }
    }
  });
});

describe('range proof argument checks', () => {
  const leaves = makeLeaves(6);
  const tree = new MerkleTree(pack(leaves));

  test('rangeProof refuses empty or out-of-tree ranges', () => {
    for (const [lo, hi] of [[0, 0], [3, 3], [4, 2], [-1, 2], [0, 7], [6, 7]]) {
      assert.throws(() => tree.rangeProof(lo, hi), InvalidArgumentError, `[${lo},${hi})`);
    }
  });

  test('rootFromRangeProof refuses no leaves, negative lo, ranges past the size', () => {
    assert.equal(rootFromRangeProof(6, 0, [], tree.rangeProof(0, 6)), null);
    assert.equal(rootFromRangeProof(6, -1, leaves.slice(0, 2), []), null);
    assert.equal(rootFromRangeProof(6, 5, leaves.slice(0, 2), []), null);
    assert.equal(rootFromRangeProof(0, 0, [leaves[0]], []), null);
    assert.equal(rootFromRangeProof(6.5, 0, leaves, []), null);
    assert.equal(rootFromRangeProof(6, 0.5, [leaves[0]], []), null);
  });

  test('leaves and proof elements that are not exactly 32 bytes are refused (no zero-padding or overlap)', () => {
    // Regression: the verifier used to copy elements into a 64-byte buffer, so a 31-byte element whose
    // dropped byte was zero, or a 33-byte element whose extra byte got overwritten, verified.
    const zeroEnded = makeLeaves(4).map((l) => { const c = new Uint8Array(l); c[31] = 0; return c; });
    const t = new MerkleTree(pack(zeroEnded));
    const proof = t.rangeProof(0, 1);
    assert.equal(verifyRangeProof(t.root, 4, 0, [zeroEnded[0]], proof), true);
    assert.equal(verifyRangeProof(t.root, 4, 0, [zeroEnded[0]], [proof[0].subarray(0, 31), proof[1]]), false);
    assert.equal(verifyRangeProof(t.root, 4, 0, [zeroEnded[0].subarray(0, 31)], proof), false);
    const long = new Uint8Array(33);
    long.set(zeroEnded[0]);
    long[32] = 0xff;
    assert.equal(verifyRangeProof(t.root, 4, 0, [long], proof), false);
    const longProof = new Uint8Array(33);
    longProof.set(proof[0]);
    assert.equal(verifyRangeProof(t.root, 4, 0, [zeroEnded[0]], [longProof, proof[1]]), false);
    assert.equal(verifyRangeProof(t.root, 4, 0, [zeroEnded[0]], [new Uint8Array(100), proof[1]]), false);
    // A single-leaf tree too.
    assert.equal(verifyRangeProof(zeroEnded[0], 1, 0, [zeroEnded[0].subarray(0, 31)], []), false);
  });
});
