/**
 * Durable storage of one log in LevelDB (docs/protocol.md §Storage layout). Batches are stored whole, as
 * they travel on the wire, so a write costs one key per batch and one per submission, not one per entry.
 * Every append is a single synced LevelDB batch (of one log batch, or of several consecutive ones: appendAll):
 * after a crash the store holds such a write entirely or not at all, and the tip record always names the newest
 * complete batch. Only the tip lives in memory, and a Bloom filter of the nonce keys (nonce-filter.ts, about
 * 2 MiB per million, rebuilt by a scan of the nonce index at open) that spares the nonce lookups LevelDB reads
 * for nonces never used, which is nearly all of them.
 *
 * Storage faults (disk full, too many open files, I/O errors) are transient: a failed write puts the store in
 * a fault state in which it refuses every write, and it recovers by itself. LevelDB keeps a failed synced
 * write's error for good (its log file is in an unknown state), and the failed write may or may not show up
 * when the database is opened again, so recovery is a reopen: close, open (LevelDB replays what its log
 * holds), read the tip back from the disk, then a synced probe write; retried with backoff until it works.
 * The database stays open for reads until a scratch file can be written and synced next to it, so a node
 * whose disk is full keeps serving its log while it waits.
 */
import { open as openFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { equalBytes, type Bytes } from '../core/bytes.ts';
import { GENESIS_TIP, decodeBatch, nonceKey, peekSignedHeader, type Tip } from '../core/batch.ts';
import { BaseError } from '../core/errors.ts';
import { subscribe } from '../core/listeners.ts';
import type { Submission } from '../core/submission.ts';
import {
  FINAL_KEY, IDENTITY_KEY, NONCE_KEYS, PROBE_KEY, RECORD_KEYS, TIP_KEY, batchKey, certificateKey, decodeBatchValue, decodeFinal, decodeHeight,
  decodeIdentity, decodeTip, encodeBatchValue, encodeFinal, encodeHeight, encodeIdentity, encodeProbe, encodeTip, heightOfBatchKey,
  heightOfCertificateKey, nonceIndexKey, recordKey, seqIndexKey, type FinalMark,
} from '../wire/storage-records.ts';
import { NonceFilter } from './nonce-filter.ts';
import type { SafetyDatabase, SafetyPut } from './safety-store.ts';

/** Backoff between recovery attempts after a storage fault. */
const RECOVERY_FIRST_DELAY_MS = 100;
const RECOVERY_MAX_DELAY_MS = 2_000;
/** Scratch file written, synced and deleted in the database directory to learn whether the disk takes writes. */
const SCRATCH_FILE = 'write-probe';
const SCRATCH_BYTES = 64 * 1024;
/**
 * LevelDB's memtable size (its default is 4 MiB). Every time the memtable fills, LevelDB writes it out as a
 * table file and syncs it in one go, and the synced batch writes that land meanwhile wait behind that burst on
 * the disk: those waits are the tail of the receipt latency. At 30k tx/s a 4 MiB memtable fills about every
 * second (and feeds a compaction every few); 32 MiB makes these stalls eight times rarer, for up to ~64 MiB
 * more memory (a full memtable and the one being written out).
 */
const WRITE_BUFFER_BYTES = 32 * 1024 * 1024;
// LevelDB's block compression (Snappy) is also off: what the log holds is signed transactions, hashes and
// signatures, which do not compress, and compressing them anyway lengthens every memtable write-out and
// compaction (the stalls above), on the cores the nodes need. Stores written with it still open (LevelDB
// marks each block).

/** Throws unless a file of SCRATCH_BYTES can be created, written and synced in `dir` (then removes it). */
async function probeDisk(dir: string): Promise<void> {
  const path = join(dir, SCRATCH_FILE);
  try {
    const file = await openFile(path, 'w');
    try {
      await file.writeFile(new Uint8Array(SCRATCH_BYTES));
      await file.sync();
    } finally {
      await file.close();
    }
  } finally {
    await rm(path, { force: true });
  }
}

export interface StoredBatch {
  readonly height: number;
  /** Entry hash just before the batch's first entry: what its entry chain starts from. */
  readonly prevEntryHash: Bytes;
  /** The batch in wire form. */
  readonly bytes: Bytes;
}

/** One durable batch write, as the store's appended listeners see it (the node's metrics). */
export interface AppendedWrite {
  /** The tip before the batch: the batch holds the entries from prevTip.nextSeq on. */
  readonly prevTip: Tip;
  /** Time the synced write took. */
  readonly seconds: number;
}

export interface AppendBatch {
  readonly bytes: Uint8Array;
  /** Tip before the batch; its headHash is stored with the batch. */
  readonly prevTip: Tip;
  readonly tip: Tip;
  readonly nonceKeys: readonly Uint8Array[];
}

/**
 * Writes a batch write's records together with records of the caller's own, in one synced write: `write` performs
 * it (with the store's fault handling), given everything to put. A validator signs its lock votes this way, so that
 * the batch and the record of the votes on it reach the disk together, before any vote leaves (safety-store.ts).
 * An error thrown outside `write` leaves the store as it was, and the batches unstored.
 */
/** One record of a write that also removes records (truncation). */
type StoreOp = { type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes };

export type CoWriter = (batchRecords: readonly SafetyPut[], write: (records: readonly SafetyPut[]) => Promise<void>) => Promise<void>;

export class StoreIdentityError extends BaseError {
  override name = 'StoreIdentityError';
}

/**
 * The store could not do an operation for a reason outside the log itself (disk full, too many open files, an
 * I/O error), or refuses writes while it recovers from such a fault. Nothing was changed by a refused write;
 * a write that failed may or may not have reached the disk (the tip after recovery says).
 */
export class StoreFaultError extends BaseError {
  override name = 'StoreFaultError';
}

/** Batches asked to be removed that may not be (at or below the final height), or cannot be: nothing was changed. */
export class StoreTruncateError extends BaseError {
  override name = 'StoreTruncateError';
}

/** A batch appended at another height than the one after the tip: a caller's bug, never a fault of the disk. */
export class StoreOrderError extends BaseError {
  override name = 'StoreOrderError';
  constructor(height: number, tipHeight: number) {
    super(`append at height ${height} on tip ${tipHeight}`, { details: { height, tipHeight } });
  }
}

/** LevelDB's message, with the cause that classic-level wraps around it (e.g. a failed open). */
function describe(e: unknown): string {
  const err = e as { message?: unknown; cause?: { message?: unknown } };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  return typeof err?.cause?.message === 'string' ? `${message}: ${err.cause.message}` : message;
}

/** The filter of every nonce key in `db` (one keys-only scan of the nonce index). */
async function loadNonceFilter(db: ClassicLevel<Bytes, Bytes>): Promise<NonceFilter> {
  const filter = new NonceFilter();
  // Keys only, in large steps (the defaults read 16 KiB per native call), without filling the block cache.
  const it = db.keys({ ...NONCE_KEYS, fillCache: false, highWaterMarkBytes: 1 << 20 });
  try {
    for (let keys = await it.nextv(16_384); keys.length > 0; keys = await it.nextv(16_384)) {
      for (const k of keys) filter.add(k.subarray(1));
    }
  } finally {
    await it.close();
  }
  return filter;
}

export class LogStore {
  private readonly dir: string;
  private readonly db: ClassicLevel<Bytes, Bytes>;
  /**
   * Every nonce key stored or being written (a superset: keys go in before their write, and a failed write leaves
   * them in). Lookups of keys it has never seen skip LevelDB; see nonce-filter.ts.
   */
  private nonces = new NonceFilter();
  private tipValue: Tip = GENESIS_TIP;
  private finalValue: FinalMark | undefined;
  /** Why the store refuses writes, while a storage fault lasts. */
  private faultReason: string | undefined;
  private recovery: Promise<void> | undefined;
  private wakeRecovery: (() => void) | undefined;
  private closed = false;
  private readonly faultListeners: ((reason: string) => void)[] = [];
  private readonly recoveredListeners: ((tip: Tip) => void)[] = [];
  private readonly appendedListeners: ((tip: Tip, write: AppendedWrite) => void)[] = [];
  private readonly truncatedListeners: ((tip: Tip) => void)[] = [];
  private truncationCount = 0;
  /**
   * Appends whose write has not returned, and whether a truncation is under way: the two never overlap (each refuses
   * while the other runs), since an append landing beside a truncation would leave a batch, and nonce records that
   * make its nonces look used, above the new tip, or move the tip above batches just deleted.
   */
  private appendsInFlight = 0;
  private truncating = false;
  /** The highest height a final mark is being written for (set before its write: truncation never undercuts it). */
  private finalizing = -1;

  private constructor(dir: string, db: ClassicLevel<Bytes, Bytes>) {
    this.dir = dir;
    this.db = db;
  }

  /**
   * Opens (or creates) the store in `dir`. `identity` names the log (log id, chain id, primary); a store
   * created for one log refuses to open for another, so a misconfigured node cannot mix two logs.
   */
  static async open(dir: string, identity: string): Promise<LogStore> {
    const db = new ClassicLevel<Bytes, Bytes>(dir, {
      keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_BYTES, compression: false,
    });
    await db.open();
    const store = new LogStore(dir, db);
    try {
      const stored = await db.get(IDENTITY_KEY);
      const wanted = encodeIdentity(identity);
      if (stored === undefined) await db.put(IDENTITY_KEY, wanted, { sync: true });
      else if (Buffer.compare(stored, wanted) !== 0) {
        throw new StoreIdentityError(`${dir} holds another log (${decodeIdentity(stored)}), not ${identity}`);
      }
      const tip = await db.get(TIP_KEY);
      if (tip !== undefined) store.tipValue = decodeTip(tip);
      const final = await db.get(FINAL_KEY);
      if (final !== undefined) store.finalValue = decodeFinal(final);
      store.nonces = await loadNonceFilter(db);
    } catch (e) {
      await db.close();
      throw e;
    }
    return store;
  }

  get tip(): Tip {
    return this.tipValue;
  }

  /** Why the store refuses writes (a storage fault it is recovering from), or undefined when it is writable. */
  get fault(): string | undefined {
    return this.faultReason;
  }

  /** Calls `listener` when a write fails and the store starts refusing writes. Returns an unsubscribe function. */
  onFault(listener: (reason: string) => void): () => void {
    return subscribe(this.faultListeners, listener);
  }

  /** Calls `listener` when the store takes writes again, with the tip read back from the disk. Returns an unsubscribe function. */
  onRecovered(listener: (tip: Tip) => void): () => void {
    return subscribe(this.recoveredListeners, listener);
  }

  /**
   * Calls `listener` after each batch is durably stored, with the new tip and what the write was (the tip before
   * it, and the seconds its synced write took). Returns an unsubscribe function.
   */
  onAppended(listener: (tip: Tip, write: AppendedWrite) => void): () => void {
    return subscribe(this.appendedListeners, listener);
  }

  /** Runs a write unless the store is in a fault state; a write that fails starts one. */
  private async write(op: () => Promise<void>): Promise<void> {
    if (this.faultReason !== undefined) throw new StoreFaultError(`store not writable: ${this.faultReason}`);
    try {
      await op();
    } catch (e) {
      const reason = describe(e);
      if (this.faultReason === undefined && !this.closed) {
        this.faultReason = reason;
        this.recovery = this.recover();
        for (const l of [...this.faultListeners]) l(reason);
      }
      throw new StoreFaultError(reason, { cause: e });
    }
  }

  /** A failed read leaves the store as it is (LevelDB's read errors do not stick); callers see StoreFaultError. */
  private async read<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new StoreFaultError(describe(e), { cause: e });
    }
  }

  /** Reopens the database until a synced probe write succeeds, then takes writes again from the tip on disk. */
  private async recover(): Promise<void> {
    for (let delay = RECOVERY_FIRST_DELAY_MS; ; delay = Math.min(2 * delay, RECOVERY_MAX_DELAY_MS)) {
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeRecovery = () => { clearTimeout(timer); resolve(); };
      });
      this.wakeRecovery = undefined;
      if (this.closed) return;
      try {
        await probeDisk(this.dir);
        await this.db.close();
        await this.db.open();
        const tip = await this.db.get(TIP_KEY);
        this.tipValue = tip === undefined ? GENESIS_TIP : decodeTip(tip);
        await this.db.put(PROBE_KEY, encodeProbe(Date.now()), { sync: true });
      } catch (e) {
        this.faultReason = describe(e);
        continue;
      }
      if (this.closed) return;
      this.faultReason = undefined;
      this.recovery = undefined;
      for (const l of [...this.recoveredListeners]) l(this.tipValue);
      return;
    }
  }

  /** Appends one verified batch atomically and durably (synced) and advances the tip. */
  async append(a: AppendBatch): Promise<void> {
    await this.appendAll([a]);
  }

  /**
   * Appends consecutive batches, the first on the tip, in one atomic synced write (one fsync for all), then
   * advances the tip to the last: after a crash or a failed write the store holds all of them or none. Refused
   * (StoreTruncateError) while a truncation runs.
   */
  async appendAll(batches: readonly AppendBatch[], coWrite?: CoWriter): Promise<void> {
    if (this.truncating) throw new StoreTruncateError('cannot append while batches are being removed', { details: { tipHeight: this.tipValue.height } });
    let tip = this.tipValue;
    const ops: SafetyPut[] = [];
    for (const a of batches) {
      // Each batch must sit on the one before it (or the tip): same height and same header, never a gap or a fork.
      if (a.tip.height !== tip.height + 1 || a.prevTip.height !== tip.height || !equalBytes(a.prevTip.headerHash, tip.headerHash)) {
        throw new StoreOrderError(a.tip.height, tip.height);
      }
      const heightValue = encodeHeight(a.tip.height);
      ops.push(
        { type: 'put', key: batchKey(a.tip.height), value: encodeBatchValue(a.prevTip.headHash, a.bytes) },
        { type: 'put', key: seqIndexKey(a.prevTip.nextSeq), value: heightValue },
      );
      for (const k of a.nonceKeys) ops.push({ type: 'put', key: nonceIndexKey(k), value: heightValue });
      tip = a.tip;
    }
    if (batches.length === 0) return;
    ops.push({ type: 'put', key: TIP_KEY, value: encodeTip(tip) });
    // Into the filter before the write: a write that fails may still be on the disk after recovery.
    for (const a of batches) for (const k of a.nonceKeys) this.nonces.add(k);
    const started = performance.now();
    const synced = (records: readonly SafetyPut[]) => this.write(() => this.db.batch([...records], { sync: true }));
    this.appendsInFlight++;
    try {
      await (coWrite ? coWrite(ops, synced) : synced(ops));
    } finally {
      this.appendsInFlight--;
    }
    const seconds = (performance.now() - started) / 1000;
    this.tipValue = tip;
    const listeners = [...this.appendedListeners];
    for (const a of batches) {
      const write: AppendedWrite = { prevTip: a.prevTip, seconds };
      for (const l of listeners) l(a.tip, write);
    }
  }

  /**
   * Removes every batch above `height` (the tentative batches of a view that was abandoned: docs/protocol.md §View
   * change), with their sequence and nonce index records, and makes the batch at `height` the tip (-1: the empty
   * log), in one synced write: after a crash the store holds all of them or none. Never below the final height
   * (StoreTruncateError, nothing changed); at or above the tip it does nothing. Refused too (StoreTruncateError) while
   * an append's write is in flight, and appends are refused while it runs: the caller orders the two. The nonce filter
   * keeps the removed keys: a false positive only costs a read, which finds no record.
   */
  async truncate(height: number): Promise<void> {
    const tip = this.tipValue;
    if (height >= tip.height) return;
    const final = this.finalValue?.height ?? -1;
    if (!Number.isSafeInteger(height) || height < -1) {
      throw new StoreTruncateError(`cannot keep the batches up to height ${height}: not a height (-1 keeps none)`, { details: { height } });
    }
    if (height < final) {
      throw new StoreTruncateError(`cannot remove batches at or below the final height ${final} (asked to keep up to ${height})`, { details: { height, final } });
    }
    if (this.truncating || this.appendsInFlight > 0) {
      throw new StoreTruncateError(`cannot remove batches above ${height} while another write of the log is in flight`, { details: { height } });
    }
    this.truncating = true;
    let newTip: Tip;
    try {
      newTip = await this.removeAbove(height, tip);
    } finally {
      this.truncating = false;
    }
    for (const l of [...this.truncatedListeners]) l(newTip);
  }

  /** truncate's reads and its one synced write, with appends held off; returns the new tip. */
  private async removeAbove(height: number, tip: Tip): Promise<Tip> {
    const { ops, newTip } = await this.removalOps(height, tip);
    ops.push({ type: 'put', key: TIP_KEY, value: encodeTip(newTip) });
    // Checked again after the reads: a final mark written meanwhile (or being written) is never undercut.
    const finalNow = Math.max(this.finalValue?.height ?? -1, this.finalizing);
    if (height < finalNow || tip !== this.tipValue) {
      throw new StoreTruncateError(`the store changed while batches above ${height} were being removed (final ${finalNow}, tip ${this.tipValue.height})`);
    }
    this.truncationCount++;
    await this.write(() => this.db.batch(ops, { sync: true }));
    this.tipValue = newTip;
    return newTip;
  }

  /** The records that remove every batch above `height` (batches, sequence and nonce index), and the tip after. */
  private async removalOps(height: number, tip: Tip): Promise<{ ops: StoreOp[]; newTip: Tip }> {
    const ops: StoreOp[] = [];
    let newTip: Tip = GENESIS_TIP;
    for (let h = tip.height; h > height; h--) {
      const stored = await this.getBatch(h);
      if (!stored) throw new StoreTruncateError(`batch ${h} is missing below the tip ${tip.height}`);
      const batch = decodeBatch(stored.bytes);
      ops.push({ type: 'del', key: batchKey(h) }, { type: 'del', key: seqIndexKey(batch.header.firstSeq) });
      for (const sub of batch.submissions) ops.push({ type: 'del', key: nonceIndexKey(nonceKey(sub.sender, sub.nonce)) });
      if (h === height + 1 && height >= 0) newTip = await this.tipBelow(height, batch.header.prevHeaderHash, batch.header.firstSeq, stored.prevEntryHash);
    }
    return { ops, newTip };
  }

  /**
   * Replaces the final header by its re-proposal in a later view (docs/protocol.md §View change, a follower whose
   * final height covers a re-proposal): `bytes` is the batch at the final height with the same entries, under a
   * header that differs only in its view (the caller checked that, and the signature and justification). In one
   * synced write: the batches above the final height go (soft batches of the abandoned view), the batch record, the
   * tip and the final mark name the new header, and the stored commit certificate of the old header goes (a later
   * one covers the height). The final height does not move and no entry changes. Refused like truncate.
   */
  async replaceFinal(bytes: Uint8Array, tip: Tip): Promise<void> {
    const final = this.finalValue;
    if (final === undefined || tip.height !== final.height) {
      throw new StoreTruncateError(`only the final header can be replaced by its re-proposal (asked for ${tip.height}, final ${final?.height ?? -1})`);
    }
    if (this.truncating || this.appendsInFlight > 0) {
      throw new StoreTruncateError(`cannot replace the final header while another write of the log is in flight`, { details: { height: tip.height } });
    }
    this.truncating = true;
    try {
      const current = this.tipValue;
      const kept = await this.getBatch(tip.height);
      if (!kept) throw new StoreTruncateError(`batch ${tip.height} is missing`);
      const { ops } = await this.removalOps(tip.height, current);
      ops.push(
        { type: 'put', key: batchKey(tip.height), value: encodeBatchValue(kept.prevEntryHash, bytes) },
        { type: 'put', key: TIP_KEY, value: encodeTip(tip) },
        { type: 'put', key: FINAL_KEY, value: encodeFinal({ height: tip.height, headerHash: tip.headerHash }) },
        { type: 'del', key: certificateKey(tip.height) },
      );
      if (this.finalValue !== final || current !== this.tipValue || this.finalizing > final.height) {
        throw new StoreTruncateError(`the store changed while its final header was being replaced (final ${this.finalValue?.height}, tip ${this.tipValue.height})`);
      }
      this.truncationCount++;
      await this.write(() => this.db.batch(ops, { sync: true }));
      this.tipValue = tip;
      this.finalValue = { height: tip.height, headerHash: tip.headerHash };
    } finally {
      this.truncating = false;
    }
    for (const l of [...this.truncatedListeners]) l(tip);
  }

  /**
   * The tip after the stored batch at `height`, from its header (next sequence number, last entry hash, timestamp),
   * checked against what the batch above it was stored on. The header hash is the one the batch above names: the
   * store does not know the log's signing domain to hash a header itself.
   */
  private async tipBelow(height: number, headerHash: Bytes, nextSeq: number, headHash: Bytes): Promise<Tip> {
    const kept = await this.getBatch(height);
    if (!kept) throw new StoreTruncateError(`batch ${height} is missing below the tip ${this.tipValue.height}`);
    const { header } = peekSignedHeader(kept.bytes);
    if (header.firstSeq + header.count !== nextSeq || !equalBytes(header.headHash, headHash)) {
      throw new StoreTruncateError(`the stored batch ${height + 1} does not follow the one at ${height}`, { details: { height } });
    }
    return { height, headerHash, nextSeq, headHash, timestamp: header.timestamp };
  }

  /** Calls `listener` after batches were removed (truncate), with the new tip. Returns an unsubscribe function. */
  onTruncated(listener: (tip: Tip) => void): () => void {
    return subscribe(this.truncatedListeners, listener);
  }

  /** For each nonce key, the height of the batch that used it, or undefined when unused. */
  async nonceHeights(nonceKeys: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    const heights: (number | undefined)[] = new Array(nonceKeys.length).fill(undefined);
    // Only the keys the filter may hold need LevelDB: for the others "unused" is exact (no false negatives).
    const ask: number[] = [];
    for (let i = 0; i < nonceKeys.length; i++) if (this.nonces.mayContain(nonceKeys[i])) ask.push(i);
    if (ask.length === 0) return heights;
    const values = await this.read(() => this.db.getMany(ask.map((i) => nonceIndexKey(nonceKeys[i]))));
    values.forEach((v, j) => { if (v !== undefined) heights[ask[j]] = decodeHeight(v); });
    return heights;
  }

  async getBatch(height: number): Promise<StoredBatch | undefined> {
    if (height < 0 || height > this.tipValue.height) return undefined;
    const value = await this.read(() => this.db.get(batchKey(height)));
    return value === undefined ? undefined : { height, ...decodeBatchValue(value) };
  }

  /** The submissions of the stored batches above `height`, in log order (what removing them takes out of the log). */
  async submissionsAbove(height: number): Promise<Submission[]> {
    const submissions: Submission[] = [];
    for (let h = Math.max(height + 1, 0); h <= this.tipValue.height; h++) {
      const stored = await this.getBatch(h);
      if (stored) submissions.push(...decodeBatch(stored.bytes).submissions);
    }
    return submissions;
  }

  /** Height of the batch that holds sequence number `seq`. */
  async heightOfSeq(seq: number): Promise<number | undefined> {
    if (seq < 0 || seq >= this.tipValue.nextSeq) return undefined;
    const [value] = await this.read(() => this.db.values({ lte: seqIndexKey(seq), gte: seqIndexKey(0), reverse: true, limit: 1 }).all());
    return value === undefined ? undefined : decodeHeight(value);
  }

  /**
   * Stored batches from `height` on, stopping after `maxCount` batches or once `maxBytes` is reached. Yields
   * nothing for a count below 1 or a height outside the log (no range is ever read past what was asked).
   */
  async *batchesFrom(height: number, maxCount: number, maxBytes: number): AsyncGenerator<StoredBatch> {
    if (!Number.isSafeInteger(height) || height < 0 || height > this.tipValue.height) return;
    if (!Number.isSafeInteger(maxCount) || maxCount < 1) return;
    const last = Math.min(this.tipValue.height, height + maxCount - 1);
    let bytes = 0;
    try {
      for await (const [k, value] of this.db.iterator({ gte: batchKey(height), lte: batchKey(last) })) {
        yield { height: heightOfBatchKey(k), ...decodeBatchValue(value) };
        bytes += value.byteLength;
        if (bytes >= maxBytes) return;
      }
    } catch (e) {
      throw new StoreFaultError(describe(e), { cause: e });
    }
  }

  /**
   * The database as a validator's safety records need it (storage/safety-store.ts): point reads, and synced writes
   * that go through the store's fault handling (a failed one puts the store in a fault state like any write).
   */
  get safetyDatabase(): SafetyDatabase {
    return {
      get: (key) => this.read(() => this.db.get(key)),
      batch: (operations) => this.write(() => this.db.batch(operations, { sync: true })),
    };
  }

  /** The highest height this node holds final, and its header hash; undefined before the first. */
  get final(): FinalMark | undefined {
    return this.finalValue;
  }

  /**
   * Records that `mark.height` (and every height below it) is final, with the commit certificate that made it so.
   * Not synced: a certificate is self-verifying and can be learned again from any peer, so losing the last ones in
   * a machine crash costs a re-fetch, never safety. The final height never goes down.
   */
  async markFinal(mark: FinalMark, certificate: Uint8Array, truncations = this.truncations): Promise<void> {
    if (this.finalValue !== undefined && mark.height <= this.finalValue.height) return;
    if (mark.height > this.tipValue.height) throw new StoreOrderError(mark.height, this.tipValue.height);
    // The caller judged the header at that height before a truncation that may have replaced it: judged again later.
    if (truncations !== this.truncations) throw new StoreTruncateError('batches were removed since the header to mark final was read');
    this.finalizing = Math.max(this.finalizing, mark.height);
    await this.write(() => this.db.batch([
      { type: 'put', key: certificateKey(mark.height), value: certificate },
      { type: 'put', key: FINAL_KEY, value: encodeFinal(mark) },
    ], { sync: false }));
    if (this.finalValue === undefined || mark.height > this.finalValue.height) this.finalValue = mark;
  }

  /** Truncations so far: a caller that read a stored header passes it to markFinal, which refuses if one came between. */
  get truncations(): number {
    return this.truncationCount;
  }

  /** The commit certificate stored for the lowest height ≥ `height` that has one (what makes `height` final). */
  async certificateFrom(height: number): Promise<{ height: number; certificate: Bytes } | undefined> {
    const found = await this.read(() => this.db.iterator({ gte: certificateKey(Math.max(0, height)), lt: certificateKey(Number.MAX_SAFE_INTEGER), limit: 1 }).all());
    if (found.length === 0) return undefined;
    const [k, v] = found[0];
    return { height: heightOfCertificateKey(k), certificate: v };
  }

  /** Small durable records outside the log itself (equivocation proofs, node state). */
  async putRecord(name: Uint8Array, value: Uint8Array): Promise<void> {
    await this.write(() => this.db.put(recordKey(name), value, { sync: true }));
  }

  async deleteRecord(name: Uint8Array): Promise<void> {
    await this.write(() => this.db.del(recordKey(name), { sync: true }));
  }

  async *records(): AsyncGenerator<[Bytes, Bytes]> {
    try {
      for await (const [k, v] of this.db.iterator({ ...RECORD_KEYS })) yield [k.subarray(1), v];
    } catch (e) {
      throw new StoreFaultError(describe(e), { cause: e });
    }
  }

  /** Stops any recovery in progress, then closes the database. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeRecovery?.();
    await this.recovery;
    await this.db.close();
  }
}
