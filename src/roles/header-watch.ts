/**
 * Watches every header signed by the primary's key that the node meets (gossip, sync responses of any peer,
 * forwarded receipts, receipts clients ask about) against what the node holds: its stored log and the signed
 * headers it has seen ahead of its tip. Both are durable, so a conflicting header arriving from another peer,
 * hours later, or after a restart, is still caught. On a conflict the proof is stored durably and the node
 * stops following the primary for good; it keeps serving what it has.
 *
 * Evidence outlives a storage fault (disk full, ...: LogStore): a proof or seen header whose write fails is
 * kept and acted on in memory all the same (a proof is listed, halts the node and is published) and written
 * once the store takes writes again; gossip would not deliver its headers a second time.
 */
import { equalBytes, toHex } from '../core/bytes.ts';
import { peekSignedHeader } from '../core/batch.ts';
import type { LogRules } from '../core/rules.ts';
import { checkProof, judgePair, proofId, type EquivocationProof } from '../core/equivocation.ts';
import { decodeSignedHeader, encodeSignedHeader, headerHash, type Header, type SignedHeader } from '../core/header.ts';
import { decodeRecord, encodeProofRecord, encodeSeenRecord, proofRecordName, seenRecordName } from '../wire/storage-records.ts';
import { StoreFaultError, type LogStore } from '../storage/log-store.ts';
import { subscribe } from '../core/listeners.ts';
import { LookupCache } from './lookup-cache.ts';
import type { Logger } from '../core/logger.ts';

/** Signed headers kept from beyond the tip; more than this many means something is badly wrong upstream. */
const MAX_SEEN = 10_000;
/** Headers of stored batches kept in memory, so that judging a header does not read whole batches again. */
const STORED_HEADERS_CACHED = 1024;

/**
 * The header in bytes of its own: one peeked from a batch is a view into the batch's bytes, and keeping the
 * view would keep the whole batch (up to the batch limit) alive for as long as the header is held.
 */
function detached(signed: SignedHeader): SignedHeader {
  return decodeSignedHeader(encodeSignedHeader(signed));
}

export interface HeaderWatchOptions {
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly chainId: number;
  readonly log: Logger;
}

export class HeaderWatch {
  private readonly opts: HeaderWatchOptions;
  private readonly seen = new Map<number, SignedHeader>();
  private readonly proofList: EquivocationProof[] = [];
  /**
   * Proof id (hex) -> its durable write, for every proof held or being recorded. Claimed synchronously before
   * the write is awaited, so concurrent detections of one equivocation store and list one proof.
   */
  private readonly recorded = new Map<string, Promise<void>>();
  private readonly listeners: ((p: EquivocationProof) => void)[] = [];
  /**
   * Record writes that failed in a storage fault, by record name (hex): the value to put, or null to delete.
   * Written again once the store recovers; a later write of the same name replaces the pending one.
   */
  private readonly unsaved = new Map<string, { name: Uint8Array; value: Uint8Array | null }>();
  /**
   * Signed headers of stored batches by height (a stored batch never changes), read once each: a batch is
   * read whole from the store, and one header may be judged many times (sequencer_verifyReceipt). Concurrent
   * lookups of one height share its read.
   */
  private readonly storedHeaders: LookupCache<number, SignedHeader>;
  private readonly unsubscribe: () => void;

  private constructor(opts: HeaderWatchOptions) {
    this.opts = opts;
    this.storedHeaders = new LookupCache(STORED_HEADERS_CACHED, async (height) => {
      const stored = await opts.store.getBatch(height);
      return stored && detached(peekSignedHeader(stored.bytes));
    });
    const unsubscribe = [opts.store.onRecovered(() => void this.saveUnsaved()), opts.store.onTruncated(() => this.storedHeaders.clear())];
    this.unsubscribe = () => unsubscribe.forEach((u) => u());
  }

  /** Stops writing what a storage fault left unsaved (the node is stopping; the store closes next). */
  close(): void {
    this.unsubscribe();
  }

  static async open(opts: HeaderWatchOptions): Promise<HeaderWatch> {
    const watch = new HeaderWatch(opts);
    for await (const [name, value] of opts.store.records()) {
      const record = decodeRecord(name, value);
      if (record?.kind === 'proof') {
        watch.proofList.push(record.proof);
        watch.recorded.set(toHex(proofId(opts.rules.separator, record.proof)), Promise.resolve());
      }
      else if (record?.kind === 'seen') {
        const { signed } = record;
        if (signed.header.height > opts.store.tip.height) watch.seen.set(signed.header.height, signed);
      }
    }
    return watch;
  }

