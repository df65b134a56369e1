/**
 * The native crypto backend, selected for Node by package.json `#crypto`: sha256 from node:crypto (OpenSSL),
 * keccak256 from the `keccak` package's native sponge, secp256k1 from libsecp256k1 (recovery about 20x faster
 * than pure JS: every submission is recovered once per node), Merkle levels from @chainsafe/hashtree
 * (multi-buffer SIMD). Never in a browser build: there `#crypto` resolves to noble.ts instead.
 */
import { hash as nodeHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hashInto } from '@chainsafe/hashtree';
import secp from 'secp256k1';
import type { Bytes } from '../bytes.ts';
import type { CryptoBackend } from './backend.ts';

function asBytes(b: Buffer): Bytes {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
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

export const backend: CryptoBackend = {
  name: 'native',

  sha256(data) {
    return asBytes(nodeHash('sha256', data, 'buffer'));
  },

  sha256Pairs(pairs, out) {
    hashInto(pairs, out);
  },

  keccak256(data) {
    sponge.initialize(KECCAK256_RATE, KECCAK256_CAPACITY);
    sponge.absorb(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    sponge.absorbLastFewBits(KECCAK_PADDING);
    return asBytes(sponge.squeeze(32));
  },

  publicKey(privateKey) {
    return secp.publicKeyCreate(privateKey, false);
  },

  sign(digest, privateKey) {
    const { signature, recid } = secp.ecdsaSign(digest, privateKey); // RFC 6979; libsecp256k1 always produces low s
    const out = new Uint8Array(65);
    out.set(signature, 0);
    out[64] = 27 + recid;
    return out;
  },

  recoverPublicKey(digest, signature) {
    return secp.ecdsaRecover(signature.subarray(0, 64), signature[64] - 27, digest, false);
  },
};
