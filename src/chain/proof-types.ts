/**
 * The JSON shapes the chain tooling consumes. They are the protocol's own JSON forms (src/wire/json.ts,
 * docs/protocol.md §Equivocation proofs), re-exported here under the names the contract wrapper uses.
 */
import { TYPED_DATA_TYPES } from '../core/eip712.ts';
import { KIND_CODE } from '../core/equivocation.ts';

export type { EquivocationKind } from '../core/equivocation.ts';
export type { HeaderJson, SignedHeaderJson, EquivocationProofJson as EquivocationProof } from '../wire/json.ts';

/** The numeric `kind` argument of SequencerBond.slash. */
export const PROOF_KIND_CODE = KIND_CODE;

/** EIP-712 types of a batch header, in the shape ethers' signTypedData / TypedDataEncoder take. */
export const BATCH_HEADER_TYPES = { BatchHeader: [...TYPED_DATA_TYPES.BatchHeader] };
