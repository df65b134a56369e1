/** Entry hashes against a preimage built independently with node:crypto. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { ZERO32 } from '../../src/core/bytes.ts';
import { ENTRY_TAG, EntryChain, entryHash } from '../../src/core/entry.ts';
import { rand } from './helpers.ts';

/** sha256(0x00 | prev[32] | seq u64 BE | sender[20] | submissionDigest[32] | payload), built without core code. */
function reference(prev: Uint8Array, seq: number | bigint, sender: Uint8Array, digest: Uint8Array, payload: Uint8Array): Uint8Array {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  const h = createHash('sha256');
  h.update(Buffer.from([0x00]));
  h.update(prev);
  h.update(seqBytes);
  h.update(sender);
  h.update(digest);
  h.update(payload);
  return new Uint8Array(h.digest());
}

describe('entry hash', () => {
  test('the tag is 0x00', () => {
    assert.equal(ENTRY_TAG, 0x00);
  });

  test('genesis entry (prev = 32 zero bytes, seq 0) matches the documented preimage', () => {
    const sender = rand(20);
    const digest = rand(32);
    const payload = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    assert.deepEqual(entryHash(ZERO32, 0, sender, digest, payload), reference(ZERO32, 0, sender, digest, payload));
  });

  test('empty payload', () => {
    const sender = rand(20);
    const digest = rand(32);
    assert.deepEqual(entryHash(ZERO32, 7, sender, digest, new Uint8Array(0)), reference(ZERO32, 7, sender, digest, new Uint8Array(0)));
  });

  test('sequence numbers above 2^32 and up to 2^53-1 encode as u64 big-endian', () => {
    const prev = rand(32);
    const sender = rand(20);
    const digest = rand(32);
    const payload = rand(10);
    for (const seq of [1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 33 + 12345, 2 ** 40 + 2 ** 32 + 7, Number.MAX_SAFE_INTEGER]) {
      assert.deepEqual(entryHash(prev, seq, sender, digest, payload), reference(prev, seq, sender, digest, payload), `seq ${seq}`);
    }
  });

  test('payloads at and beyond the 1 KiB scratch buffer', () => {
    const prev = rand(32);
    const sender = rand(20);
    const digest = rand(32);
    for (const len of [1023, 1024, 1025, 2048, 4097, 65536]) {
      const payload = rand(len);
      assert.deepEqual(entryHash(prev, 3, sender, digest, payload), reference(prev, 3, sender, digest, payload), `length ${len}`);
    }
  });

  test('every input changes the hash', () => {
    const prev = rand(32);
    const sender = rand(20);
    const digest = rand(32);
    const payload = rand(8);
    const base = entryHash(prev, 5, sender, digest, payload);
    assert.notDeepEqual(entryHash(rand(32), 5, sender, digest, payload), base);
    assert.notDeepEqual(entryHash(prev, 6, sender, digest, payload), base);
    assert.notDeepEqual(entryHash(prev, 5, rand(20), digest, payload), base);
    assert.notDeepEqual(entryHash(prev, 5, sender, rand(32), payload), base);
    assert.notDeepEqual(entryHash(prev, 5, sender, digest, rand(8)), base);
    assert.notDeepEqual(entryHash(prev, 5, sender, digest, payload.subarray(0, 7)), base);
  });
});

describe('EntryChain', () => {
  test('chains consecutive entries; head and nextSeq advance', () => {
    const sender = rand(20);
    const digest = rand(32);
    const chain = new EntryChain(ZERO32, 0);
    let prev: Uint8Array = ZERO32;
    for (let seq = 0; seq < 50; seq++) {
      const payload = rand(seq * 37);
      const expected = reference(prev, seq, sender, digest, payload);
      assert.deepEqual(chain.append(sender, digest, payload), expected);
      assert.deepEqual(chain.head, expected);
      assert.equal(chain.nextSeq, seq + 1);
      prev = expected;
    }
  });

  test('returned hashes stay valid after further appends (no aliasing of the scratch buffer)', () => {
    const sender = rand(20);
    const digest = rand(32);
    const chain = new EntryChain(ZERO32, 0);
    const got: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const h = chain.append(sender, digest, rand(i % 2 === 0 ? 10 : 3000));
      got.push(h);
      copies.push(new Uint8Array(h));
    }
    assert.deepEqual(got, copies);
  });

  test('growing the scratch buffer and then shrinking payloads again stays correct', () => {
    const sender = rand(20);
    const digest = rand(32);
    const chain = new EntryChain(rand(32), 2 ** 32 - 2);
    let prev = chain.head;
    let seq = chain.nextSeq;
    for (const len of [5, 5000, 3, 100_000, 0, 1024, 1025, 17]) {
      const payload = rand(len);
      const expected = reference(prev, seq, sender, digest, payload);
      assert.deepEqual(chain.append(sender, digest, payload), expected, `length ${len} seq ${seq}`);
      prev = expected;
      seq++;
    }
    assert.equal(chain.nextSeq, 2 ** 32 + 6);
  });

  test('mixes senders and digests per entry', () => {
    const chain = new EntryChain(ZERO32, 10);
    let prev: Uint8Array = ZERO32;
    for (let i = 0; i < 10; i++) {
      const sender = rand(20);
      const digest = rand(32);
      const payload = rand(i);
      const expected = reference(prev, 10 + i, sender, digest, payload);
      assert.deepEqual(chain.append(sender, digest, payload), expected);
      prev = expected;
    }
  });

  test('entryHash equals a one-step chain', () => {
    const prev = rand(32);
    const sender = rand(20);
    const digest = rand(32);
    const payload = rand(50);
    assert.deepEqual(entryHash(prev, 9, sender, digest, payload), new EntryChain(prev, 9).append(sender, digest, payload));
  });
});
