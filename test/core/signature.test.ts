/** secp256k1 signatures: byte-identical to ethers (RFC 6979), recovery equal to ethers, malleability refused. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import secp from 'secp256k1';
import { SigningKey, Wallet, computeAddress, recoverAddress as ethersRecoverAddress } from 'ethers';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { keccak256 } from '../../src/core/hash.ts';
import {
  addressFromPrivateKey, addressFromPublicKey, recoverAddress, sign, SIGNATURE_BYTES, SignatureError,
} from '../../src/core/signature.ts';
import { patternKey, rand } from './helpers.ts';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;

function s32(sig: Uint8Array): bigint {
  return BigInt(toHex(sig.subarray(32, 64)));
}
function word(v: bigint): Uint8Array {
  return fromHex('0x' + v.toString(16).padStart(64, '0'), 32);
}
/** The other valid signature of the same digest: s -> n - s, recovery id flipped. */
function malleate(sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(sig);
  out.set(word(N - s32(sig)), 32);
  out[64] = sig[64] === 27 ? 28 : 27;
  return out;
}

const KEYS = [patternKey(0x01), patternKey(0x02), patternKey(0x03), patternKey(0x7f), patternKey(0xaa)];

describe('addresses', () => {
  test('addressFromPrivateKey equals ethers Wallet.address', () => {
    for (const k of [...KEYS, rand(32), rand(32)]) {
      assert.equal(toHex(addressFromPrivateKey(k)), new Wallet(toHex(k)).address.toLowerCase());
    }
  });

  test('addressFromPublicKey equals ethers computeAddress', () => {
    const k = rand(32);
    const pub = secp.publicKeyCreate(k, false);
    assert.equal(pub.length, 65);
    assert.equal(toHex(addressFromPublicKey(pub)), computeAddress(toHex(pub)).toLowerCase());
  });
});

describe('sign', () => {
  test('is byte-identical to ethers SigningKey.sign (RFC 6979), r || s || v with v in {27, 28}', () => {
    const seen = new Set<number>();
    for (const k of KEYS) {
      for (let i = 0; i < 12; i++) {
        const digest = i === 0 ? new Uint8Array(32) : keccak256(new Uint8Array([i, ...k.subarray(0, 4)]));
        const sig = sign(digest, k);
        assert.equal(sig.byteLength, SIGNATURE_BYTES);
        assert.ok(sig[64] === 27 || sig[64] === 28);
        seen.add(sig[64]);
        assert.ok(s32(sig) <= HALF_N, 'low s');
        assert.equal(toHex(sig), new SigningKey(toHex(k)).sign(digest).serialized);
        assert.equal(toHex(sig), new Wallet(toHex(k)).signingKey.sign(digest).serialized);
      }
    }
    assert.deepEqual([...seen].sort(), [27, 28], 'both recovery ids occur');
  });

  test('random keys and digests match ethers', () => {
    for (let i = 0; i < 30; i++) {
      const k = rand(32);
      const d = rand(32);
      assert.equal(toHex(sign(d, k)), new Wallet(toHex(k)).signingKey.sign(d).serialized);
    }
  });
});

