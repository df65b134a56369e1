/**
 * The SDK's own errors (docs/sdk.md §Errors). A node's JSON-RPC error answers arrive as the classes of
 * src/core/errors.ts (errorFromRpc); these are what the SDK itself finds wrong with what a node served.
 */
import { BaseError } from '../core/errors.ts';
import type { EquivocationProofJson, SignedHeaderJson } from '../wire/json.ts';

/**
 * Something a node served does not verify: a header not signed by the leader of its view, a submission whose
 * signature does not recover to its sender, an entry chain or Merkle root that does not match the signed header,
 * a receipt or inclusion proof that does not check, an answer for another log. Nothing it covers was returned
 * or yielded. `details.url` names the node.
 */
export class VerificationError extends BaseError {
  static { this.prototype.name = 'VerificationError'; }
}

/**
 * A node served a validly signed header that contradicts the trust anchor: a different header for a height
 * already verified (`conflict`), or a header that does not extend the last verified one (`fork`). Carries both
 * signed headers and, when both are signed by the leader of their view (always, today: every served header is
 * checked before it is compared), the equivocation proof that `sequencer slash` and SequencerBond.slash take.
 */
export class InconsistentLogError extends VerificationError {
  static { this.prototype.name = 'InconsistentLogError'; }
  /** The header the client had verified (the anchor's); null when the anchor is the log's start. */
  readonly held: SignedHeaderJson | null;
  /** The node's contradicting header. */
  readonly served: SignedHeaderJson;
  readonly proof: EquivocationProofJson | null;

  constructor(message: string, args: { url: string; held: SignedHeaderJson | null; served: SignedHeaderJson; proof: EquivocationProofJson | null }) {
    super(message, { details: { url: args.url, held: args.held, served: args.served, proof: args.proof } });
    this.held = args.held;
    this.served = args.served;
    this.proof = args.proof;
  }
}

/**
 * The watcher (soft finality) was handed entries of batches a later view replaced: the node serves, at the height
 * after the last verified header, a header of a later view that does not extend it. That is how a view change ends
 * soft batches no quorum locked (docs/protocol.md §View change), not a proof of a lie: the two headers are of different
 * views (nor is a re-proposal of the anchor's own header, the same entries under the new view's header, which also
 * lands here). The stream ends: entries of the anchor's batch, and of soft batches below it, may have been replaced.
 * Resume from the last final height (a certificate-backed point), or follow with `finality: 'final'`, which never
 * hands out replaceable entries.
 */
export class EntriesReplacedError extends BaseError {
  static { this.prototype.name = 'EntriesReplacedError'; }
  /** The verified header the served one does not extend (the watcher's anchor). */
  readonly held: SignedHeaderJson;
  /** The later view's header. */
  readonly served: SignedHeaderJson;
  /** The anchor's height: the highest batch whose entries the watcher handed out and the log may no longer hold. */
  readonly fromHeight: number;

  constructor(message: string, args: { url: string; held: SignedHeaderJson; served: SignedHeaderJson; fromHeight: number }) {
    super(message, { details: { url: args.url, fromHeight: args.fromHeight } });
    this.held = args.held;
    this.served = args.served;
    this.fromHeight = args.fromHeight;
  }
}
