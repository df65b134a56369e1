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

export type { VoteProofKind } from '../core/vote-proofs.ts';
export type {
  VoteProofJson, VoteJson, TimeoutJson, SignedVoteJson, SignedTimeoutJson, ProofDomainJson,
} from '../wire/vote-proof-json.ts';

/** The `kind` of the Slashed event for each validator proof (3-6). */
export { VOTE_PROOF_KIND_CODE } from '../core/vote-proofs.ts';

/** EIP-712 types of a validator's Vote and Timeout, in the shape ethers' signTypedData / TypedDataEncoder take. */
export const VOTE_TYPES = { Vote: [...TYPED_DATA_TYPES.Vote] };
export const TIMEOUT_TYPES = { Timeout: [...TYPED_DATA_TYPES.Timeout] };
