/**
 * Hash primitives. sha256 (node:crypto, OpenSSL) for the log structure, where per-transaction cost matters;
 * keccak256 (native libkeccak binding) only where Ethereum needs it: EIP-712 digests and addresses.
 */
import { hash as nodeHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hashInto } from '@chainsafe/hashtree';
import type { Bytes } from './bytes.ts';

export function sha256(data: Uint8Array): Bytes {
  const out = nodeHash('sha256', data, 'buffer');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

interface KeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Buffer;
}

/**
 * The `keccak` package's native sponge, used directly: its public API wraps every hash in a stream.Transform,
 * which costs more than the hash itself (3 us against 6.5 us per call). The shape of this internal API is
 * pinned by the lockfile and checked by the EIP-712 test vectors, which compare with ethers.
 */
function loadKeccakState(): new () => KeccakState {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve('keccak/package.json'));
  return createRequire(join(dir, 'package.json'))('node-gyp-build')(dir);
}

const sponge = new (loadKeccakState())();
const KECCAK256_RATE = 1088;
const KECCAK256_CAPACITY = 512;
const KECCAK_PADDING = 0x01;

export function keccak256(data: Uint8Array): Bytes {
  sponge.initialize(KECCAK256_RATE, KECCAK256_CAPACITY);
  sponge.absorb(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  sponge.absorbLastFewBits(KECCAK_PADDING);
  const out = sponge.squeeze(32);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * sha256 of each consecutive 64-byte block of `pairs`, written as consecutive 32-byte digests into `out`.
 * One native call hashes a whole Merkle level (multi-buffer SIMD), so tree cost is negligible next to the chain.
 */
export function sha256Pairs(pairs: Uint8Array, out: Uint8Array): void {
  hashInto(pairs, out);
}
