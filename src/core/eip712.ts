/**
 * EIP-712 hashing for the signed types, written out by hand: submissions and headers are hashed on the hot
 * path, and ethers' generic TypedDataEncoder is an order of magnitude slower. test/core/eip712.test.ts checks
 * every function here against ethers on fixed vectors.
 */
import { keccak256 } from './hash.ts';
import type { Bytes } from './bytes.ts';
import { InvariantError } from './errors.ts';

export const DOMAIN_NAME = 'Sequencer';
export const DOMAIN_VERSION = '1';

export const DOMAIN_TYPE = 'EIP712Domain(string name,string version,uint256 chainId,bytes32 salt)';
export const SUBMISSION_TYPE = 'Submission(address sender,uint64 nonce,uint64 expiry,bytes32 transactionsHash)';
export const HEADER_TYPE =
  'BatchHeader(bytes32 logId,uint64 height,uint64 view,uint64 firstSeq,uint32 count,bytes32 prevHeaderHash,bytes32 headHash,bytes32 entriesRoot,uint64 timestamp)';
/** The primary's statement "this libp2p peer id is mine" (docs/protocol.md §Status); never a header or submission. */
export const PEER_RECORD_TYPE = 'PeerRecord(bytes32 logId,string peerId,uint64 issuedAt)';
/**
 * A validator's vote on a header (docs/protocol.md §Vote): kind 1 locks it, kind 2 commits it. `membershipHash`
 * binds the vote to one validator set, so it cannot be replayed for another.
 */
export const VOTE_TYPE = 'Vote(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 height,bytes32 headerHash,uint8 kind)';
/** A validator's "I leave this view", reporting its lock (docs/design/replication.md §2.2; view change, issue 10). */
export const TIMEOUT_TYPE = 'Timeout(bytes32 logId,bytes32 membershipHash,uint64 view,uint64 lockView,uint64 lockHeight,bytes32 lockHash)';

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
  PeerRecord: [
    { name: 'logId', type: 'bytes32' },
    { name: 'peerId', type: 'string' },
    { name: 'issuedAt', type: 'uint64' },
  ],
  Vote: [
    { name: 'logId', type: 'bytes32' },
    { name: 'membershipHash', type: 'bytes32' },
    { name: 'view', type: 'uint64' },
    { name: 'height', type: 'uint64' },
    { name: 'headerHash', type: 'bytes32' },
    { name: 'kind', type: 'uint8' },
  ],
  Timeout: [
    { name: 'logId', type: 'bytes32' },
    { name: 'membershipHash', type: 'bytes32' },
    { name: 'view', type: 'uint64' },
    { name: 'lockView', type: 'uint64' },
    { name: 'lockHeight', type: 'uint64' },
    { name: 'lockHash', type: 'bytes32' },
  ],
} as const;

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);
const DOMAIN_TYPEHASH = keccak256(utf8(DOMAIN_TYPE));
const SUBMISSION_TYPEHASH = keccak256(utf8(SUBMISSION_TYPE));
const HEADER_TYPEHASH = keccak256(utf8(HEADER_TYPE));
const PEER_RECORD_TYPEHASH = keccak256(utf8(PEER_RECORD_TYPE));
const VOTE_TYPEHASH = keccak256(utf8(VOTE_TYPE));
const TIMEOUT_TYPEHASH = keccak256(utf8(TIMEOUT_TYPE));
const NAME_HASH = keccak256(utf8(DOMAIN_NAME));
const VERSION_HASH = keccak256(utf8(DOMAIN_VERSION));
const EIP191_PREFIX = Uint8Array.of(0x19, 0x01);

/** The domain that binds every signature to one log on one chain. */
export interface LogDomain {
  readonly chainId: number;
  /** 32 bytes; the EIP-712 `salt`. */
  readonly logId: Bytes;
}

/**
 * Scratch space for the fixed-size EIP-712 encodings. Hashing copies its input synchronously, so one buffer
 * per encoding can be reused by every call; this keeps allocation off the per-submission path.
 */