describe('recoverAddress', () => {
  test('recovers the signer and equals ethers.recoverAddress', () => {
    for (let i = 0; i < 30; i++) {
      const k = i < KEYS.length ? KEYS[i] : rand(32);
      const d = rand(32);
      const sig = sign(d, k);
      const got = recoverAddress(d, sig);
      assert.deepEqual(got, addressFromPrivateKey(k));
      assert.equal(toHex(got), ethersRecoverAddress(d, toHex(sig)).toLowerCase());
    }
  });

  test('ethers-made signatures recover too', () => {
    const k = rand(32);
    const d = rand(32);
    const sig = fromHex(new Wallet(toHex(k)).signingKey.sign(d).serialized, 65);
    assert.deepEqual(recoverAddress(d, sig), addressFromPrivateKey(k));
  });

  test('another digest recovers another address (not an error)', () => {
    const k = rand(32);
    const sig = sign(rand(32), k);
    const other = rand(32);
    assert.notDeepEqual(recoverAddress(other, sig), addressFromPrivateKey(k));
    assert.equal(toHex(recoverAddress(other, sig)), ethersRecoverAddress(other, toHex(sig)).toLowerCase());
  });

  test('high-s (malleated) signatures are refused with SignatureError', () => {
    for (let i = 0; i < 20; i++) {
      const k = rand(32);
      const d = rand(32);
      const sig = sign(d, k);
      const bad = malleate(sig);
      assert.ok(s32(bad) > HALF_N);
      // It is a mathematically valid signature of the same key: only the low-s rule refuses it.
      const pub = secp.ecdsaRecover(bad.subarray(0, 64), bad[64] - 27, d, false);
      assert.deepEqual(addressFromPublicKey(pub), addressFromPrivateKey(k));
      assert.throws(() => recoverAddress(d, bad), SignatureError);
      assert.throws(() => recoverAddress(d, bad), /upper half/);
    }
  });

  test('the high-s twin as docs/protocol.md §Signatures builds it, (r, n − s, 55 − v), recovers the signer yet is refused as high-s', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const k = rand(32);
      const d = rand(32);
      const sig = sign(d, k);
      const twin = new Uint8Array(sig);
      twin.set(word(N - s32(sig)), 32);
      twin[64] = 55 - sig[64];
      seen.add(twin[64]);
      assert.ok(twin[64] === 27 || twin[64] === 28, 'the twin keeps v in {27, 28}');
      // Without the low-s rule (libsecp256k1's recovery accepts high s) it recovers the same address...
      assert.deepEqual(addressFromPublicKey(secp.ecdsaRecover(twin.subarray(0, 64), twin[64] - 27, d, false)), addressFromPrivateKey(k));
      // ...which is why the rule must refuse it, and it does, for that reason.
      assert.throws(() => recoverAddress(d, twin), /upper half of the curve order/);
      // The formula the document used to give, v xor 1, is no twin: 27 ^ 1 = 26, 28 ^ 1 = 29.
      assert.throws(() => recoverAddress(d, Uint8Array.from([...twin.subarray(0, 64), sig[64] ^ 1])), /v must be 27 or 28/);
    }
    assert.deepEqual([...seen].sort(), [27, 28], 'both recovery ids were exercised');
  });

  test('s = n/2 (the largest low s) passes the malleability check; s = n/2 + 1 does not', () => {
    const d = rand(32);
    const sig = sign(d, rand(32));
    const atHalf = new Uint8Array(sig);
    atHalf.set(word(HALF_N), 32);
    try {
      recoverAddress(d, atHalf);
    } catch (e) {
      assert.doesNotMatch((e as Error).message, /upper half/);
    }
    const aboveHalf = new Uint8Array(sig);
    aboveHalf.set(word(HALF_N + 1n), 32);
    assert.throws(() => recoverAddress(d, aboveHalf), /upper half/);
  });

  test('v outside {27, 28} is refused', () => {
    const d = rand(32);
    const sig = sign(d, rand(32));
    for (const v of [0, 1, 2, 3, 26, 29, 30, 35, 36, 255]) {
      const bad = new Uint8Array(sig);
      bad[64] = v;
      assert.throws(() => recoverAddress(d, bad), SignatureError, `v=${v}`);
      assert.throws(() => recoverAddress(d, bad), /v must be 27 or 28/);
    }
  });

  test('wrong length is refused', () => {
    const d = rand(32);
    const sig = sign(d, rand(32));
    for (const len of [0, 1, 63, 64, 66, 130]) {
      const bad = new Uint8Array(len);
      bad.set(sig.subarray(0, Math.min(len, 65)));
      assert.throws(() => recoverAddress(d, bad), SignatureError, `length ${len}`);
      assert.throws(() => recoverAddress(d, bad), /65 bytes/);
    }
  });

  test('r or s zero, or r >= n, is refused with SignatureError', () => {
    const d = rand(32);
    const sig = sign(d, rand(32));
    const zeroR = new Uint8Array(sig);
    zeroR.fill(0, 0, 32);
    const zeroS = new Uint8Array(sig);
    zeroS.fill(0, 32, 64);
    const bigR = new Uint8Array(sig);
    bigR.set(word(N), 0);
    for (const bad of [zeroR, zeroS, bigR, new Uint8Array(65).fill(0).fill(27, 64)]) {
      assert.throws(() => recoverAddress(d, bad), SignatureError);
    }
  });

  test('a flipped recovery id recovers someone else (or fails), never the signer', () => {
    const k = rand(32);
    const d = rand(32);
    const sig = sign(d, k);
    const flipped = new Uint8Array(sig);
    flipped[64] = sig[64] === 27 ? 28 : 27;
    try {
      assert.notDeepEqual(recoverAddress(d, flipped), addressFromPrivateKey(k));
    } catch (e) {
      assert.ok(e instanceof SignatureError);
    }
  });

  test('works on subarray views', () => {
    const k = rand(32);
    const d = rand(32);
    const sig = sign(d, k);
    const buf = new Uint8Array(100);
    buf.set(sig, 7);
    assert.deepEqual(recoverAddress(d, buf.subarray(7, 72)), addressFromPrivateKey(k));
  });
});
