/**
 * The project's errors: one root, BaseError (modelled on viem's), from which every error the project raises
 * descends, so a caller tells the project's failures from anything else with one `instanceof`.
 *
 * - `code` is stable: for the errors a node answers over JSON-RPC (SequencerError and its subclasses) it is the
 *   JSON-RPC code listed in docs/protocol.md §Errors; for the others, the error's name (e.g. 'DecodeError').
 * - `message` is short, one line, and is what JSON-RPC sends; structured facts go in `details` (JSON-RPC `data`).
 * - `cause` is the standard Error cause: the lower-level failure this one explains.
 *
 * The coded errors are rebuilt on the client side by errorFromRpc, so an SDK user can `instanceof` them. A rebuilt
 * error must be an instance of its class without running that class's constructor (the constructor composes a
 * message from arguments the wire does not carry), so the coded classes set `name` on their prototype rather than
 * as an instance field: a rebuilt error then still has its class's name.
 */

export type ErrorDetails = Record<string, unknown>;

export interface BaseErrorOptions {
  /** Stable code; defaults to the error's name. */
  readonly code?: number | string;
  /** Structured facts about the failure (sent as JSON-RPC `data` by the coded errors). */
  readonly details?: ErrorDetails;
  /** The lower-level failure this error explains. */
  readonly cause?: unknown;
}

export class BaseError extends Error {
  static { this.prototype.name = 'BaseError'; }
  readonly details: ErrorDetails | undefined;
  readonly #code: number | string | undefined;

  constructor(message: string, options: BaseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.#code = options.code;
    this.details = options.details;
  }

  /** Read when asked, not at construction: a subclass that sets `name` as a field sets it after this constructor. */
  get code(): number | string {
    return this.#code ?? this.name;
  }
}

/**
 * An error a node answers over JSON-RPC: `code` is its JSON-RPC code and `data` its JSON-RPC data (the
 * details). Application codes live in JSON-RPC's server range (-32000..-32099) and are listed in
 * docs/protocol.md §Errors; the RPC dispatcher maps `code`, `message` and `data` straight onto the error object.
 * Unknown codes are rebuilt as this class (the SDK exports it also as RpcError).
 */
export class SequencerError extends BaseError {
  static { this.prototype.name = 'SequencerError'; }

  constructor(code: number, message: string, data?: ErrorDetails, options: { cause?: unknown } = {}) {
    super(message, { code, details: data, cause: options.cause });
  }

  override get code(): number {
    return super.code as number;
  }

  get data(): ErrorDetails | undefined {
    return this.details;
  }
}

export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
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
  NotFinalYet: -32013,
} as const;

export class InvalidParamsError extends SequencerError {
  static { this.prototype.name = 'InvalidParamsError'; }
  constructor(message: string) { super(ErrorCode.InvalidParams, message); }
}
export class NotAllowedError extends SequencerError {
  static { this.prototype.name = 'NotAllowedError'; }
  constructor(sender: string) { super(ErrorCode.NotAllowed, `sender ${sender} is not allowed to append to this log`, { sender }); }
}
export class BadSignatureError extends SequencerError {
  static { this.prototype.name = 'BadSignatureError'; }
  constructor(reason: string) { super(ErrorCode.BadSignature, `bad signature: ${reason}`); }
}
export class NonceReplayedError extends SequencerError {
  static { this.prototype.name = 'NonceReplayedError'; }
  constructor(sender: string, nonce: bigint) {
    super(ErrorCode.NonceReplayed, `nonce ${nonce} was already used by ${sender}`, { sender, nonce: nonce.toString() });
  }
}
export class ExpiredError extends SequencerError {
  static { this.prototype.name = 'ExpiredError'; }
  constructor(expiry: number, now: number) { super(ErrorCode.Expired, `submission expired at ${expiry} (now ${now})`, { expiry, now }); }
}
export class TooLargeError extends SequencerError {
  static { this.prototype.name = 'TooLargeError'; }
  constructor(what: string, limit: number) { super(ErrorCode.TooLarge, `${what} exceeds the limit of ${limit}`, { limit }); }
}
export class OverloadedError extends SequencerError {
  static { this.prototype.name = 'OverloadedError'; }
  constructor() { super(ErrorCode.Overloaded, 'sequencer overloaded, retry later'); }
}
export class NotFoundError extends SequencerError {
  static { this.prototype.name = 'NotFoundError'; }
  constructor(what: string) { super(ErrorCode.NotFound, `${what} not found`); }
}
export class PrimaryUnavailableError extends SequencerError {
  static { this.prototype.name = 'PrimaryUnavailableError'; }
  constructor(reason: string) { super(ErrorCode.PrimaryUnavailable, `primary unavailable: ${reason}`); }
}
export class HaltedError extends SequencerError {
  static { this.prototype.name = 'HaltedError'; }
  constructor(reason: string) { super(ErrorCode.Halted, `node halted: ${reason}`); }
}
/** A primary that has not yet learnt from its peers where its log stands (docs/protocol.md §Primary start-up): retry later. */
export class NotReadyError extends SequencerError {
  static { this.prototype.name = 'NotReadyError'; }
  constructor(reason: string) { super(ErrorCode.NotReady, `not ready: ${reason}`); }
}