class Encoder {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  start(): this { this.offset = 0; return this; }
  raw(b: Uint8Array): this { this.bytes.set(b, this.offset); this.offset += b.byteLength; return this; }
  /** A 32-byte ABI word holding an unsigned integer below 2^64. */
  word(v: number | bigint): this {
    this.bytes.fill(0, this.offset, this.offset + 24);
    this.view.setBigUint64(this.offset + 24, BigInt(v));
    this.offset += 32;
    return this;
  }
  /** An address as an ABI word: 12 zero bytes, then the 20 address bytes. */
  address(a: Uint8Array): this { this.bytes.fill(0, this.offset, this.offset + 12); this.offset += 12; return this.raw(a); }
  hash(): Bytes {
    if (this.offset !== this.bytes.byteLength) throw new InvariantError(`EIP-712 encoding size mismatch: ${this.offset} of ${this.bytes.byteLength}`);
    return keccak256(this.bytes);
  }
}

const domainEncoder = new Encoder(32 * 5);
const digestEncoder = new Encoder(66);
const submissionEncoder = new Encoder(32 * 5);
const headerEncoder = new Encoder(32 * 10);
const voteEncoder = new Encoder(32 * 7);
const timeoutEncoder = new Encoder(32 * 7);

export function domainSeparator(domain: LogDomain): Bytes {
  return domainEncoder.start().raw(DOMAIN_TYPEHASH).raw(NAME_HASH).raw(VERSION_HASH).word(domain.chainId).raw(domain.logId).hash();
}

/** keccak256(0x19 0x01 || domainSeparator || structHash): the digest that gets signed. */
export function typedDataDigest(separator: Uint8Array, structHash: Uint8Array): Bytes {
  return digestEncoder.start().raw(EIP191_PREFIX).raw(separator).raw(structHash).hash();
}

export function submissionStructHash(sender: Uint8Array, nonce: bigint, expiry: number, transactionsHash: Uint8Array): Bytes {
  return submissionEncoder.start().raw(SUBMISSION_TYPEHASH).address(sender).word(nonce).word(expiry).raw(transactionsHash).hash();
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
  return headerEncoder.start().raw(HEADER_TYPEHASH).raw(h.logId).word(h.height).word(h.view).word(h.firstSeq).word(h.count)
    .raw(h.prevHeaderHash).raw(h.headHash).raw(h.entriesRoot).word(h.timestamp).hash();
}

/** EIP-712 encodes a `string` field as the keccak256 of its UTF-8 bytes. Off the hot path: plain allocation. */
export function peerRecordStructHash(logId: Uint8Array, peerId: string, issuedAt: number): Bytes {
  return new Encoder(32 * 4).start().raw(PEER_RECORD_TYPEHASH).raw(logId).raw(keccak256(utf8(peerId))).word(issuedAt).hash();
}

export interface VoteFields {
  readonly logId: Bytes;
  readonly membershipHash: Bytes;
  readonly view: number;
  readonly height: number;
  readonly headerHash: Bytes;
  /** 1 lock, 2 commit (src/core/vote.ts VoteKind). */
  readonly kind: number;
}

/** keccak256(voteTypeHash | logId | membershipHash | view | height | headerHash | kind), each a 32-byte word. */
export function voteStructHash(v: VoteFields): Bytes {
  return voteEncoder.start().raw(VOTE_TYPEHASH).raw(v.logId).raw(v.membershipHash).word(v.view).word(v.height)
    .raw(v.headerHash).word(v.kind).hash();
}

/** The digest a validator signs for a vote: the EIP-712 digest of the Vote struct in the log's domain. */
export function voteDigest(separator: Uint8Array, v: VoteFields): Bytes {
  return typedDataDigest(separator, voteStructHash(v));
}

export interface TimeoutFields {
  readonly logId: Bytes;
  readonly membershipHash: Bytes;
  /** The view being left. */
  readonly view: number;
  /** The signer's lock when it signed; "no lock" is 0, 0, 32 zero bytes. */
  readonly lockView: number;
  readonly lockHeight: number;
  readonly lockHash: Bytes;
}

export function timeoutStructHash(t: TimeoutFields): Bytes {
  return timeoutEncoder.start().raw(TIMEOUT_TYPEHASH).raw(t.logId).raw(t.membershipHash).word(t.view).word(t.lockView)
    .word(t.lockHeight).raw(t.lockHash).hash();
}

export function timeoutDigest(separator: Uint8Array, t: TimeoutFields): Bytes {
  return typedDataDigest(separator, timeoutStructHash(t));
}
