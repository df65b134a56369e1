/**
 * Errors with stable codes. Application codes live in JSON-RPC's server range (-32000..-32099) and are
 * listed in docs/protocol.md §Errors; RPC adapters map `code` and `data` straight onto the error object.
 */
export class SequencerError extends Error {
  readonly code: number;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: number, message: string, data?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

export const ErrorCode = {
  InvalidParams: -32602,
  NotAllowed: -32001,
  BadSignature: -32002,
  NonceReplayed: -32003,
  Expired: -32004,
  TooLarge: -32005,
  Overloaded: -32006,
  NotFound: -32007,
  PrimaryUnavailable: -32008,
  Halted: -32009,
  NotReady: -32010,
  BudgetExceeded: -32011,
  StorageUnavailable: -32012,
} as const;

export class InvalidParamsError extends SequencerError {
  override name = 'InvalidParamsError';
  constructor(message: string) { super(ErrorCode.InvalidParams, message); }
}
export class NotAllowedError extends SequencerError {
  override name = 'NotAllowedError';
  constructor(sender: string) { super(ErrorCode.NotAllowed, `sender ${sender} is not allowed to append to this log`, { sender }); }
}
export class BadSignatureError extends SequencerError {
  override name = 'BadSignatureError';
  constructor(reason: string) { super(ErrorCode.BadSignature, `bad signature: ${reason}`); }
}
export class NonceReplayedError extends SequencerError {
  override name = 'NonceReplayedError';
  constructor(sender: string, nonce: bigint) {
    super(ErrorCode.NonceReplayed, `nonce ${nonce} was already used by ${sender}`, { sender, nonce: nonce.toString() });
  }
}
export class ExpiredError extends SequencerError {
  override name = 'ExpiredError';
  constructor(expiry: number, now: number) { super(ErrorCode.Expired, `submission expired at ${expiry} (now ${now})`, { expiry, now }); }
}
export class TooLargeError extends SequencerError {
  override name = 'TooLargeError';
  constructor(what: string, limit: number) { super(ErrorCode.TooLarge, `${what} exceeds the limit of ${limit}`, { limit }); }
}
export class OverloadedError extends SequencerError {
  override name = 'OverloadedError';
  constructor() { super(ErrorCode.Overloaded, 'sequencer overloaded, retry later'); }
}
export class NotFoundError extends SequencerError {
  override name = 'NotFoundError';
  constructor(what: string) { super(ErrorCode.NotFound, `${what} not found`); }
}
export class PrimaryUnavailableError extends SequencerError {
  override name = 'PrimaryUnavailableError';
  constructor(reason: string) { super(ErrorCode.PrimaryUnavailable, `primary unavailable: ${reason}`); }
}
export class HaltedError extends SequencerError {
  override name = 'HaltedError';
  constructor(reason: string) { super(ErrorCode.Halted, `node halted: ${reason}`); }
}
/** A primary that has not yet learnt from its peers where its log stands (docs/protocol.md §Primary start-up): retry later. */
export class NotReadyError extends SequencerError {
  override name = 'NotReadyError';
  constructor(reason: string) { super(ErrorCode.NotReady, `not ready: ${reason}`); }
}

/**
 * One HTTP request asked for more than its response budget (docs/protocol.md §JSON-RPC API, limits): the call was not
 * run, or its result was dropped; nothing changed. Send it again in a request of its own, or ask for less.
 */
export class BudgetExceededError extends SequencerError {
  override name = 'BudgetExceededError';
  constructor(what: string, limit: number) {
    super(ErrorCode.BudgetExceeded, `response budget of this HTTP request exceeded: ${what} (limit ${limit})`, { limit });
  }
}

/**
 * The primary's store cannot take writes (disk full, too many open files, an I/O error: docs/protocol.md
 * §Storage layout): transient, the node recovers by itself; retry later. Sending the very same signed
 * submission again is always safe, and also tells whether one whose batch failed to be written got sequenced.
 */
export class StorageUnavailableError extends SequencerError {
  override name = 'StorageUnavailableError';
  constructor(message: string, reason: string) { super(ErrorCode.StorageUnavailable, `storage unavailable, retry later: ${message}`, { reason }); }
}

/** Why a replica refused a batch. Never sent over RPC; it decides the GossipSub verdict and is logged. */
export class BatchRejectedError extends Error {
  override name = 'BatchRejectedError';
}

/**
 * A batch that is not valid yet by this node's clock (its timestamp is too far ahead). Clock-dependent, so it
 * is ignored rather than rejected: the relaying peer is not penalised, and sync retries it later.
 */
export class BatchNotYetValidError extends BatchRejectedError {
  override name = 'BatchNotYetValidError';
}
