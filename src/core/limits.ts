/**
 * Protocol limits, and the checks against them. Replicas enforce the same numbers, so they are part of the
 * protocol (docs/protocol.md §Limits). Every place that bounds a submission or a batch (the rule book,
 * core/rules.ts; the binary decoders, which refuse over-limit input while parsing, as a bound on the work an
 * attacker can cause) calls the checks here, so the numbers and the way they are compared live in one place.
 */
import { DecodeError } from './bytes.ts';

export const MAX_TX_BYTES = 64 * 1024;
export const MAX_TXS_PER_SUBMISSION = 1024;
export const MAX_SUBMISSION_BYTES = 1024 * 1024;
export const MAX_BATCH_TXS = 16384;
/** Below GossipSub's 4 MiB cap on one RPC frame, which carries a batch plus its envelope. */
export const MAX_BATCH_BYTES = 3 * 1024 * 1024;
/** A batch header may be at most this far ahead of the verifier's clock. */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** What a limit bounds, in the words of the primary's TooLargeError (`<limit> exceeds the limit of <max>`). */
export type LimitName =
  | 'transactions per submission'
  | 'transaction size in bytes'
  | 'submission size in bytes'
  | 'transactions per batch'
  | 'batch size in bytes';

/** A submission or batch beyond a protocol limit, or a submission without transactions. */
export type LimitViolation =
  | { readonly kind: 'empty' }
  | { readonly kind: 'too-large'; readonly limit: LimitName; readonly max: number };

function over(limit: LimitName, max: number, value: number): LimitViolation | null {
  return value > max ? { kind: 'too-large', limit, max } : null;
}

/** A submission carries 1 to MAX_TXS_PER_SUBMISSION transactions. */
export function txCountViolation(count: number): LimitViolation | null {
  return count === 0 ? { kind: 'empty' } : over('transactions per submission', MAX_TXS_PER_SUBMISSION, count);
}

export function txSizeViolation(bytes: number): LimitViolation | null {
  return over('transaction size in bytes', MAX_TX_BYTES, bytes);
}

/** `bytes`: the submission's wire size (core/submission.ts submissionSize). */
export function submissionSizeViolation(bytes: number): LimitViolation | null {
  return over('submission size in bytes', MAX_SUBMISSION_BYTES, bytes);
}

export function batchTxsViolation(txs: number): LimitViolation | null {
  return over('transactions per batch', MAX_BATCH_TXS, txs);
}

/** `bytes`: the batch's wire size. */
export function batchSizeViolation(bytes: number): LimitViolation | null {
  return over('batch size in bytes', MAX_BATCH_BYTES, bytes);
}

const EXCEEDED: Record<LimitName, (max: number) => string> = {
  'transactions per submission': (max) => `more than ${max} transactions in a submission`,
  'transaction size in bytes': (max) => `transaction larger than ${max} bytes`,
  'submission size in bytes': (max) => `submission larger than ${max} bytes`,
  'transactions per batch': (max) => `more than ${max} transactions in a batch`,
  'batch size in bytes': (max) => `batch larger than ${max} bytes`,
};

/** The reason a decoder or verifier gives for a limit violation. */
export function describeLimitViolation(v: LimitViolation): string {
  return v.kind === 'empty' ? 'a submission needs at least one transaction' : EXCEEDED[v.limit](v.max);
}

/** Decoders refuse over-limit input while parsing, before reading what a bogus count promises. Throws DecodeError. */
export function refuseOverLimit(v: LimitViolation | null): void {
  if (v) throw new DecodeError(describeLimitViolation(v));
}