  get proofs(): readonly EquivocationProof[] {
    return this.proofList;
  }

  /** Set once a header signer (the primary, a view's leader) has been caught equivocating. */
  get equivocated(): boolean {
    return this.proofList.length > 0;
  }

  /** Whether `address` was caught signing two conflicting headers: nothing it signs is stored any more. */
  convicted(address: Uint8Array): boolean {
    return this.proofList.some((p) => equalBytes(p.signer, address));
  }

  /**
   * Whether this node follows nothing more at all: a log of one validator whose primary equivocated. A log of more
   * moves on to the next view's leader (docs/protocol.md §View change, T3); only the convicted leader's headers go.
   */
  get halted(): boolean {
    return this.opts.rules.membership.n === 1 && this.equivocated;
  }

  /** The highest primary-signed header held ahead of the tip, if any (a restarting primary asks for it: §Primary start-up). */
  highestSeen(): SignedHeader | undefined {
    let highest: SignedHeader | undefined;
    for (const signed of this.seen.values()) if (!highest || signed.header.height > highest.header.height) highest = signed;
    return highest;
  }

  /** Called once for every new proof, after it is stored. Returns the unsubscribe. */
  onEquivocation(listener: (p: EquivocationProof) => void): () => void {
    return subscribe(this.listeners, listener);
  }

  /** The signed header the node holds for `height`: from its log, or seen ahead of its tip. Throws StoreFaultError when the read fails. */
  async held(height: number): Promise<SignedHeader | undefined> {
    if (height < 0) return undefined;
    if (height <= this.opts.store.tip.height) return this.storedHeaders.get(height);
    return this.seen.get(height);
  }

  /**
   * A leader-signed header with this hash at `height` that the node holds: stored, seen ahead of its tip, or one of
   * the two headers of a held equivocation proof (a fork header is never stored, but its proof keeps it). What a
   * vote fork (kind 4) needs: the header a lock vote names. Throws StoreFaultError when the read fails.
   */
  async headerByHash(height: number, hash: Uint8Array): Promise<Header | undefined> {
    const { separator } = this.opts.rules;
    const candidates = [await this.held(height), ...this.proofList.flatMap((p) => [p.a, p.b])];
    return candidates.find((c) => c !== undefined && c.header.height === height && equalBytes(headerHash(separator, c.header), hash))?.header;
  }

  /**
   * Checks a header already verified as signed by the primary. Returns the proof when it conflicts with
   * anything held, after storing the proof durably. Does not remember the header (see `remember`).
   */
  async observe(signed: SignedHeader, origin: string): Promise<EquivocationProof | null> {
    const { store } = this.opts;
    const h = signed.header.height;
    const tip = store.tip;
    // The common case, a successor of the tip, needs no storage reads.
    const parentIsTip = h === tip.height + 1;
    const heights = parentIsTip && equalBytes(signed.header.prevHeaderHash, tip.headerHash) ? [h, h + 1] : [h, h - 1, h + 1];
    for (const height of heights) {
      const held = await this.held(height);
      const proof = held && (await this.judge(held, signed, origin));
      if (proof) return proof;
    }
    return null;
  }

  /**
   * Keeps a primary-signed header the node does not store (ahead of its tip, or one whose batch failed
   * verification), so that a different header for its height met later is still caught; meant to follow
   * `observe`. What arrived since that `observe` is judged here, so no header slips between the two: a
   * different header kept meanwhile for the same height, or the height stored meanwhile (then the header is
   * judged against the log). Returns the proof when one is found, after storing it.
   */
  async remember(signed: SignedHeader, origin = 'header seen ahead of the tip'): Promise<EquivocationProof | null> {
    const h = signed.header.height;
    if (h <= this.opts.store.tip.height) return this.observe(signed, origin);
    const kept = this.seen.get(h);
    if (kept) return this.judge(kept, signed, origin);
    if (this.seen.size >= MAX_SEEN) return null;
    this.seen.set(h, detached(signed));
    await this.persist(seenRecordName(h), encodeSeenRecord(signed));
    return null;
  }

  /**
   * A header met outside the log's own flow (a receipt shown to the node or forwarded by it): judged against
   * everything held, and kept if its height is not held yet, so that it is judged when that height arrives.
   * Returns the proof when one is found, after storing it.
   */
  async check(signed: SignedHeader, origin: string): Promise<EquivocationProof | null> {
    return (await this.observe(signed, origin)) ?? (await this.remember(signed, origin));
  }