/**
 * One HTTP request asked for more than its response budget (docs/protocol.md §JSON-RPC API, limits): the call was not
 * run, or its result was dropped; nothing changed. Send it again in a request of its own, or ask for less.
 */
export class BudgetExceededError extends SequencerError {
  static { this.prototype.name = 'BudgetExceededError'; }
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
  static { this.prototype.name = 'StorageUnavailableError'; }
  constructor(message: string, reason: string) { super(ErrorCode.StorageUnavailable, `storage unavailable, retry later: ${message}`, { reason }); }
}

/**
 * sequencer_append with `wait: "final"` (docs/protocol.md §JSON-RPC API): the submission is sequenced, and its receipt
 * is in `data.receipt`, but its height was not final within `finalTimeoutMs`. Nothing is lost: the receipt is the
 * leader's signed statement; sending the same call again resumes the wait (an identical submission answers with its
 * original receipt: §Errors, idempotent retries), and sequencer_getCertificate for the receipt's height tells too.
 */
export class NotFinalYetError extends SequencerError {
  static { this.prototype.name = 'NotFinalYetError'; }
  constructor(timeoutMs: number, receipt: unknown) { super(ErrorCode.NotFinalYet, `not final yet after ${timeoutMs} ms`, { receipt }); }
}

/** Why a replica refused a batch. Never sent over RPC; it decides the GossipSub verdict and is logged. */
/**
 * A caller passed a value outside what a function accepts (malformed hex, a range outside a tree, an empty
 * validator set): a programming or configuration mistake, raised before anything happens.
 */
export class InvalidArgumentError extends BaseError {
  static { this.prototype.name = 'InvalidArgumentError'; }
}

/** An internal invariant did not hold (an encoder wrote a different size than it reserved): a bug, never input. */
export class InvariantError extends BaseError {
  static { this.prototype.name = 'InvariantError'; }
}

export class BatchRejectedError extends BaseError {
  static { this.prototype.name = 'BatchRejectedError'; }
}

/**
 * A batch that is not valid yet by this node's clock (its timestamp is too far ahead). Clock-dependent, so it
 * is ignored rather than rejected: the relaying peer is not penalised, and sync retries it later.
 */
export class BatchNotYetValidError extends BatchRejectedError {
  static { this.prototype.name = 'BatchNotYetValidError'; }
}

/**
 * Why a validator's vote was refused (docs/protocol.md §Vote). Never sent over RPC: it decides the GossipSub verdict
 * and is logged. `code` names the failed check:
 * - `vote-malformed`: not the binary form (truncated, trailing bytes, kind not 1 or 2, a u64 above 2^53-1);
 * - `vote-signature`: the signature is malformed (length, v, high s) or recovers to no key;
 * - `vote-not-member`: it recovers to an address outside the validator set (a stranger's key, or a member's
 *   signature over another vote: the two cannot be told apart, both recover to an unknown address);
 * - `vote-wrong-signer`: it recovers to a member other than the one the message names.
 */
export class VoteRejectedError extends BaseError {
  static { this.prototype.name = 'VoteRejectedError'; }
  constructor(code: 'vote-malformed' | 'vote-signature' | 'vote-not-member' | 'vote-wrong-signer', message: string, options: { details?: ErrorDetails; cause?: unknown } = {}) {
    super(message, { code, ...options });
  }
}

/**
 * Why a certificate was refused (docs/protocol.md §Certificate). `code` names the failed check:
 * - `certificate-malformed`: not the binary form (length, kind, padding bits of the bitmap, signature count);
 * - `certificate-membership`: made for a validator set of another size;
 * - `certificate-quorum`: fewer signers than the quorum;
 * - `certificate-signature`: a signature is malformed (length, v, high s) or recovers to no key;
 * - `certificate-duplicate-signer`: one member's signature stands under two bits;
 * - `certificate-signer-order`: the signers' signatures are all there, not in ascending validator index;
 * - `certificate-wrong-signer`: a signature recovers to a member whose bit is not set;
 * - `certificate-not-member`: a signature recovers to an address outside the set (a stranger's key, or a
 *   member's signature over another vote).
 */
