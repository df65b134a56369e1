/**
 * An in-memory Bloom filter of every nonce key the store holds (or is writing), so that the nonce lookup of a new
 * submission (the common case: its nonce was never used) needs no LevelDB read. A Bloom filter has no false
 * negatives: `mayContain` false means the key was never added, and the store adds every nonce key before the
 * write that stores it, so "absent" is exact. A false positive only costs the LevelDB read it would have made
 * anyway, so nonce uniqueness never depends on the filter's accuracy, only the speed does. So the keys of batches
 * a truncation removes (LogStore.truncate) stay in the filter: false positives, until the next open rebuilds it.
 *
 * It grows without a rescan (a scalable Bloom filter): layers of doubling capacity, each sized at 16 bits per key
 * with 11 probes (false-positive rate about 0.05 % per full layer); a key goes into the newest layer and a lookup
 * asks every layer. About 2 MiB per million nonce keys.
 */
const BITS_PER_KEY = 16;
const PROBES = 11;
const MIN_CAPACITY = 1 << 14;
/** Largest layer: 2^27 keys in 2^31 bits (256 MiB), so that bit indexes stay within a positive int32. */
const MAX_CAPACITY = 1 << 27;

/** Two independent 32-bit hashes of `key` (murmur3-style mixing, seeded per process). */
const SEED_A = (Math.random() * 0x1_0000_0000) >>> 0;
const SEED_B = (Math.random() * 0x1_0000_0000) >>> 0;

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Layer {
  readonly capacity: number;
  count = 0;
  private readonly bits: Uint32Array;
  private readonly mask: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    let m = 32;
    while (m < capacity * BITS_PER_KEY) m *= 2;
    this.bits = new Uint32Array(m / 32);
    this.mask = m - 1;
  }

  add(h1: number, h2: number): void {
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    }
    this.count++;
  }

  has(h1: number, h2: number): boolean {
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.bits[bit >>> 5] & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  get bytes(): number {
    return this.bits.byteLength;
  }
}

export class NonceFilter {
  private readonly layers: Layer[];
  private h1 = 0;
  private h2 = 0;

  /** `expected`: how many keys the filter is about to be given (sizes the first layer). */
  constructor(expected = 0) {
    let capacity = MIN_CAPACITY;
    while (capacity < 2 * expected && capacity < MAX_CAPACITY) capacity *= 2;
    this.layers = [new Layer(capacity)];
  }

  private hash(key: Uint8Array): void {
    let a = SEED_A;
    let b = SEED_B;
    const n = key.byteLength;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const w = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24);
      a = mix(a, w);
      b = mix(b, w);
    }
    let w = 0;
    for (let s = 0; i < n; i++, s += 8) w |= key[i] << s;
    a = mix(a, w);
    b = mix(b, w);
    this.h1 = finish(a, n);
    this.h2 = finish(b, n) | 1; // odd: the probes of one key never coincide on a power-of-two table
  }

  add(key: Uint8Array): void {
    let layer = this.layers[this.layers.length - 1];
    if (layer.count >= layer.capacity) {
      layer = new Layer(Math.min(layer.capacity * 2, MAX_CAPACITY));
      this.layers.push(layer);
    }
    this.hash(key);
    layer.add(this.h1, this.h2);
  }

  /** False only if `key` was never added. */
  mayContain(key: Uint8Array): boolean {
    this.hash(key);
    for (const layer of this.layers) if (layer.has(this.h1, this.h2)) return true;
    return false;
  }

  /** Keys added, and bytes of bit arrays held (for tests and benchmarks). */
  get size(): number {
    return this.layers.reduce((n, l) => n + l.count, 0);
  }

  get bytes(): number {
    return this.layers.reduce((n, l) => n + l.bytes, 0);
  }
}
