/**
 * Noise's crypto for the sequencer's libp2p node: @chainsafe/libp2p-noise's default, cheaper per message and the
 * same bytes on the wire (the same ChaCha20-Poly1305 from node:crypto). Two costs of the default showed in profiles
 * of a gossip message of a few KiB (a batch):
 *
 * - It hands node:crypto the raw 32-byte key for every message, so node:crypto builds and checks a fresh key object
 *   each time (`getKeyObjectSlots`): about 10 us of an 18 us encryption of 14 KiB. Here each session key gets one
 *   KeyObject, kept as long as noise keeps the key.
 * - It returns a message made of several chunks (the ciphertext of yamux's header, of each payload chunk, the tag),
 *   and the TCP transport writes each chunk of what it is sent with its own socket write. Here the ciphertext and
 *   tag are one buffer, so a message takes two writes (noise's length prefix and it) instead of four or five.
 *
 * Measured with two processes exchanging 14 KiB gossip messages: about 10% less CPU per message on the receiving
 * side, the same or less on the sending side. (Also joining the length prefix, by wrapping the connection's `send`,
 * cost more in copies at the sender than it saved in writes, so it is not done.)
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { equalBytes } from '../core/bytes.ts';

const CHACHA_POLY1305 = 'chacha20-poly1305';
const TAG_BYTES = 16;
/**
 * Below this, the default's WebAssembly implementation is faster than node:crypto (the default switches at the same
 * size, for the same reason), and every small message (window updates, control frames) stays on its path.
 */
const NODE_CRYPTO_MIN_BYTES = 1200;

type Bytes = Uint8Array;
/** A Uint8Array or a Uint8ArrayList (a package the project does not depend on directly), as noise passes them. */
type BytesOrList = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0];

interface CachedKey {
  readonly bytes: Bytes;
  readonly key: KeyObject;
}

/**
 * One KeyObject per key array. Noise keeps each session key in one array for the session's life, so the array is
 * the cache key; its bytes are compared too, so that an array reused for another key can never get the old one.
 */
const keyObjects = new WeakMap<Bytes, CachedKey>();

function keyObjectOf(k: Bytes): KeyObject {
  const cached = keyObjects.get(k);
  if (cached !== undefined && equalBytes(cached.bytes, k)) return cached.key;
  const bytes = Uint8Array.from(k);
  const key = createSecretKey(bytes);
  keyObjects.set(k, { bytes, key });
  return key;
}

function chunksOf(data: BytesOrList): Iterable<Uint8Array> {
  return data instanceof Uint8Array ? [data] : data;
}

function encrypt(plaintext: BytesOrList, nonce: Bytes, ad: Bytes, k: Bytes): BytesOrList {
  if (plaintext.byteLength < NODE_CRYPTO_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
  const cipher = createCipheriv(CHACHA_POLY1305, keyObjectOf(k), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
  const out = Buffer.allocUnsafe(plaintext.byteLength + TAG_BYTES);
  let offset = 0;
  for (const chunk of chunksOf(plaintext)) offset += cipher.update(chunk).copy(out, offset);
  offset += cipher.final().copy(out, offset);
  cipher.getAuthTag().copy(out, offset);
  return out;
}

function decrypt(ciphertext: BytesOrList, nonce: Bytes, ad: Bytes, k: Bytes, dst?: Bytes): BytesOrList {
  if (ciphertext.byteLength < NODE_CRYPTO_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
  const sealed = ciphertext instanceof Uint8Array ? ciphertext : ciphertext.subarray();
  const textBytes = sealed.byteLength - TAG_BYTES;
  const decipher = createDecipheriv(CHACHA_POLY1305, keyObjectOf(k), nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(ad, { plaintextLength: textBytes });
  decipher.setAuthTag(sealed.subarray(textBytes));
  const text = decipher.update(sealed.subarray(0, textBytes));
  const final = decipher.final(); // throws if the tag does not match
  return final.byteLength === 0 ? text : Buffer.concat([text, final]);
}

/** The default Noise crypto (X25519, SHA-256, HKDF unchanged) with ChaCha20-Poly1305 on cached key objects. */
export const fastNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt,
};
