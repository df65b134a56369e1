/**
 * The JSON-RPC API as types (docs/protocol.md §JSON-RPC API): each method's params and result, shared by the
 * server (src/rpc/methods.ts builds exactly these) and the client SDK (src/client/rpc-client.ts returns them).
 * The JSON forms of the protocol objects themselves (submission, header, receipt, entry, equivocation proof) are
 * defined next to their codecs in json.ts and re-exported here, so that one import gives the whole API.
 */
import type {
  EntryJson, EquivocationProofJson, HeaderJson, ReceiptJson, SignedHeaderJson, SubmissionJson,
} from './json.ts';
import type { CertificateJson } from '../core/certificate.ts';
import type { Finality, FinalityCertificateJson, FinalReceiptJson } from './finality-json.ts';
import type { VoteProofJson } from './vote-proof-json.ts';

export type { EntryJson, EquivocationProofJson, HeaderJson, ReceiptJson, SignedHeaderJson, SubmissionJson };
export type { CertificateJson, Finality, FinalityCertificateJson, FinalReceiptJson, VoteProofJson };

/**
 * sequencer_append's options (docs/protocol.md §JSON-RPC API, append): answer once the receipt's header is final
 * (`wait: "final"`, with its finality certificate), or at once with the leader's signed receipt (`"soft"`, the default).
 */
export interface AppendOptions {
  wait?: Finality;
  /** How long `wait: "final"` waits before -32013 (not final yet, with the receipt); 1 … 60000, 10000 by default. */
  finalTimeoutMs?: number;
}

/** sequencer_getBatch: everything a verifier needs to recompute the batch (docs/protocol.md §Batch, Verification). */
export interface BatchJson {
  header: HeaderJson;
  headerHash: string;
  signature: string;
  prevEntryHash: string;
  /** The batch's submissions in full, in batch order. */
  submissions: SubmissionJson[];
  /** The same transactions as entries, in sequence order. */
  entries: EntryJson[];
}

/** sequencer_getProof: one entry and the Merkle range proof `[index, index + 1)` against its header. */
export interface EntryProofJson {
  entry: EntryJson;
  prevEntryHash: string;
  /** The entry's leaf index in its batch: `entry.seq - header.firstSeq`. */
  index: number;
  proof: string[];
  header: HeaderJson;
  headerHash: string;
  signature: string;
}

/** An equivocation proof as the API exports it: its JSON form plus the ABI calldata of `SequencerBond.slash`. */
export interface ExportedProofJson extends EquivocationProofJson {
  calldata: string;
}

/**
 * A validator's equivocation proof (kinds 3-6) as the API exports it: its JSON form (wire/vote-proof-json.ts) plus the
 * ABI calldata of the SequencerBond function that judges its kind (slashVoteConflict, …).
 */
export type ExportedVoteProofJson = VoteProofJson & { calldata: string };

/**
 * What sequencer_verifyReceipt says of a receipt (docs/protocol.md §JSON-RPC API, verifyReceipt):
 *   invalid:    the receipt does not check on its own (another log or view, signature, Merkle proof, headerHash);
 *   consistent: the node stores this very header, with these entries, sender, nonce and digest;
 *   mismatch:   the node stores this header, but not with the entries, sender, nonce or digest the receipt states;
 *   pending:    the node does not hold the height yet; it keeps the header and judges it when the height arrives;
 *   conflict:   the header conflicts with one the node holds: the equivocation proof, now also held by the node.
 */
export type ReceiptStatus = 'invalid' | 'consistent' | 'mismatch' | 'pending' | 'conflict' | 'replaced';

/** sequencer_verifyReceipt. `valid` is false for `invalid` and `mismatch`; `reason` says why for those two. */
export interface VerifyReceiptJson {
  valid: boolean;
  reason: string | null;
  status: ReceiptStatus;
  /** Set for `conflict` only. */
  proof: ExportedProofJson | null;
  /**
   * `final` for a valid receipt whose own finality certificate checks, or whose header the node holds final (then
   * `certificate` is the node's); else `soft`.
   */
  finality: Finality;
  certificate: FinalityCertificateJson | null;
}

export type BondStatusJson = 'active' | 'leaving' | 'slashed' | 'unbonded';

/** The primary's on-chain bond as a node last read it (sequencer_info.bond; docs/slashing.md §Withdrawal delay). */
export interface BondStateJson {
  /** SequencerBond address. */
  readonly contract: string;
  /** The bonded sequencer (the log's primary). */
  readonly sequencer: string;
  /** 'unknown' until the bond has been read once. */
  readonly status: BondStatusJson | 'unknown';
  /** Wei, decimal string. */
  readonly amount: string;
  /** Unix seconds (chain time) from which a requested withdrawal can be taken; 0 = none requested. */
  readonly withdrawableAt: number;
  readonly slashed: boolean;
  /** Unix ms (chain time) of the block the last successful read was made at, at most the node's clock then; or null. */
  readonly checkedAt: number | null;
  /** The last read's failure, or null if it succeeded. */
  readonly error: string | null;
}

