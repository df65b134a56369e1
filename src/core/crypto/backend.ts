/**
 * The hash and signature primitives the core is built on, behind one interface with two implementations:
 * `native.ts` (OpenSSL, libkeccak, libsecp256k1, hashtree: the fastest, Node only) and `noble.ts` (audited
 * pure JavaScript: runs anywhere, browsers included). Which one the core uses is decided statically by the
 * package.json `imports` entry `#crypto` and its conditions (Node gets native, a browser bundler gets noble),
 * so there is no runtime switch and no mutable global. Both must pass docs/test-vectors.json bit for bit.
 *
 * Only the primitives live here. The protocol's rules on top of them (65-byte length, v in {27, 28}, low s,
 * addresses as keccak256 of the public key) are written once, in core/signature.ts, for both backends.
 */
import type { Bytes } from '../bytes.ts';

export interface CryptoBackend {
  /** Which implementation this is, for benchmarks and for tests that check the selection. */
  readonly name: 'native' | 'noble';

  sha256(data: Uint8Array): Bytes;
  /**
   * sha256 of each consecutive 64-byte block of `pairs`, written as consecutive 32-byte digests into `out`:
   * one Merkle level per call, so the native backend can hash a whole level in one multi-buffer SIMD call.
   */
  sha256Pairs(pairs: Uint8Array, out: Uint8Array): void;
  /** Ethereum's keccak256 (the original Keccak padding, not SHA3-256). */
  keccak256(data: Uint8Array): Bytes;

  /** The 65-byte uncompressed secp256k1 public key (0x04 | x | y) of a 32-byte private key; throws on an invalid key. */
  publicKey(privateKey: Uint8Array): Bytes;
  /**
   * Deterministic ECDSA (RFC 6979, no extra entropy) over a 32-byte digest, always with low s, in Ethereum's
   * 65-byte form r | s | v with v = 27 + recovery id. Both backends give byte-identical signatures.
   */
  sign(digest: Uint8Array, privateKey: Uint8Array): Bytes;
  /**
   * The uncompressed public key that made a 65-byte r | s | v signature of `digest`. The caller has already
   * checked the length, v in {27, 28} and low s; this throws (any error) when r or s is out of range or no
   * point recovers. It does not judge malleability: a high-s signature recovers like its low-s twin.
   */
  recoverPublicKey(digest: Uint8Array, signature: Uint8Array): Bytes;
}
