/**
 * EIP-712 hashing for the two signed types, written out by hand: these run once per submission on the hot
 * path, and ethers' generic TypedDataEncoder is an order of magnitude slower. test/core/eip712.test.ts checks
 * every function here against ethers on fixed vectors.
 */
import { keccak256 } from './hash.ts';
import { Writer, type Bytes } from './bytes.ts';

export const DOMAIN_NAME = 'Sequencer';
export const DOMAIN_VERSION = '1';

export const DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)';
export const SUBMISSION_TYPE = 'Submission(address sender,uint64 nonce,uint64 expiry,bytes32 transactionsHash)';
export const HEADER_TYPE =
  'BatchHeader(bytes32 logId,uint64 height,uint64 view,uint64 firstSeq,uint32 count,bytes32 prevHeaderHash,bytes32 headHash,bytes32 entriesRoot,uint64 timestamp)';

/** The same types in the shape ethers' signTypedData and wallets take. */
export const TYPED_DATA_TYPES = {
  Submission: [
    { name: 'sender', type: 'address' },
    { name: 'nonce', type: 'uint64' },
    { name: 'expiry', type: 'uint64' },
    { name: 'transactionsHash', type: 'bytes32' },
  ],
  BatchHeader: [
    { name: 'logId', type: 'bytes32' },
    { name: 'height', type: 'uint64' },
    { name: 'view', type: 'uint64' },
    { name: 'firstSeq', type: 'uint64' },
    { name: 'count', type: 'uint32' },
    { name: 'prevHeaderHash', type: 'bytes32' },
    { name: 'headHash', type: 'bytes32' },
    { name: 'entriesRoot', type: 'bytes32' },
    { name: 'timestamp', type: 'uint64' },
  ],
} as const;

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);
const DOMAIN_TYPEHASH = keccak256(utf8(DOMAIN_TYPE));
const SUBMISSION_TYPEHASH = keccak256(utf8(SUBMISSION_TYPE));
const HEADER_TYPEHASH = keccak256(utf8(HEADER_TYPE));
const NAME_HASH = keccak256(utf8(DOMAIN_NAME));
const VERSION_HASH = keccak256(utf8(DOMAIN_VERSION));

/** The domain that binds every signature to one log on one chain. */
export interface LogDomain {
  readonly chainId: number;
  /** 32 bytes; the EIP-712 `salt`. */
  readonly logId: Bytes;
}

/** A 32-byte ABI word holding an unsigned integer. */
function word(w: Writer, v: number | bigint): void {
  w.u64(0n).u64(0n).u64(0n).u64(v);
}

export function domainSeparator(domain: LogDomain): Bytes {
  const w = new Writer(32 * 5).raw(DOMAIN_TYPEHASH).raw(NAME_HASH).raw(VERSION_HASH);
  word(w, domain.chainId);
  return keccak256(w.raw(domain.logId).finish());
}

/** keccak256(0x19 0x01 || domainSeparator || structHash): the digest that gets signed. */
export function typedDataDigest(separator: Uint8Array, structHash: Uint8Array): Bytes {
  return keccak256(new Writer(66).u8(0x19).u8(0x01).raw(separator).raw(structHash).finish());
}

export function submissionStructHash(sender: Uint8Array, nonce: bigint, expiry: number, transactionsHash: Uint8Array): Bytes {
  const w = new Writer(32 * 5).raw(SUBMISSION_TYPEHASH).raw(new Uint8Array(12)).raw(sender);
  word(w, nonce);
  word(w, expiry);
  return keccak256(w.raw(transactionsHash).finish());
}

export interface HeaderFields {
  readonly logId: Bytes;
  readonly height: number;
  readonly view: number;
  readonly firstSeq: number;
  readonly count: number;
  readonly prevHeaderHash: Bytes;
  readonly headHash: Bytes;
  readonly entriesRoot: Bytes;
  readonly timestamp: number;
}

export function headerStructHash(h: HeaderFields): Bytes {
  const w = new Writer(32 * 10).raw(HEADER_TYPEHASH).raw(h.logId);
  word(w, h.height);
  word(w, h.view);
  word(w, h.firstSeq);
  word(w, h.count);
  w.raw(h.prevHeaderHash).raw(h.headHash).raw(h.entriesRoot);
  word(w, h.timestamp);
  return keccak256(w.finish());
}
