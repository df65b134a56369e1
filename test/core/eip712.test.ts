/** The hand-written EIP-712 encoder must agree with ethers' generic TypedDataEncoder on every input. */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { TypedDataEncoder, id as ethersId } from 'ethers';
import { toHex, ZERO32 } from '../../src/core/bytes.ts';
import {
  DOMAIN_NAME, DOMAIN_TYPE, DOMAIN_VERSION, HEADER_TYPE, SUBMISSION_TYPE,
  domainSeparator, headerStructHash, submissionStructHash, typedDataDigest, type HeaderFields, type LogDomain,
} from '../../src/core/eip712.ts';
import { headerHash } from '../../src/core/header.ts';
import { submissionDigest, transactionsHash } from '../../src/core/submission.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { DOMAIN, ethersDomain, HEADER_TYPES, LOG_ID, rand, SUBMISSION_TYPES } from './helpers.ts';

const RANDOM_ROUNDS = 40;

function randomU64(): bigint {
  return BigInt(toHex(rand(8)));
}
function randomSafe(): number {
  // Spread over every magnitude up to 2^53-1, not just near the top.
  const bits = randomInt(0, 54);
  return bits === 0 ? 0 : Math.floor(Math.random() * 2 ** bits);
}
function randomDomain(): LogDomain {
  return { chainId: [1, 10, 31337, 11155111, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER][randomInt(0, 6)], logId: rand(32) };
}
function randomHeader(): HeaderFields {
  return {
    logId: rand(32),
    height: randomSafe(),
    view: randomSafe(),
    firstSeq: randomSafe(),
    count: randomInt(0, 2 ** 32 - 1) + (Math.random() < 0.1 ? 1 : 0),
    prevHeaderHash: rand(32),
    headHash: rand(32),
    entriesRoot: rand(32),
    timestamp: randomSafe(),
  };
}
function headerValue(h: HeaderFields): Record<string, unknown> {
  return {
    logId: toHex(h.logId), height: h.height, view: h.view, firstSeq: h.firstSeq, count: h.count,
    prevHeaderHash: toHex(h.prevHeaderHash), headHash: toHex(h.headHash), entriesRoot: toHex(h.entriesRoot), timestamp: h.timestamp,
  };
}

describe('type strings', () => {
  test('are exactly what ethers derives from TYPED_DATA_TYPES', () => {
    assert.equal(TypedDataEncoder.from(SUBMISSION_TYPES).encodeType('Submission'), SUBMISSION_TYPE);
    assert.equal(TypedDataEncoder.from(HEADER_TYPES).encodeType('BatchHeader'), HEADER_TYPE);
    assert.equal(SUBMISSION_TYPE, 'Submission(address sender,uint64 nonce,uint64 expiry,bytes32 transactionsHash)');
    assert.equal(
      HEADER_TYPE,
      'BatchHeader(bytes32 logId,uint64 height,uint64 view,uint64 firstSeq,uint32 count,bytes32 prevHeaderHash,bytes32 headHash,bytes32 entriesRoot,uint64 timestamp)',
    );
    assert.equal(DOMAIN_TYPE, 'EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)');
    assert.equal(DOMAIN_NAME, 'Sequencer');
    assert.equal(DOMAIN_VERSION, '1');
  });

  test('ethers derives the same domain type from a {name, version, chainId, salt} domain', () => {
    const fields = TypedDataEncoder.getPayload(ethersDomain(DOMAIN), SUBMISSION_TYPES, {
      sender: '0x' + '00'.repeat(20), nonce: 0, expiry: 0, transactionsHash: toHex(ZERO32),
    }).types.EIP712Domain;
    assert.equal(`EIP712Domain(${fields.map((f: { name: string; type: string }) => `${f.type} ${f.name}`).join(',')})`, DOMAIN_TYPE);
  });
});

describe('domainSeparator', () => {
  test('devnet domain equals ethers hashDomain', () => {
    assert.equal(toHex(LOG_ID), ethersId('sequencer-devnet'));
    assert.equal(toHex(domainSeparator(DOMAIN)), TypedDataEncoder.hashDomain(ethersDomain(DOMAIN)));
  });

  test('random domains equal ethers hashDomain', () => {
    for (let i = 0; i < RANDOM_ROUNDS; i++) {
      const d = randomDomain();
      assert.equal(toHex(domainSeparator(d)), TypedDataEncoder.hashDomain(ethersDomain(d)), `chainId ${d.chainId}`);
    }
  });

  test('chain id and log id both change the separator', () => {
    const a = toHex(domainSeparator(DOMAIN));
    assert.notEqual(toHex(domainSeparator({ chainId: 1, logId: LOG_ID })), a);
    assert.notEqual(toHex(domainSeparator({ chainId: DOMAIN.chainId, logId: ZERO32 })), a);
  });

  test('refuses a log id that is not 32 bytes', () => {
    assert.throws(() => domainSeparator({ chainId: 1, logId: new Uint8Array(31) }));
  });
});

