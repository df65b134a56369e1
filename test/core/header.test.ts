import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError, toHex, u64be, ZERO32 } from '../../src/core/bytes.ts';
import { headerStructHash, typedDataDigest } from '../../src/core/eip712.ts';
import {
  decodeSignedHeader, encodeSignedHeader, HEADER_BYTES, headerHash, headerSigner, SIGNED_HEADER_BYTES, signHeader, type Header,
} from '../../src/core/header.ts';
import { SignatureError } from '../../src/core/signature.ts';
import { LOG_ID, MALLORY, MALLORY_KEY, PRIMARY, PRIMARY_KEY, rand, SEPARATOR } from './helpers.ts';

function header(): Header {
  return {
    logId: LOG_ID, height: 2 ** 32 + 3, view: 0, firstSeq: 2 ** 40 + 9, count: 0x01020304, prevHeaderHash: rand(32),
    headHash: rand(32), entriesRoot: rand(32), timestamp: 1767225000123,
  };
}

describe('signed header wire form', () => {
  test('sizes', () => {
    assert.equal(HEADER_BYTES, 164);
    assert.equal(SIGNED_HEADER_BYTES, 229);
  });

  test('fields sit at the documented offsets', () => {
    const h = header();
    const s = signHeader(SEPARATOR, h, PRIMARY_KEY);
    const b = encodeSignedHeader(s);
    assert.equal(b.byteLength, 229);
    assert.deepEqual(b.subarray(0, 32), h.logId);
    assert.deepEqual(b.subarray(32, 40), u64be(h.height));
    assert.deepEqual(b.subarray(40, 48), u64be(h.view));
    assert.deepEqual(b.subarray(48, 56), u64be(h.firstSeq));
    assert.equal(toHex(b.subarray(56, 60)), '0x01020304');
    assert.deepEqual(b.subarray(60, 92), h.prevHeaderHash);
    assert.deepEqual(b.subarray(92, 124), h.headHash);
    assert.deepEqual(b.subarray(124, 156), h.entriesRoot);
    assert.deepEqual(b.subarray(156, 164), u64be(h.timestamp));
    assert.deepEqual(b.subarray(164, 229), s.signature);
  });

  test('round trip', () => {
    const s = signHeader(SEPARATOR, header(), PRIMARY_KEY);
    const d = decodeSignedHeader(encodeSignedHeader(s));
    assert.deepEqual({ ...d.header }, { ...s.header });
    assert.deepEqual(d.signature, s.signature);
  });

  test('decode refuses truncation, trailing bytes and u64 fields above 2^53-1', () => {
    const b = encodeSignedHeader(signHeader(SEPARATOR, header(), PRIMARY_KEY));
    for (let len = 0; len < b.byteLength; len++) assert.throws(() => decodeSignedHeader(b.subarray(0, len)), DecodeError);
    assert.throws(() => decodeSignedHeader(new Uint8Array([...b, 0])), /trailing/);
    for (const offset of [32, 40, 48, 156]) {
      const bad = new Uint8Array(b);
      bad.set(u64be(2n ** 53n), offset);
      assert.throws(() => decodeSignedHeader(bad), /above 2\^53-1/, `offset ${offset}`);
    }
  });
});

describe('header hash and signature', () => {
  test('headerHash is the EIP-712 digest of the struct', () => {
    const h = header();
    assert.deepEqual(headerHash(SEPARATOR, h), typedDataDigest(SEPARATOR, headerStructHash(h)));
  });

  test('signHeader signs the header hash; headerSigner recovers the primary', () => {
    const s = signHeader(SEPARATOR, header(), PRIMARY_KEY);
    assert.deepEqual(headerSigner(SEPARATOR, s), PRIMARY);
    assert.deepEqual(headerSigner(SEPARATOR, signHeader(SEPARATOR, header(), MALLORY_KEY)), MALLORY);
    // Another domain recovers someone else.
    assert.notDeepEqual(headerSigner(ZERO32, s), PRIMARY);
  });

  test('headerSigner throws SignatureError on a malformed signature', () => {
    const s = signHeader(SEPARATOR, header(), PRIMARY_KEY);
    const bad = new Uint8Array(s.signature);
    bad[64] = 0;
    assert.throws(() => headerSigner(SEPARATOR, { header: s.header, signature: bad }), SignatureError);
  });
});
