/** The package's library entry (package.json "exports": "."): the client SDK, documented in docs/sdk.md. */
export { createSequencerClient, type SequencerClient } from './create-client.ts';
export type { SequencerClientConfig, ClientContext, BytesLike } from './context.ts';
export type { Account, AppendArgs } from './actions/append.ts';
export type { WatchEntriesCallbacks } from './actions/watchEntries.ts';
export { EntryWatcher, type WatchEntriesOptions } from './entry-watcher.ts';
export type { TrustAnchorJson } from './trust-anchor.ts';
export { EntriesReplacedError, InconsistentLogError, VerificationError } from './errors.ts';
export { RpcClient, RpcError } from './rpc-client.ts';
export { IngestClient, IngestConnectionError, ingestUrl, type IngestClientOptions } from './ingest-client.ts';
export { SubmissionSigner, timeNonces } from './submission-signer.ts';
export {
  BaseError, SequencerError, InvalidParamsError, NotAllowedError, BadSignatureError, NonceReplayedError, ExpiredError, TooLargeError,
  OverloadedError, NotFoundError, PrimaryUnavailableError, HaltedError, NotReadyError, BudgetExceededError, StorageUnavailableError,
  NotFinalYetError,
} from '../core/errors.ts';
export type {
  BatchJson, EntryJson, EntryProofJson, EquivocationProofJson, HeaderJson, InfoJson, ReceiptJson, SignedHeaderJson, SubmissionJson, VerifyReceiptJson,
  AppendOptions, CertificateJson, Finality, FinalityCertificateJson, FinalReceiptJson,
} from '../wire/rpc-types.ts';
