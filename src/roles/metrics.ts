/**
 * What the roles report to the node's metrics (docs/metrics.md), as calls on a small interface: the roles never
 * import a metrics library, the node layer implements it (src/node/metrics.ts, Prometheus), and tests or tools
 * that need none pass NO_METRICS. Every call is a counter increment or one histogram observation: cheap enough
 * for the hot path, and labelled only from the bounded sets below, never with free text.
 */

/**
 * Why a replica refused a batch, by the stage of verification that failed (a bounded label set: the free-text
 * reason goes to the log, not to a label).
 */
export type VerificationFailure =
  /** The bytes do not decode as a batch. */
  | 'malformed'
  /** The header is of another log, not signed by the primary, or of an unknown view. */
  | 'header_signature'
  /** Height, links, sequence numbers, timestamp, a submission (signature, allowlist, expiry), chain head or Merkle root. */
  | 'batch_body'
  /** A submission's nonce was used before, at a stored height. */
  | 'nonce_replayed'
  /** The batch's timestamp is ahead of this node's clock (ignored, retried later). */
  | 'not_yet_valid';

export const VERIFICATION_FAILURES: readonly VerificationFailure[] = ['malformed', 'header_signature', 'batch_body', 'nonce_replayed', 'not_yet_valid'];

export interface NodeMetrics {
  /** The primary made one batch durable: `transactions` entries from `submissions` signed submissions. */
  sequenced(transactions: number, submissions: number): void;
  /** A batch was refused for `reason`. */
  verificationFailed(reason: VerificationFailure): void;
  /** This node asked a peer for batches (one ranged sync request). */
  syncRequested(): void;
  /** This node answered a peer's ranged sync request. */
  syncServed(): void;
}

/** Reports nothing: for roles run without a node (tests, tools). */
export const NO_METRICS: NodeMetrics = {
  sequenced() {},
  verificationFailed() {},
  syncRequested() {},
  syncServed() {},
};