describe('Submission', () => {
  const check = (d: LogDomain, sender: Uint8Array, nonce: bigint, expiry: number, txHash: Uint8Array): void => {
    const value = { sender: toHex(sender), nonce, expiry, transactionsHash: toHex(txHash) };
    const structHash = submissionStructHash(sender, nonce, expiry, txHash);
    assert.equal(toHex(structHash), TypedDataEncoder.hashStruct('Submission', SUBMISSION_TYPES, value));
    const sep = domainSeparator(d);
    assert.equal(toHex(typedDataDigest(sep, structHash)), TypedDataEncoder.hash(ethersDomain(d), SUBMISSION_TYPES, value));
  };

  test('fixed inputs equal ethers (struct hash and digest)', () => {
    check(DOMAIN, new Uint8Array(20), 0n, 0, ZERO32);
    check(DOMAIN, new Uint8Array(20).fill(0xff), 2n ** 64n - 1n, Number.MAX_SAFE_INTEGER, new Uint8Array(32).fill(0xff));
    check(DOMAIN, new Uint8Array(20).fill(0x11), 1n, 1767225600, keccak256(new Uint8Array([1, 2, 3])));
    check({ chainId: 1, logId: ZERO32 }, new Uint8Array(20).fill(0x22), 2n ** 53n + 1n, 2 ** 32, new Uint8Array(32).fill(0x33));
  });

  test('random inputs equal ethers', () => {
    for (let i = 0; i < RANDOM_ROUNDS; i++) check(randomDomain(), rand(20), randomU64(), randomSafe(), rand(32));
  });

  test('submissionDigest hashes the transactions (or uses the given hash)', () => {
    const transactions = [new Uint8Array([1, 2, 3]), new Uint8Array(0), rand(100)];
    const s = { sender: rand(20), nonce: 5n, expiry: 99, transactions, signature: new Uint8Array(65) };
    const txHash = transactionsHash(transactions);
    const expected = TypedDataEncoder.hash(ethersDomain(DOMAIN), SUBMISSION_TYPES, {
      sender: toHex(s.sender), nonce: 5n, expiry: 99, transactionsHash: toHex(txHash),
    });
    const sep = domainSeparator(DOMAIN);
    assert.equal(toHex(submissionDigest(sep, s)), expected);
    assert.equal(toHex(submissionDigest(sep, s, txHash)), expected);
    assert.notEqual(toHex(submissionDigest(sep, s, ZERO32)), expected);
  });

  test('every field changes the struct hash', () => {
    const sender = rand(20);
    const base = toHex(submissionStructHash(sender, 1n, 2, ZERO32));
    assert.notEqual(toHex(submissionStructHash(rand(20), 1n, 2, ZERO32)), base);
    assert.notEqual(toHex(submissionStructHash(sender, 2n, 2, ZERO32)), base);
    assert.notEqual(toHex(submissionStructHash(sender, 1n, 3, ZERO32)), base);
    assert.notEqual(toHex(submissionStructHash(sender, 1n, 2, new Uint8Array(32).fill(1))), base);
  });
});

describe('BatchHeader', () => {
  const check = (d: LogDomain, h: HeaderFields): void => {
    const value = headerValue(h);
    assert.equal(toHex(headerStructHash(h)), TypedDataEncoder.hashStruct('BatchHeader', HEADER_TYPES, value));
    assert.equal(toHex(headerHash(domainSeparator(d), h)), TypedDataEncoder.hash(ethersDomain(d), HEADER_TYPES, value));
  };

  test('fixed inputs equal ethers (struct hash and header hash)', () => {
    check(DOMAIN, {
      logId: LOG_ID, height: 0, view: 0, firstSeq: 0, count: 1, prevHeaderHash: ZERO32, headHash: new Uint8Array(32).fill(0xaa),
      entriesRoot: new Uint8Array(32).fill(0xaa), timestamp: 1767225000000,
    });
    check(DOMAIN, {
      logId: new Uint8Array(32).fill(0xff), height: Number.MAX_SAFE_INTEGER, view: Number.MAX_SAFE_INTEGER, firstSeq: Number.MAX_SAFE_INTEGER,
      count: 0xffffffff, prevHeaderHash: new Uint8Array(32).fill(0xff), headHash: new Uint8Array(32).fill(0xfe),
      entriesRoot: new Uint8Array(32).fill(0xfd), timestamp: Number.MAX_SAFE_INTEGER,
    });
    check(DOMAIN, {
      logId: LOG_ID, height: 2 ** 32, view: 1, firstSeq: 2 ** 32 + 1, count: 16384, prevHeaderHash: rand(32), headHash: rand(32),
      entriesRoot: rand(32), timestamp: 2 ** 41,
    });
  });

  test('random inputs equal ethers', () => {
    for (let i = 0; i < RANDOM_ROUNDS; i++) check(randomDomain(), randomHeader());
  });

  test('every field changes the struct hash', () => {
    const h = randomHeader();
    const base = toHex(headerStructHash(h));
    const variants: HeaderFields[] = [
      { ...h, logId: rand(32) }, { ...h, height: h.height + 1 }, { ...h, view: h.view + 1 }, { ...h, firstSeq: h.firstSeq + 1 },
      { ...h, count: h.count ^ 1 }, { ...h, prevHeaderHash: rand(32) }, { ...h, headHash: rand(32) }, { ...h, entriesRoot: rand(32) },
      { ...h, timestamp: h.timestamp + 1 },
    ];
    for (const v of variants) assert.notEqual(toHex(headerStructHash(v)), base);
  });
});

describe('typedDataDigest', () => {
  test('is keccak256(0x19 0x01 || separator || structHash)', () => {
    const sep = rand(32);
    const sh = rand(32);
    const pre = new Uint8Array(66);
    pre[0] = 0x19;
    pre[1] = 0x01;
    pre.set(sep, 2);
    pre.set(sh, 34);
    assert.deepEqual(typedDataDigest(sep, sh), keccak256(pre));
  });
});
