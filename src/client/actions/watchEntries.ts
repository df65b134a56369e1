/** watchEntries: a verified live stream of the log's entries, as an async iterator or with a callback (docs/sdk.md §watchEntries). */
import type { EntryJson } from '../../wire/json.ts';
import type { ClientContext } from '../context.ts';
import { EntryWatcher, type WatchEntriesOptions } from '../entry-watcher.ts';

export interface WatchEntriesCallbacks {
  /** Each verified entry, in sequence order; `watcher.anchor` is where to resume after it. */
  readonly onEntry: (entry: EntryJson, watcher: EntryWatcher) => void | Promise<void>;
  /** Why the stream ended (VerificationError, InconsistentLogError, or an error thrown by onEntry); never called after unwatch. */
  readonly onError?: (error: unknown) => void;
}

/** The callback form (as viem's watchBlocks): returns the unwatch function. */
export function watchEntries(ctx: ClientContext, opts: WatchEntriesOptions & WatchEntriesCallbacks): () => void;
/** The async iterator form: `for await (const entry of watcher)`, `watcher.anchor`, `watcher.stop()`. */
export function watchEntries(ctx: ClientContext, opts?: WatchEntriesOptions): EntryWatcher;
export function watchEntries(ctx: ClientContext, opts: WatchEntriesOptions & Partial<WatchEntriesCallbacks> = {}): EntryWatcher | (() => void) {
  const watcher = new EntryWatcher(ctx, opts);
  const { onEntry, onError } = opts;
  if (!onEntry) return watcher;
  let unwatched = false;
  void (async () => {
    try {
      for await (const entry of watcher) await onEntry(entry, watcher);
    } catch (e) {
      if (!unwatched) onError?.(e);
    }
  })();
  return () => {
    unwatched = true;
    watcher.stop();
  };
}
