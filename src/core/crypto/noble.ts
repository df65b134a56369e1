/**
 * The pure-JavaScript crypto backend (@noble/hashes, @noble/curves: audited, no native code), selected by
 * package.json `#crypto` wherever Node's native one is not: browsers and other bundles of the core. Node can
 * run it too (`node --conditions=pure-js-crypto`), which is how the tests hold it to the same vectors.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { CryptoBackend } from './backend.ts';

export const backend: CryptoBackend = {
  name: 'noble',

  sha256(data) {
    return sha256(data);
  },

  sha256Pairs(pairs, out) {
    for (let i = 0, o = 0; i < pairs.byteLength; i += 64, o += 32) out.set(sha256(pairs.subarray(i, i + 64)), o);
  },

  keccak256(data) {
    return keccak_256(data);
  },

  publicKey(privateKey) {
    return secp256k1.getPublicKey(privateKey, false);
  },

  sign(digest, privateKey) {
    // 'recovered' is recovery id | r | s; noble's defaults are RFC 6979 without extra entropy and low s.
    const recovered = secp256k1.sign(digest, privateKey, { prehash: false, format: 'recovered' });
    const out = new Uint8Array(65);
    out.set(recovered.subarray(1), 0);
    out[64] = 27 + recovered[0];
    return out;
  },

  recoverPublicKey(digest, signature) {
    return secp256k1.Signature.fromBytes(signature.subarray(0, 64), 'compact')
      .addRecoveryBit(signature[64] - 27)
      .recoverPublicKey(digest)
      .toBytes(false);
  },
};
