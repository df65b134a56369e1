/**
 * createSequencerClient: the SDK's entry point (docs/sdk.md), in viem's style: a client bound to one log and its
 * nodes, whose actions (one file each under actions/) return typed results that were verified before they are
 * returned, and throw the project's error classes.
 */
import type { EntryJson, ReceiptJson } from '../wire/json.ts';
import type { BatchJson, EntryProofJson, FinalityCertificateJson, FinalReceiptJson, InfoJson, VerifyReceiptJson } from '../wire/rpc-types.ts';
import { append, type AppendArgs } from './actions/append.ts';
import { getBatch } from './actions/getBatch.ts';
import { getCertificate } from './actions/getCertificate.ts';
import { getProof } from './actions/getProof.ts';
import { info } from './actions/info.ts';
import { read } from './actions/read.ts';
import { verifyReceipt } from './actions/verifyReceipt.ts';
import { watchEntries, type WatchEntriesCallbacks } from './actions/watchEntries.ts';
import { createContext, type ClientContext, type SequencerClientConfig } from './context.ts';
import type { EntryWatcher, WatchEntriesOptions } from './entry-watcher.ts';

export interface SequencerClient {
  /** The log, its rules and its nodes, as the actions see them. */
  readonly context: ClientContext;
  append(args: AppendArgs): Promise<FinalReceiptJson>;
  read(args: { fromSeq: number; limit?: number }): Promise<EntryJson[]>;
  getBatch(height: number): Promise<BatchJson>;
  getProof(seq: number): Promise<EntryProofJson>;
  getCertificate(height: number): Promise<FinalityCertificateJson>;
  info(): Promise<InfoJson>;
  verifyReceipt(receipt: ReceiptJson | FinalReceiptJson): Promise<VerifyReceiptJson>;
  watchEntries(opts: WatchEntriesOptions & WatchEntriesCallbacks): () => void;
  watchEntries(opts?: WatchEntriesOptions): EntryWatcher;
}

export function createSequencerClient(config: SequencerClientConfig): SequencerClient {
  const context = createContext(config);
  return {
    context,
    append: (args) => append(context, args),
    read: (args) => read(context, args),
    getBatch: (height) => getBatch(context, height),
    getProof: (seq) => getProof(context, seq),
    getCertificate: (height) => getCertificate(context, height),
    info: () => info(context),
    verifyReceipt: (receipt) => verifyReceipt(context, receipt),
    watchEntries: ((opts?: WatchEntriesOptions & Partial<WatchEntriesCallbacks>) => watchEntries(context, opts as WatchEntriesOptions & WatchEntriesCallbacks)) as SequencerClient['watchEntries'],
  };
}
