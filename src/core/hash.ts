/**
 * Hash primitives. sha256 (node:crypto, OpenSSL) for the log structure, where per-transaction cost matters;
 * keccak256 (native binding) only where Ethereum needs it: EIP-712 digests and addresses.
 */
import { hash as nodeHash } from 'node:crypto';
import createKeccak from 'keccak';
import { hashInto } from '@chainsafe/hashtree';
import type { Bytes } from './bytes.ts';

export function sha256(data: Uint8Array): Bytes {
  const out = nodeHash('sha256', data, 'buffer');
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export function keccak256(data: Uint8Array): Bytes {
  const out = createKeccak('keccak256').update(Buffer.from(data.buffer, data.byteOffset, data.byteLength)).digest();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * sha256 of each consecutive 64-byte block of `pairs`, written as consecutive 32-byte digests into `out`.
 * One native call hashes a whole Merkle level (multi-buffer SIMD), so tree cost is negligible next to the chain.
 */
export function sha256Pairs(pairs: Uint8Array, out: Uint8Array): void {
  hashInto(pairs, out);
}
