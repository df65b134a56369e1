import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { concatBytes, DecodeError, equalBytes, fromHex, Reader, toHex, u64be, Writer, ZERO32 } from '../../src/core/bytes.ts';
import { InvalidArgumentError } from '../../src/core/errors.ts';

describe('hex', () => {
  test('toHex / fromHex round trip, lower-case output', () => {
    const b = new Uint8Array([0x00, 0x01, 0xab, 0xff]);
    assert.equal(toHex(b), '0x0001abff');
    assert.deepEqual(fromHex('0x0001ABff'), b);
    assert.equal(toHex(new Uint8Array(0)), '0x');
    assert.deepEqual(fromHex('0x'), new Uint8Array(0));
  });

  test('toHex respects the view of a subarray', () => {
    const b = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(toHex(b.subarray(1, 3)), '0x0203');
  });

  test('fromHex refuses malformed input', () => {
    for (const bad of ['', '00', '0x0', '0x123', '0xzz', '0X00', ' 0x00', '0x00 ', '0x0g', 'x00', '0x-1']) {
      assert.throws(() => fromHex(bad), InvalidArgumentError, JSON.stringify(bad));
    }
    assert.throws(() => fromHex(1 as unknown as string), InvalidArgumentError);
    assert.throws(() => fromHex(undefined as unknown as string), InvalidArgumentError);
  });

  test('fromHex enforces the length when given', () => {
    assert.equal(fromHex('0x' + '00'.repeat(32), 32).byteLength, 32);
    assert.throws(() => fromHex('0x' + '00'.repeat(31), 32), /expected 32 bytes, got 31/);
    assert.throws(() => fromHex('0x' + '00'.repeat(33), 32), /expected 32 bytes, got 33/);
    assert.throws(() => fromHex('0x', 1), InvalidArgumentError);
    assert.equal(fromHex('0x', 0).byteLength, 0);
  });
});

describe('helpers', () => {
  test('equalBytes compares length and content', () => {
    assert.equal(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
    assert.equal(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
    assert.equal(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])), false);
    assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true);
  });

  test('concatBytes', () => {
    assert.deepEqual(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3])), new Uint8Array([1, 2, 3]));
  });

  test('ZERO32 is 32 zero bytes', () => {
    assert.equal(ZERO32.byteLength, 32);
    assert.ok(ZERO32.every((b) => b === 0));
  });

  test('u64be is big-endian', () => {
    assert.equal(toHex(u64be(1)), '0x0000000000000001');
    assert.equal(toHex(u64be(0x0102030405060708n)), '0x0102030405060708');
    assert.equal(toHex(u64be(2n ** 64n - 1n)), '0xffffffffffffffff');
    assert.equal(toHex(u64be(2 ** 32)), '0x0000000100000000');
  });
});

describe('Writer', () => {
  test('writes big-endian fields in order', () => {
    const out = new Writer(1 + 4 + 8 + 3).u8(0xab).u32(0x01020304).u64(0x1122334455667788n).raw(new Uint8Array([9, 8, 7])).finish();
    assert.equal(toHex(out), '0xab010203041122334455667788090807');
  });

  test('finish refuses a size mismatch (too little written)', () => {
    const w = new Writer(8).u32(1);
    assert.throws(() => w.finish(), /encoder size mismatch: wrote 4 of 8/);
  });

  test('writing past the end throws', () => {
    assert.throws(() => new Writer(3).u32(1));
    assert.throws(() => new Writer(4).raw(new Uint8Array(5)));
  });

  test('u64 accepts number and bigint alike', () => {
    assert.deepEqual(new Writer(8).u64(2 ** 53 - 1).finish(), new Writer(8).u64(2n ** 53n - 1n).finish());
  });
});

describe('Reader', () => {
  const data = new Uint8Array([0xab, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, 0, 0, 0, 5, 0xee, 0xff]);

  test('reads big-endian fields in order', () => {
    const r = new Reader(data);
    assert.equal(r.u8(), 0xab);
    assert.equal(r.u32(), 0x01020304);
    assert.equal(r.u64(), 5);
    assert.equal(r.remaining, 2);
    assert.deepEqual(r.raw(2), new Uint8Array([0xee, 0xff]));
    r.end();
  });

  test('raw returns a view, not a copy', () => {
    const buf = new Uint8Array([1, 2, 3]);
    const v = new Reader(buf).raw(2);
    buf[0] = 9;
    assert.equal(v[0], 9);
  });

  test('every read past the end throws DecodeError and does not advance', () => {
    for (let n = 0; n < 8; n++) {
      const bytes = new Uint8Array(n);
      if (n < 1) assert.throws(() => new Reader(bytes).u8(), DecodeError);
      if (n < 4) assert.throws(() => new Reader(bytes).u32(), DecodeError);
      assert.throws(() => new Reader(bytes).u64(), DecodeError);
      assert.throws(() => new Reader(bytes).u64big(), DecodeError);
      assert.throws(() => new Reader(bytes).raw(n + 1), DecodeError);
    }
    const r = new Reader(new Uint8Array(3));
    assert.throws(() => r.u32(), /truncated: need 4 bytes at offset 0, have 3/);
    assert.equal(r.offset, 0);
    r.u8();
    assert.throws(() => r.raw(3), /truncated: need 3 bytes at offset 1, have 2/);
  });

  test('end() refuses trailing bytes', () => {
    const r = new Reader(new Uint8Array(3));
    r.u8();
    assert.throws(() => r.end(), DecodeError);
    assert.throws(() => r.end(), /2 trailing bytes/);
  });

  test('honours a subarray view (byteOffset != 0)', () => {
    const buf = new Uint8Array([0xff, 0xff, 0, 0, 0, 7, 0xff]);
    const r = new Reader(buf.subarray(2, 6));
    assert.equal(r.u32(), 7);
    r.end();
  });

  test('starting offset', () => {
    const r = new Reader(new Uint8Array([1, 2, 3]), 2);
    assert.equal(r.u8(), 3);
    r.end();
  });

  test('u64 refuses values above 2^53-1, u64big reads them', () => {
    assert.equal(new Reader(u64be(2 ** 53 - 1)).u64(), Number.MAX_SAFE_INTEGER);
    for (const v of [2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
      assert.throws(() => new Reader(u64be(v)).u64(), DecodeError);
      assert.throws(() => new Reader(u64be(v)).u64(), /above 2\^53-1/);
      assert.equal(new Reader(u64be(v)).u64big(), v);
    }
  });

  test('u64 reads values above 2^32 exactly', () => {
    assert.equal(new Reader(u64be(2 ** 32 + 5)).u64(), 2 ** 32 + 5);
    assert.equal(new Reader(u64be(2 ** 40 * 3 + 1)).u64(), 2 ** 40 * 3 + 1);
  });
});
