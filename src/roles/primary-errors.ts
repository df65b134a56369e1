/**
 * The errors of append forwarding (docs/protocol.md §Append forwarding), both ways: how a primary answers a
 * forwarded append that fails, and how a replica restates that answer as its own error.
 */
import { toHex } from '../core/bytes.ts';
import {
  BadSignatureError, ErrorCode, ExpiredError, InvalidParamsError, NonceReplayedError, NotAllowedError, NotReadyError, OverloadedError,
  PrimaryUnavailableError, SequencerError, StorageUnavailableError,
} from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Submission } from '../core/submission.ts';

/** A primary's answer to a forwarded append, as the replica decodes it (nothing in it is trusted). */
export type PrimaryReply = { result?: unknown; error?: { code?: unknown; message?: unknown } };

/** The error a primary sends back for a failed forwarded append: documented errors as they are, anything else as internal. */
export function appendErrorReply(e: unknown, log: Logger): { error: { code: number; message: string; data?: unknown } } {
  if (e instanceof SequencerError) return { error: { code: e.code, message: e.message, data: e.data } };
  log.error('forwarded append failed', { error: (e as Error).message });
  return { error: { code: -32603, message: 'internal error' } };
}

/** The replica's own error for each code a primary answers an append with (undefined: the answer makes no sense). */
const RESTATED: Partial<Record<number, (s: Submission) => SequencerError | undefined>> = {
  [ErrorCode.InvalidParams]: () => new InvalidParamsError('the primary refused the submission as malformed'),
  [ErrorCode.NotAllowed]: (s) => new NotAllowedError(toHex(s.sender)),
  [ErrorCode.BadSignature]: () => new BadSignatureError('the primary refused the submission\'s signature'),
  [ErrorCode.NonceReplayed]: (s) => new NonceReplayedError(toHex(s.sender), s.nonce),
  [ErrorCode.Expired]: (s) => (s.expiry === 0 ? undefined : new ExpiredError(s.expiry, Math.floor(Date.now() / 1000))),
  [ErrorCode.TooLarge]: () => new SequencerError(ErrorCode.TooLarge, 'the submission exceeds a limit of the primary'),
  [ErrorCode.Overloaded]: () => new OverloadedError(),
  [ErrorCode.Halted]: () => new SequencerError(ErrorCode.Halted, 'the primary has halted: it no longer sequences'),
  [ErrorCode.NotReady]: () => new NotReadyError('the primary is not ready to sequence yet (catching up after a restart)'),
  [ErrorCode.StorageUnavailable]: () => new StorageUnavailableError('the primary\'s store cannot take writes', 'reported by the primary'),
};

/**
 * The primary's refusal restated by this replica: the code picks the error, the message and data are the
 * replica's own (from the submission it holds), so nothing a peer wrote reaches a client as this node's answer.
 * The primary's own text travels only as `data.primaryMessage`. Codes a primary never sends for an append
 * mean the answer cannot be trusted: primary unavailable.
 */
export function restatePrimaryError(error: PrimaryReply['error'], s: Submission): SequencerError {
  const own = (typeof error?.code === 'number' ? RESTATED[error.code]?.(s) : undefined)
    ?? new PrimaryUnavailableError('the primary answered with an unexpected error');
  const primaryMessage = typeof error?.message === 'string' ? error.message.slice(0, 500) : undefined;
  return new SequencerError(own.code, own.message, primaryMessage === undefined ? own.data : { ...own.data, primaryMessage });
}
