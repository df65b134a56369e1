/**
 * secp256k1 signatures in Ethereum's 65-byte form r || s || v (v = 27 or 28), over a 32-byte digest.
 * Native libsecp256k1 (about 25x pure JS): every submission is recovered once per node.
 * High-s signatures are refused, so a signature has exactly one valid encoding (no malleability).
 */
import secp from 'secp256k1';
import { keccak256 } from './hash.ts';
import type { Bytes } from './bytes.ts';

export const SIGNATURE_BYTES = 65;

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export class SignatureError extends Error {
  override name = 'SignatureError';
}

export function addressFromPublicKey(uncompressed: Uint8Array): Bytes {
  return keccak256(uncompressed.subarray(1)).subarray(12);
}

export function addressFromPrivateKey(privateKey: Uint8Array): Bytes {
  return addressFromPublicKey(secp.publicKeyCreate(privateKey, false));
}

export function sign(digest: Uint8Array, privateKey: Uint8Array): Bytes {
  const { signature, recid } = secp.ecdsaSign(digest, privateKey); // libsecp256k1 always produces low s
  const out = new Uint8Array(SIGNATURE_BYTES);
  out.set(signature, 0);
  out[64] = 27 + recid;
  return out;
}

function readS(signature: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(signature.buffer, signature.byteOffset + 32, 32).toString('hex'));
}

/** Returns the 20-byte address that signed `digest`, or throws SignatureError. */
export function recoverAddress(digest: Uint8Array, signature: Uint8Array): Bytes {
  if (signature.byteLength !== SIGNATURE_BYTES) throw new SignatureError('signature must be 65 bytes');
  const v = signature[64];
  if (v !== 27 && v !== 28) throw new SignatureError('signature v must be 27 or 28');
  if (readS(signature) > HALF_N) throw new SignatureError('signature s is in the upper half of the curve order (malleable)');
  try {
    const publicKey = secp.ecdsaRecover(signature.subarray(0, 64), v - 27, digest, false);
    return addressFromPublicKey(publicKey);
  } catch {
    throw new SignatureError('signature does not recover to a public key');
  }
}
