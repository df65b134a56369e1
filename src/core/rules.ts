/**
 * The rule book: whether a submission may enter the log, and if not, why. The primary judges a submission when
 * it admits it and again, for expiry, against the timestamp of the batch it seals it into; replicas judge every
 * submission of a batch they verify (core/batch.ts verifyBatchBody) and every nonce against their own history.
 * All of them call the functions here, so they cannot drift apart (if they did, the only symptom would be
 * replicas rejecting the primary's batches). Each caller turns a Violation into its own error: the primary into
 * the RPC error a client gets (admissionError), a verifier into BatchRejectedError(describeViolation).
 * docs/protocol.md §Acceptance rules and §Verification describe these rules.
 */
import { equalBytes, toHex, type Bytes } from './bytes.ts';
import {
  BadSignatureError, ExpiredError, InvalidParamsError, NonceReplayedError, NotAllowedError, TooLargeError, type SequencerError,
} from './errors.ts';
import { describeLimitViolation, submissionSizeViolation, txCountViolation, txSizeViolation, type LimitViolation } from './limits.ts';
import type { Membership } from './membership.ts';
import { recoverAddress } from './signature.ts';
import { submissionSize, type Submission } from './submission.ts';

/** What a node needs to judge headers, batches and submissions of one log. */
export interface LogRules {
  readonly logId: Bytes;
  /** EIP-712 domain separator of the log. */
  readonly separator: Bytes;
  /** Who signs the log's headers: the leader of each view (today one member, the primary). */
  readonly membership: Membership;
  isAllowed(sender: Uint8Array): boolean;
}

/** Why a submission may not enter the log. */
export type Violation =
  | LimitViolation
  | { readonly kind: 'not-allowed'; readonly sender: Bytes }
  /** `at`: the time judged against (unix ms). */
  | { readonly kind: 'expired'; readonly sender: Bytes; readonly expiry: number; readonly at: number }
  /** `signer`: the address the signature recovers to, when it recovers at all; else `reason` says why not. */
  | { readonly kind: 'bad-signature'; readonly sender: Bytes; readonly signer: Bytes | null; readonly reason: string }
  /** `height`: where the nonce was used before; null when it is repeated within one batch. */
  | { readonly kind: 'nonce-replayed'; readonly sender: Bytes; readonly nonce: bigint; readonly height: number | null };

export interface SubmissionContext {
  /**
   * The time the submission's expiry is judged against (unix ms): the primary's clock when it admits the
   * submission; the batch's header timestamp when it seals or verifies it, so both reach the same verdict.
   */
  readonly at: number;
  /** The EIP-712 digest the sender signed (submissionDigest): computed once by the caller, who keeps it. */
  readonly digest: Bytes;
}

/** The protocol limits of one submission, in the order a decoder meets them. */
export function limitViolation(s: Submission): LimitViolation | null {
  const count = txCountViolation(s.transactions.length);
  if (count) return count;
  for (const tx of s.transactions) {
    const size = txSizeViolation(tx.byteLength);
    if (size) return size;
  }
  return submissionSizeViolation(submissionSize(s));
}

/** An expiry of 0 never expires; otherwise the submission is good up to and including second `expiry`. */
export function expiryViolation(s: Submission, at: number): Violation | null {
  return s.expiry !== 0 && s.expiry * 1000 < at ? { kind: 'expired', sender: s.sender, expiry: s.expiry, at } : null;
}

/**
 * Everything about one submission that does not depend on the log's history, in this order (a verifier reports
 * the first failure): limits, allowlist, expiry, signature. Nonce uniqueness is judged by `nonceViolation`
 * once the caller has looked the nonce up.
 */
export function judgeSubmission(rules: LogRules, s: Submission, ctx: SubmissionContext): Violation | null {
  return limitViolation(s) ?? judgeWithinLimits(rules, s, ctx);
}

/**
 * judgeSubmission's steps after the limits (allowlist, expiry, signature), for a caller that has just checked the
 * limits itself: the primary, which puts its pending bound between the limits and the costly signature recovery.
 */
export function judgeWithinLimits(rules: LogRules, s: Submission, ctx: SubmissionContext): Violation | null {
  if (!rules.isAllowed(s.sender)) return { kind: 'not-allowed', sender: s.sender };
  const expired = expiryViolation(s, ctx.at);
  if (expired) return expired;
  let signer: Bytes;
  try {
    signer = recoverAddress(ctx.digest, s.signature);
  } catch (e) {
    return { kind: 'bad-signature', sender: s.sender, signer: null, reason: (e as Error).message };
  }
  return equalBytes(signer, s.sender) ? null : { kind: 'bad-signature', sender: s.sender, signer, reason: 'signed by another key' };
}

/**
 * A (sender, nonce) pair is used once, forever. `usedAt`: the height of the batch that used it before
 * (undefined: never), or 'in-batch' when an earlier submission of the same batch carries it.
 */
export function nonceViolation(s: Submission, usedAt: number | 'in-batch' | undefined): Violation | null {
  if (usedAt === undefined) return null;
  return { kind: 'nonce-replayed', sender: s.sender, nonce: s.nonce, height: usedAt === 'in-batch' ? null : usedAt };
}

/** The reason a verifier gives when it rejects a batch for this violation (BatchRejectedError's message). */
export function describeViolation(v: Violation): string {
  switch (v.kind) {
    case 'empty':
    case 'too-large':
      return describeLimitViolation(v);
    case 'not-allowed':
      return `sender ${toHex(v.sender)} not allowed`;
    case 'expired':
      return `submission of ${toHex(v.sender)} expired before the batch`;
    case 'bad-signature':
      return v.signer ? `submission signature of ${toHex(v.sender)} does not match` : `submission signature: ${v.reason}`;
    case 'nonce-replayed':
      return v.height === null ? `nonce ${v.nonce} repeated in the batch` : `nonce ${v.nonce} of ${toHex(v.sender)} was used at height ${v.height}`;
  }
}

/** The error a client gets from the primary for this violation (docs/protocol.md §Errors). */
export function admissionError(v: Violation): SequencerError {
  switch (v.kind) {
    case 'empty':
      return new InvalidParamsError(describeLimitViolation(v));
    case 'too-large':
      return new TooLargeError(v.limit, v.max);
    case 'not-allowed':
      return new NotAllowedError(toHex(v.sender));
    case 'expired':
      return new ExpiredError(v.expiry, Math.floor(v.at / 1000));
    case 'bad-signature':
      return new BadSignatureError(v.signer ? `signed by ${toHex(v.signer)}, not by the sender ${toHex(v.sender)}` : v.reason);
    case 'nonce-replayed':
      return new NonceReplayedError(toHex(v.sender), v.nonce);
  }
}
