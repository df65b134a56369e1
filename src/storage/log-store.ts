/**
 * Durable storage of one log in LevelDB (docs/protocol.md §Storage layout). Batches are stored whole, as
 * they travel on the wire, so a write costs one key per batch and one per submission, not one per entry.
 * Every append is a single synced LevelDB batch: after a crash the store holds a batch entirely or not at all,
 * and the tip record always names the newest complete batch. Only the tip lives in memory.
 */
import { ClassicLevel } from 'classic-level';
import { Reader, Writer, type Bytes } from '../core/bytes.ts';
import { GENESIS_TIP, type Tip } from '../core/batch.ts';

const Prefix = { batch: 0x42 /* B */, seq: 0x53 /* S */, nonce: 0x4e /* N */, meta: 0x4d /* M */, record: 0x45 /* E */ } as const;

const TIP_KEY = Uint8Array.of(Prefix.meta, ...new TextEncoder().encode('tip'));
const IDENTITY_KEY = Uint8Array.of(Prefix.meta, ...new TextEncoder().encode('identity'));

function key(prefix: number, ...parts: (Uint8Array | number)[]): Bytes {
  let size = 1;
  for (const p of parts) size += typeof p === 'number' ? 8 : p.byteLength;
  const w = new Writer(size).u8(prefix);
  for (const p of parts) typeof p === 'number' ? w.u64(p) : w.raw(p);
  return w.finish();
}

function encodeTip(t: Tip): Bytes {
  return new Writer(8 + 32 + 8 + 32 + 8).u64(t.height + 1).raw(t.headerHash).u64(t.nextSeq).raw(t.headHash).u64(t.timestamp).finish();
}

function decodeTip(bytes: Uint8Array): Tip {
  const r = new Reader(bytes);
  const tip = { height: r.u64() - 1, headerHash: r.raw(32), nextSeq: r.u64(), headHash: r.raw(32), timestamp: r.u64() };
  r.end();
  return tip;
}

export interface StoredBatch {
  readonly height: number;
  /** Entry hash just before the batch's first entry: what its entry chain starts from. */
  readonly prevEntryHash: Bytes;
  /** The batch in wire form. */
  readonly bytes: Bytes;
}

export interface AppendBatch {
  readonly bytes: Uint8Array;
  /** Tip before the batch; its headHash is stored with the batch. */
  readonly prevTip: Tip;
  readonly tip: Tip;
  readonly nonceKeys: readonly Uint8Array[];
}

export class StoreIdentityError extends Error {
  override name = 'StoreIdentityError';
}

export class LogStore {
  private readonly db: ClassicLevel<Bytes, Bytes>;
  private tipValue: Tip = GENESIS_TIP;

  private constructor(db: ClassicLevel<Bytes, Bytes>) {
    this.db = db;
  }

  /**
   * Opens (or creates) the store in `dir`. `identity` names the log (log id, chain id, primary); a store
   * created for one log refuses to open for another, so a misconfigured node cannot mix two logs.
   */
  static async open(dir: string, identity: string): Promise<LogStore> {
    const db = new ClassicLevel<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const store = new LogStore(db);
    try {
      const stored = await db.get(IDENTITY_KEY);
      const wanted = new TextEncoder().encode(identity);
      if (stored === undefined) await db.put(IDENTITY_KEY, wanted, { sync: true });
      else if (Buffer.compare(stored, wanted) !== 0) {
        throw new StoreIdentityError(`${dir} holds another log (${new TextDecoder().decode(stored)}), not ${identity}`);
      }
      const tip = await db.get(TIP_KEY);
      if (tip !== undefined) store.tipValue = decodeTip(tip);
    } catch (e) {
      await db.close();
      throw e;
    }
    return store;
  }

  get tip(): Tip {
    return this.tipValue;
  }

  /** Appends one verified batch atomically and durably (synced) and advances the tip. */
  async append(a: AppendBatch): Promise<void> {
    if (a.tip.height !== this.tipValue.height + 1) throw new Error(`append at height ${a.tip.height} on tip ${this.tipValue.height}`);
    const value = new Uint8Array(32 + a.bytes.byteLength);
    value.set(a.prevTip.headHash, 0);
    value.set(a.bytes, 32);
    const seqValue = new Writer(8).u64(a.tip.height).finish();
    const ops: { type: 'put'; key: Bytes; value: Bytes }[] = [
      { type: 'put', key: key(Prefix.batch, a.tip.height), value },
      { type: 'put', key: key(Prefix.seq, a.prevTip.nextSeq), value: seqValue },
      { type: 'put', key: TIP_KEY, value: encodeTip(a.tip) },
    ];
    for (const k of a.nonceKeys) ops.push({ type: 'put', key: key(Prefix.nonce, k), value: seqValue });
    await this.db.batch(ops, { sync: true });
    this.tipValue = a.tip;
  }

  /** For each nonce key, the height of the batch that used it, or undefined when unused. */
  async nonceHeights(nonceKeys: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    if (nonceKeys.length === 0) return [];
    const values = await this.db.getMany(nonceKeys.map((k) => key(Prefix.nonce, k)));
    return values.map((v) => (v === undefined ? undefined : new Reader(v).u64()));
  }

  async getBatch(height: number): Promise<StoredBatch | undefined> {
    if (height < 0 || height > this.tipValue.height) return undefined;
    const value = await this.db.get(key(Prefix.batch, height));
    return value === undefined ? undefined : { height, prevEntryHash: value.subarray(0, 32), bytes: value.subarray(32) };
  }

  /** Height of the batch that holds sequence number `seq`. */
  async heightOfSeq(seq: number): Promise<number | undefined> {
    if (seq < 0 || seq >= this.tipValue.nextSeq) return undefined;
    for await (const value of this.db.values({ lte: key(Prefix.seq, seq), gte: key(Prefix.seq, 0), reverse: true, limit: 1 })) {
      return new Reader(value).u64();
    }
    return undefined;
  }

  /** Stored batches from `height` on, stopping after `maxCount` batches or once `maxBytes` is reached. */
  async *batchesFrom(height: number, maxCount: number, maxBytes: number): AsyncGenerator<StoredBatch> {
    if (height < 0 || height > this.tipValue.height) return;
    const last = Math.min(this.tipValue.height, height + maxCount - 1);
    let bytes = 0;
    for await (const [k, value] of this.db.iterator({ gte: key(Prefix.batch, height), lte: key(Prefix.batch, last) })) {
      yield { height: new Reader(k, 1).u64(), prevEntryHash: value.subarray(0, 32), bytes: value.subarray(32) };
      bytes += value.byteLength;
      if (bytes >= maxBytes) return;
    }
  }

  /** Small durable records outside the log itself (equivocation proofs, node state). */
  async putRecord(name: Uint8Array, value: Uint8Array): Promise<void> {
    await this.db.put(key(Prefix.record, name), value, { sync: true });
  }

  async deleteRecord(name: Uint8Array): Promise<void> {
    await this.db.del(key(Prefix.record, name), { sync: true });
  }

  async *records(): AsyncGenerator<[Bytes, Bytes]> {
    for await (const [k, v] of this.db.iterator({ gt: Uint8Array.of(Prefix.record), lt: Uint8Array.of(Prefix.record + 1) })) yield [k.subarray(1), v];
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
