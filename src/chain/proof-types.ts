/**
 * JSON shape of an equivocation proof, as produced off-chain and submitted to contracts/SequencerBond.sol.
 * Standalone on purpose (no imports): it may move into src/core.
 */

export interface HeaderJson {
  /** 0x + 32 bytes. */
  logId: string;
  height: number;
  view: number;
  firstSeq: number;
  count: number;
  /** 0x + 32 bytes: headerHash of height - 1 (zero for height 0). */
  prevHeaderHash: string;
  /** 0x + 32 bytes. */
  headHash: string;
  /** 0x + 32 bytes. */
  entriesRoot: string;
  timestamp: number;
}

export interface SignedHeaderJson {
  header: HeaderJson;
  /** 0x + 65 bytes r||s||v, v in {27, 28}, low s. */
  signature: string;
}

export type EquivocationKind = 'conflict' | 'fork';

export interface Eip712DomainJson {
  name: 'Sequencer';
  version: '1';
  chainId: number;
  /** The log id (0x + 32 bytes). */
  salt: string;
}

export interface EquivocationProof {
  /**
   * 'conflict' (kind 1): same logId, height and view, different headerHash.
   * 'fork' (kind 2): a at height h, b at h + 1, same logId and view, b.prevHeaderHash != headerHash(a).
   */
  kind: EquivocationKind;
  domain: Eip712DomainJson;
  /** Checksummed address of the equivocating signer. */
  signer: string;
  a: SignedHeaderJson;
  b: SignedHeaderJson;
}

/** The numeric `kind` argument of SequencerBond.slash. */
export const PROOF_KIND_CODE: Readonly<Record<EquivocationKind, 1 | 2>> = { conflict: 1, fork: 2 };

export const DOMAIN_NAME = 'Sequencer';
export const DOMAIN_VERSION = '1';

/** EIP-712 types of a batch header, in the shape ethers' signTypedData / TypedDataEncoder take. */
export const BATCH_HEADER_TYPES = {
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
};

/** The EIP-712 domain of `logId` on `chainId`. */
export function logDomain(chainId: number, logId: string): Eip712DomainJson {
  return { name: DOMAIN_NAME, version: DOMAIN_VERSION, chainId, salt: logId };
}