export class CertificateRejectedError extends BaseError {
  static { this.prototype.name = 'CertificateRejectedError'; }
  constructor(
    code: 'certificate-malformed' | 'certificate-membership' | 'certificate-quorum' | 'certificate-signature'
      | 'certificate-duplicate-signer' | 'certificate-signer-order' | 'certificate-wrong-signer' | 'certificate-not-member',
    message: string, options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(message, { code, ...options });
  }
}

/**
 * Why a finality certificate was refused (docs/protocol.md §Finality certificate). `code` names the failed check:
 * - `finality-chain-length`: more headers in `chain` than MAX_FINALITY_CHAIN;
 * - `finality-log`: a header of another log;
 * - `finality-heights`: the headers are not at consecutive heights from `height`;
 * - `finality-link`: a header's prevHeaderHash is not its predecessor's hash;
 * - `finality-header-hash`: `headerHash` is not the header's hash, or the certificate is not for the last header;
 * - `finality-not-commit`: the certificate is a lock certificate (kind 1), not a commit certificate;
 * - `finality-certificate`: the commit certificate does not check (its CertificateRejectedError is the cause).
 */
export class FinalityCertificateRejectedError extends BaseError {
  static { this.prototype.name = 'FinalityCertificateRejectedError'; }
  constructor(
    code: 'finality-chain-length' | 'finality-log' | 'finality-heights' | 'finality-link' | 'finality-header-hash' | 'finality-not-commit' | 'finality-certificate',
    message: string, options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(message, { code, ...options });
  }
}

/**
 * A validator's own signing request that the safety rules forbid (docs/protocol.md §Safety state (validators)):
 * nothing was signed or written. `code` names the rule; a correct node never sees it except when told to sign
 * something contradicting what it already signed (a bug, a byzantine leader, or state lost and restored).
 */
export type SafetyRule =
  | 'wrong-view' | 'timed-out' | 'below-floor' | 'not-increasing' | 'not-consecutive' | 'fork' | 'unjustified'
  | 'conflict' | 'not-locked' | 'not-stored' | 'view-regression';

export class SafetyRuleError extends BaseError {
  static { this.prototype.name = 'SafetyRuleError'; }
  constructor(code: SafetyRule, message: string, details?: ErrorDetails) {
    super(message, { code, details });
  }
}

type CodedErrorClass = abstract new (...args: never[]) => SequencerError;

/** The class of each code a node answers with; other codes are rebuilt as SequencerError itself. */
const CODED_ERROR_CLASSES: ReadonlyMap<number, CodedErrorClass> = new Map<number, CodedErrorClass>([
  [ErrorCode.InvalidParams, InvalidParamsError],
  [ErrorCode.NotAllowed, NotAllowedError],
  [ErrorCode.BadSignature, BadSignatureError],
  [ErrorCode.NonceReplayed, NonceReplayedError],
  [ErrorCode.Expired, ExpiredError],
  [ErrorCode.TooLarge, TooLargeError],
  [ErrorCode.Overloaded, OverloadedError],
  [ErrorCode.NotFound, NotFoundError],
  [ErrorCode.PrimaryUnavailable, PrimaryUnavailableError],
  [ErrorCode.Halted, HaltedError],
  [ErrorCode.NotReady, NotReadyError],
  [ErrorCode.BudgetExceeded, BudgetExceededError],
  [ErrorCode.StorageUnavailable, StorageUnavailableError],
  [ErrorCode.NotFinalYet, NotFinalYetError],
]);

/**
 * The error a JSON-RPC error object stands for, as an instance of its class (NonceReplayedError for -32003, …)
 * with the node's own message and data; a code this project does not define gives a SequencerError. `data` is an
 * object in every answer of a node (docs/protocol.md §Errors); anything else a server sends is kept as `{value}`.
 */
export function errorFromRpc(code: number, message: string, data?: unknown): SequencerError {
  const details = data === undefined ? undefined
    : typeof data === 'object' && data !== null && !Array.isArray(data) ? data as ErrorDetails
    : { value: data };
  // The class's constructor composes its message from arguments the wire does not carry: build the instance with
  // SequencerError's constructor and the class as new.target (its prototype, hence its name and instanceof).
  return Reflect.construct(SequencerError, [code, message, details], CODED_ERROR_CLASSES.get(code) ?? SequencerError);
}
