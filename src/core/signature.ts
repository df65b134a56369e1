/**
 * secp256k1 signatures in Ethereum's 65-byte form r || s || v (v = 27 or 28), over a 32-byte digest.
 * High-s signatures are refused, so a signature has exactly one valid encoding (no malleability).
 * The curve arithmetic is the crypto backend's (src/core/crypto/backend.ts): libsecp256k1 in Node, which recovers
 * about 20x faster than pure JS (every submission is recovered once per node), @noble/curves in a browser.
 * The rules above are written here, once, for both.
 */
import { backend } from '#crypto';
import { keccak256 } from './hash.ts';
import type { Bytes } from './bytes.ts';
import { BaseError } from './errors.ts';

export const SIGNATURE_BYTES = 65;

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export class SignatureError extends BaseError {
  override name = 'SignatureError';
}

export function addressFromPublicKey(uncompressed: Uint8Array): Bytes {
  return keccak256(uncompressed.subarray(1)).subarray(12);
}

export function addressFromPrivateKey(privateKey: Uint8Array): Bytes {
  return addressFromPublicKey(backend.publicKey(privateKey));
}

/** Deterministic (RFC 6979) and always low s, so the same digest and key give the same bytes on every backend. */
export function sign(digest: Uint8Array, privateKey: Uint8Array): Bytes {
  return backend.sign(digest, privateKey);
}

/** s, the signature's bytes 32..63 as a big-endian integer. */
function readS(signature: Uint8Array): bigint {
  const view = new DataView(signature.buffer, signature.byteOffset + 32, 32);
  let s = 0n;
  for (let i = 0; i < 32; i += 8) s = (s << 64n) | view.getBigUint64(i);
  return s;
}

/** Returns the 20-byte address that signed `digest`, or throws SignatureError. */
export function recoverAddress(digest: Uint8Array, signature: Uint8Array): Bytes {
  if (signature.byteLength !== SIGNATURE_BYTES) throw new SignatureError('signature must be 65 bytes');
  const v = signature[64];
  if (v !== 27 && v !== 28) throw new SignatureError('signature v must be 27 or 28');
  if (readS(signature) > HALF_N) throw new SignatureError('signature s is in the upper half of the curve order (malleable)');
  try {
    return addressFromPublicKey(backend.recoverPublicKey(digest, signature));
  } catch {
    throw new SignatureError('signature does not recover to a public key');
  }
}