/** Health figures of the node process (sequencer_info.process); reading them changes nothing. */
export interface ProcessStatsJson {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** The largest p99 event-loop delay (ms) of any one-second slice within the last `windowSeconds`. */
  readonly eventLoopDelayP99Ms: number;
  /** The longest garbage-collection pause (ms) within the last `windowSeconds`. */
  readonly gcPauseMaxMs: number;
  readonly windowSeconds: number;
  readonly uptimeSeconds: number;
}

/** sequencer_info (docs/protocol.md §JSON-RPC API, info). */
export interface ValidatorVoteJson {
  kind: 'lock' | 'commit';
  view: number;
  height: number;
  /** When this node counted it (Unix ms, its clock). */
  at: number;
}

export interface FinalRiseJson {
  /** The final height reached. */
  height: number;
  /** When this node marked it final (Unix ms, its clock). */
  at: number;
}

export interface InfoJson {
  mode: 'primary' | 'validator' | 'replica';
  /**
   * What the node does in the validator set (docs/protocol.md §Validators and roles): the leader of the current view,
   * another validator (verifies, stores and votes), or an observer (verifies and stores, no vote; `mode` replica).
   */
  role: 'leader' | 'validator' | 'observer';
  /** This node's position in `validators`, or null for an observer. */
  validatorIndex: number | null;
  /** The validator set, in order (its first member leads view 0). */
  validators: string[];
  /** Faults tolerated (⌊(n−1)/3⌋) and signatures in a quorum (⌈(n+f+1)/2⌉). */
  f: number;
  quorum: number;
  /** keccak256 of the validator addresses, as every vote binds it. */
  membershipHash: string;
  /** The view this node is in, and its leader (today always view 0 and `primary`). */
  view: number;
  leader: string;
  /** View changes this node went through since it started; the view it last timed out (-1: none); T(view) in ms (null: one validator). */
  viewChanges: number;
  timeoutView: number;
  viewTimeoutMs: number | null;
  /** The highest height this node holds final (a commit certificate covers it), -1 for none; and that header's hash. */
  finalizedHeight: number;
  finalizedHeaderHash: string | null;
  /** A validator's lock (its highest certificate), or null. */
  lock: { view: number; height: number; headerHash: string } | null;
  /** This node's key address, or null (a replica without a key). */
  address: string | null;
  primary: string;
  peerId: string;
  multiaddrs: string[];
  logId: string;
  chainId: number;
  /** Number of entries = the next sequence number. */
  entries: number;
  /** -1 when the log is empty. */
  height: number;
  headHash: string;
  headerHash: string;
  connectedPeers: string[];
  /** Why the node stopped sequencing or following, or null. */
  halted: string | null;
  /** Null unless the node was given the bond contract. */
  bond: BondStateJson | null;
  /** A primary still recovering at start-up: why it does not sequence yet (§Primary start-up); otherwise null. */
  notReady: string | null;
  /** The error of a storage fault the node is recovering from, or null (§Storage layout). */
  storageFault: string | null;
  /** Number of equivocation proofs held. */
  equivocations: number;
  /** By validator index: the last vote this node counted (verified) from it since it started, or null; `at` is this node's clock (ms). */
  validatorVotes: (ValidatorVoteJson | null)[];
  /** The last rises of this node's final height (at most 64, oldest first), `at` by its clock: height h became final at the first rise to h or above. */
  finalizedAt: FinalRiseJson[];
  process: ProcessStatsJson;
  version: string;
}

/** sequencer_read's named params (by position: `[{fromSeq, limit}]`). */
export interface ReadParams {
  fromSeq?: number;
  /** 1 … 1000; 100 by default. */
  limit?: number;
}

/**
 * Every method: its params by position, and its result. Params may also be given by name (docs/protocol.md
 * §JSON-RPC API); the positional form is the one the client sends.
 */
export interface RpcMethods {
  sequencer_append: { params: [submission: SubmissionJson] | [submission: SubmissionJson, options: AppendOptions]; result: FinalReceiptJson };
  sequencer_read: { params: [ReadParams]; result: EntryJson[] };
  sequencer_info: { params: []; result: InfoJson };
  sequencer_getBatch: { params: [height: number]; result: BatchJson };
  sequencer_getProof: { params: [seq: number]; result: EntryProofJson };
  sequencer_verifyReceipt: { params: [receipt: ReceiptJson | FinalReceiptJson]; result: VerifyReceiptJson };
  sequencer_getCertificate: { params: [height: number]; result: FinalityCertificateJson };
  sequencer_getEquivocations: { params: []; result: (ExportedProofJson | ExportedVoteProofJson)[] };
}

export type RpcMethodName = keyof RpcMethods;
export type RpcParams<M extends RpcMethodName> = RpcMethods[M]['params'];
export type RpcResult<M extends RpcMethodName> = RpcMethods[M]['result'];
