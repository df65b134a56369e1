/**
 * Hash primitives. sha256 for the log structure, where per-transaction cost matters; keccak256 only where
 * Ethereum needs it: EIP-712 digests and addresses. The implementation is the crypto backend that package.json
 * `#crypto` selects (src/core/crypto/backend.ts): native in Node, pure JavaScript in a browser.
 */
import { backend } from '#crypto';
import type { Bytes } from './bytes.ts';

export function sha256(data: Uint8Array): Bytes {
  return backend.sha256(data);
}

export function keccak256(data: Uint8Array): Bytes {
  return backend.keccak256(data);
}

/**
 * sha256 of each consecutive 64-byte block of `pairs`, written as consecutive 32-byte digests into `out`.
 * On the native backend one call hashes a whole Merkle level (multi-buffer SIMD), so tree cost is negligible
 * next to the chain.
 */
export function sha256Pairs(pairs: Uint8Array, out: Uint8Array): void {
  backend.sha256Pairs(pairs, out);
}
