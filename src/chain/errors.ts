/** Failures of the chain tooling (the SequencerBond wrapper, the bond watcher, the slasher). */
import { BaseError } from '../core/errors.ts';

/**
 * The chain or the contract did not do what was asked or expected: a dropped transaction, a runner without a
 * provider, a provider on another chain, no contract at the address, a slash mined without its event.
 */
export class ChainError extends BaseError {
  static { this.prototype.name = 'ChainError'; }
}

/** An equivocation proof the contract would refuse (unknown kind, wrong domain, bad signatures) or a malformed one. */
export class InvalidProofError extends ChainError {
  static { this.prototype.name = 'InvalidProofError'; }
}