  /**
   * Called after a batch is stored: its header is now part of the log, no longer a seen-ahead header. A
   * different header remembered for that height (met while the batch was on its way to the disk) is a proof.
   */
  async stored(signed: SignedHeader, origin: string): Promise<void> {
    const h = signed.header.height;
    const seen = this.seen.get(h);
    if (!seen) return;
    this.seen.delete(h);
    // Judged before the record is deleted: the evidence comes first, whatever the disk does.
    await this.judge(signed, seen, origin);
    await this.persist(seenRecordName(h), null);
  }

  /** Judges a held header against another one; records and returns the proof if they conflict. */
  private async judge(held: SignedHeader, seen: SignedHeader, origin: string): Promise<EquivocationProof | null> {
    const { rules, chainId } = this.opts;
    // Headers pair only within one view (judgePair), whose leader signed both.
    const proof = judgePair(rules.separator, chainId, rules.membership.leaderOf(held.header.view), held, seen);
    if (proof) await this.record(proof, origin);
    return proof;
  }

  /**
   * Takes a proof found by another node: adopted (stored, and the primary no longer followed) only if it
   * checks out on its own against this log's primary, log id and chain id. Returns 'new', 'known' or 'invalid'.
   */
  async adopt(proof: EquivocationProof, origin: string): Promise<'new' | 'known' | 'invalid'> {
    const { rules, chainId } = this.opts;
    if (!rules.membership.includes(proof.signer) || !equalBytes(proof.logId, rules.logId) || proof.chainId !== chainId) return 'invalid';
    if (checkProof(rules.separator, proof) !== null) return 'invalid';
    return (await this.record(proof, origin)) ? 'new' : 'known';
  }

  /**
   * Stores a proof unless already held; returns whether it was new. A detection of a proof being recorded by
   * another caller waits for that write, so once any caller returns, the proof is listed once, and durable
   * unless the store is in a fault (then it is written once the store recovers: `persist`).
   */
  private async record(proof: EquivocationProof, origin: string): Promise<boolean> {
    const id = proofId(this.opts.rules.separator, proof);
    const key = toHex(id);
    const held = this.recorded.get(key);
    if (held) {
      await held;
      return false;
    }
    const write = this.persist(proofRecordName(id), encodeProofRecord(proof));
    this.recorded.set(key, write); // before the await: this is what makes a concurrent detection 'known'
    try {
      await write;
    } catch (e) {
      this.recorded.delete(key); // not a storage fault: a bug; a later detection must try again
      throw e;
    }
    this.proofList.push(proof);
    this.opts.log.error('EQUIVOCATION: the primary signed conflicting headers; no longer following it', {
      kind: proof.kind, heightA: proof.a.header.height, heightB: proof.b.header.height, primary: toHex(proof.signer), origin, proofId: toHex(id),
    });
    for (const l of this.listeners) l(proof);
    return true;
  }

  /**
   * Writes a record (or deletes it: null). In a storage fault the write is kept, to be done once the store
   * recovers; the caller goes on with what it holds in memory. Throws only what is not a storage fault.
   */
  private async persist(name: Uint8Array, value: Uint8Array | null): Promise<void> {
    const key = toHex(name);
    this.unsaved.delete(key); // this write supersedes any pending one of the same record
    try {
      await (value ? this.opts.store.putRecord(name, value) : this.opts.store.deleteRecord(name));
    } catch (e) {
      if (!(e instanceof StoreFaultError)) throw e;
      // Once per fault at warn level: while it lasts, every header met would say the same.
      this.opts.log[this.unsaved.size === 0 ? 'warn' : 'debug']('storage fault: record kept in memory, written once the store recovers', { record: key, error: e.message });
      this.unsaved.set(key, { name, value });
    }
  }

  /** Writes what storage faults left unsaved; what fails again waits for the next recovery. */
  private async saveUnsaved(): Promise<void> {
    if (this.unsaved.size === 0) return;
    for (const [key, pending] of [...this.unsaved]) {
      if (this.unsaved.get(key) !== pending) continue; // written meanwhile by a newer call
      try {
        await (pending.value ? this.opts.store.putRecord(pending.name, pending.value) : this.opts.store.deleteRecord(pending.name));
        if (this.unsaved.get(key) === pending) this.unsaved.delete(key);
      } catch (e) {
        if (!(e instanceof StoreFaultError)) this.opts.log.error('writing a record kept through a storage fault failed', { record: key, error: (e as Error).message });
        return;
      }
    }
    if (this.unsaved.size === 0) this.opts.log.warn('records kept through the storage fault are written');
  }
}
