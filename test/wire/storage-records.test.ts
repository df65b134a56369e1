/**
 * The storage layout (docs/protocol.md §Storage layout) pinned byte for byte: databases written by earlier
 * versions must keep opening, so a change here is a change of the on-disk format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { GENESIS_TIP } from '../../src/core/batch.ts';
import { judgePair } from '../../src/core/equivocation.ts';
import { signHeader, type Header } from '../../src/core/header.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { proofToJson } from '../../src/wire/json.ts';
import {
  IDENTITY_KEY, PROBE_KEY, RECORD_KEYS, TIP_KEY, batchKey, decodeBatchValue, decodeHeight, decodeRecord, decodeTip,
  encodeBatchValue, encodeHeight, encodeProofRecord, encodeSeenRecord, encodeTip, heightOfBatchKey, nonceIndexKey,
  proofRecordName, recordKey, seenRecordName, seqIndexKey,
} from '../../src/wire/storage-records.ts';
import { CHAIN_ID, LOG_ID, PRIMARY_KEY, SEPARATOR } from '../helpers/network.ts';

const ascii = (s: string) => toHex(new TextEncoder().encode(s)).slice(2);

test('keys: one prefix byte, then big-endian integers or raw bytes', () => {
  assert.equal(toHex(TIP_KEY), '0x' + ascii('Mtip'));
  assert.equal(toHex(IDENTITY_KEY), '0x' + ascii('Midentity'));
  assert.equal(toHex(PROBE_KEY), '0x' + ascii('Mprobe'));
  assert.equal(toHex(batchKey(258)), '0x420000000000000102');
  assert.equal(heightOfBatchKey(batchKey(258)), 258);
  assert.equal(toHex(seqIndexKey(1)), '0x530000000000000001');
  const senderNonce = fromHex('0x' + 'aa'.repeat(20) + '0000000000000007');
  assert.equal(toHex(nonceIndexKey(senderNonce)), '0x4e' + 'aa'.repeat(20) + '0000000000000007');
  assert.equal(toHex(recordKey(seenRecordName(5))), '0x45530000000000000005');
  assert.equal(toHex(proofRecordName(new Uint8Array(32).fill(1))), '0x50' + '01'.repeat(32));
  assert.deepEqual([...RECORD_KEYS.gt], [0x45]);
  assert.deepEqual([...RECORD_KEYS.lt], [0x46]);
});

test('values: tip, heights and batches round-trip in their documented form', () => {
  const tip = { height: 4, headerHash: new Uint8Array(32).fill(2), nextSeq: 9, headHash: new Uint8Array(32).fill(3), timestamp: 1_700_000_000_000 };
  const bytes = encodeTip(tip);
  assert.equal(toHex(bytes), '0x0000000000000005' + '02'.repeat(32) + '0000000000000009' + '03'.repeat(32) + '0000018bcfe56800');
  assert.deepEqual(decodeTip(bytes), tip);
  assert.deepEqual(decodeTip(encodeTip(GENESIS_TIP)), GENESIS_TIP);
  assert.equal(toHex(encodeHeight(7)), '0x0000000000000007');
  assert.equal(decodeHeight(encodeHeight(7)), 7);
  const value = encodeBatchValue(new Uint8Array(32).fill(9), Uint8Array.of(1, 2, 3));
  assert.equal(toHex(value), '0x' + '09'.repeat(32) + '010203');
  assert.deepEqual(decodeBatchValue(value), { prevEntryHash: new Uint8Array(32).fill(9), bytes: Uint8Array.of(1, 2, 3) });
});

test('node records: a proof is its JSON (as earlier versions wrote it), a seen header its wire form; unknown names are skipped', () => {
  const header: Header = {
    logId: LOG_ID, height: 3, view: 0, firstSeq: 10, count: 1, prevHeaderHash: new Uint8Array(32),
    headHash: new Uint8Array(32).fill(4), entriesRoot: new Uint8Array(32).fill(5), timestamp: 1000,
  };
  const a = signHeader(SEPARATOR, header, PRIMARY_KEY);
  const b = signHeader(SEPARATOR, { ...header, timestamp: 1001 }, PRIMARY_KEY);
  const proof = judgePair(SEPARATOR, CHAIN_ID, addressFromPrivateKey(PRIMARY_KEY), a, b)!;
  assert.ok(proof);
  const written = new TextEncoder().encode(JSON.stringify(proofToJson(proof)));
  assert.deepEqual(encodeProofRecord(proof), written);
  assert.deepEqual(decodeRecord(proofRecordName(new Uint8Array(32)), written), { kind: 'proof', proof });
  assert.deepEqual(decodeRecord(seenRecordName(3), encodeSeenRecord(a)), { kind: 'seen', signed: a });
  assert.equal(decodeRecord(Uint8Array.of(0x58), Uint8Array.of(1)), undefined);
});
