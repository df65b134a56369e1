/** Protocol limits. Replicas enforce the same numbers, so they are part of the protocol (docs/protocol.md §Limits). */
export const MAX_TX_BYTES = 64 * 1024;
export const MAX_TXS_PER_SUBMISSION = 1024;
export const MAX_SUBMISSION_BYTES = 1024 * 1024;
export const MAX_BATCH_TXS = 16384;
/** Below GossipSub's 4 MiB cap on one RPC frame, which carries a batch plus its envelope. */
export const MAX_BATCH_BYTES = 3 * 1024 * 1024;
/** A batch header may be at most this far ahead of the verifier's clock. */
export const MAX_CLOCK_SKEW_MS = 60_000;
