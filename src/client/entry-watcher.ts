/**
 * A verified, live stream of a log's entries (docs/sdk.md §watchEntries). It follows one node at a time: that
 * node's tip notices (server push, else polling: tip-feed.ts) say what to fetch, each batch is fetched with
 * sequencer_getBatch and verified as the successor of the trust anchor (verify-batch.ts) before any of its entries
 * is yielded. When the node fails (connection lost, timeout, stream ended) it reconnects, to the same URL once and
 * then to the next, with backoff, and continues from the anchor: the next height it fetches is always the anchor's
 * plus one, and entries are handed out by sequence number from the cursor on, so nothing is skipped or repeated.
 * What does not verify ends the stream with VerificationError, a contradiction of the anchor with
 * InconsistentLogError: trying another node would hide a lying one.
 */
import { toHex } from '../core/bytes.ts';
import type { Entry } from '../core/entry.ts';
import { entryToJson, type EntryJson } from '../wire/json.ts';
import { checkSameLog, type ClientContext } from './context.ts';
import { EntriesReplacedError, VerificationError } from './errors.ts';
import type { RpcClient } from './rpc-client.ts';
import { TipFeed, type TipNotice } from './tip-feed.ts';
import { getCertificate } from './actions/getCertificate.ts';
import { anchorToJson, GENESIS_ANCHOR, parseAnchor, type TrustAnchor, type TrustAnchorJson } from './trust-anchor.ts';
import { verifyAnchorBatch, verifyBatchAlone, verifyNextBatch, type VerifiedStep } from './verify-batch.ts';

export interface WatchEntriesOptions {
  /** Start at this sequence number (its batch's header is verified on its own: the anchor starts there). */
  readonly fromSeq?: number;
  /** Or at the first entry of this height. */
  readonly fromHeight?: number;
  /** Or resume from a persisted anchor (`watcher.anchor`): from its cursor, every batch verified against it. */
  readonly anchor?: TrustAnchorJson;
  /**
   * 'soft' (default): entries of headers signed by the leader. 'final': entries only of heights the node holds final,
   * each range checked with a finality certificate (getCertificate) for the header this watcher verified at its top;
   * the starting batch too (its own certificate): no entry comes out before a checked certificate covers its batch.
   */
  readonly finality?: 'soft' | 'final';
  /** Polling period when the node offers no server push (500 ms by default). */
  readonly pollIntervalMs?: number;
  /** Use the nodes' `/events` server push (true by default); false polls. */
  readonly serverPush?: boolean;
  /** First reconnection delay, doubled per failure up to maxRetryDelayMs (100 ms and 5 s by default). */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** Told of each failure the watcher recovers from by reconnecting. */
  readonly onReconnect?: (event: { url: string; error: unknown }) => void;
}

/** Neither from a persisted anchor nor from a position: from the node's current tip on (only new entries). */
type Start = { kind: 'anchor'; anchor: TrustAnchor; cursor: number } | { kind: 'seq'; seq: number } | { kind: 'height'; height: number } | { kind: 'tip' };

const SILENCE_MS = 45_000;
/** Final mode: how often the node's final height is asked while it trails the tip, and most heights per certificate. */
const FINAL_POLL_MS = 50;
const FINAL_CHUNK = 32;

export class EntryWatcher implements AsyncIterable<EntryJson> {
  private readonly ctx: ClientContext;
  private readonly opts: WatchEntriesOptions;
  private start: Start;
  private anchorValue: TrustAnchor | undefined;
  private cursor = 0;
  private feed: TipFeed | undefined;
  private stopped = false;
  private wakeSleep: (() => void) | undefined;
  private urlIndex = 0;
  private iterator: AsyncGenerator<EntryJson> | undefined;

  constructor(ctx: ClientContext, opts: WatchEntriesOptions = {}) {
    this.ctx = ctx;
    this.opts = opts;
    if (opts.anchor) {
      const { anchor, cursor } = parseAnchor(ctx.rules, opts.anchor);
      this.start = { kind: 'anchor', anchor, cursor: Math.max(cursor, opts.fromSeq ?? 0) };
    } else if (opts.fromSeq !== undefined) this.start = { kind: 'seq', seq: opts.fromSeq };
    else if (opts.fromHeight !== undefined) this.start = { kind: 'height', height: opts.fromHeight };
    else this.start = { kind: 'tip' };
  }

  /** The trust anchor and cursor to persist and resume from (JSON); null until the starting point is verified. */
  get anchor(): TrustAnchorJson | null {
    return this.anchorValue ? anchorToJson(this.anchorValue, this.cursor) : null;
  }

  /** The URL of the node followed now. */
  get url(): string {
    return this.ctx.urls[this.urlIndex];
  }

  /** How the node followed now announces new batches: its server push, or polling ('starting' until it is known). */
  get following(): 'push' | 'poll' | 'starting' {
    return this.feed?.mode ?? 'starting';
  }

  /** Ends the stream: a pending `next()` resolves done once its request is over. */
  stop(): void {
    this.stopped = true;
    this.feed?.stop();
    this.wakeSleep?.();
  }

  [Symbol.asyncIterator](): AsyncGenerator<EntryJson> {
    this.iterator ??= this.follow();
    return this.iterator;
  }

  private async *follow(): AsyncGenerator<EntryJson> {
    let failures = 0;
    let triesOnUrl = 0;
    try {
      while (!this.stopped) {
        try {
          for await (const e of this.session(this.urlIndex, () => { failures = 0; triesOnUrl = 0; })) yield e;
        } catch (e) {
          if (this.stopped) return;
          if (e instanceof VerificationError || e instanceof EntriesReplacedError) throw e;
          this.opts.onReconnect?.({ url: this.url, error: e });
          failures++;
          // The same URL once more (a dropped connection), then the next one.
          if (++triesOnUrl >= 2) {
            triesOnUrl = 0;
            this.urlIndex = (this.urlIndex + 1) % this.ctx.urls.length;
          }
          await this.sleep(Math.min(this.opts.maxRetryDelayMs ?? 5_000, (this.opts.retryDelayMs ?? 100) * 2 ** (failures - 1)));
        }
      }
    } finally {
      this.stop();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeSleep = () => { clearTimeout(t); resolve(); };
    });
  }

  /** Hands out the entries of a verified batch from the cursor on, after making its header the anchor. */
  private *deliver(step: VerifiedStep): Generator<EntryJson> {
    this.anchorValue = step.anchor;
    for (const e of step.entries) yield* this.handOut(e);
  }

  private *handOut(e: Entry): Generator<EntryJson> {
    if (e.seq < this.cursor) return;
    this.cursor = e.seq + 1;
    yield entryToJson(e);
  }

  /** Follows the node of `urls[index]` until it fails (throws) or the watcher stops (returns). */
  private async *session(index: number, progressed: () => void): AsyncGenerator<EntryJson> {
    const url = this.ctx.urls[index];
    const node = this.ctx.node(index);
    checkSameLog(this.ctx, await node.info(), url);
    if (!this.anchorValue) yield* this.begin(node, url);
    else if (this.cursor < this.anchorValue.tip.nextSeq) yield* this.deliverStart(node, url, verifyAnchorBatch(this.ctx, this.anchorValue, await node.getBatch(this.anchorValue.tip.height), url));
    const anchor = () => this.anchorValue!;
    const feed = this.feed = new TipFeed(node, {
      fromHeight: Math.max(0, anchor().tip.height), pollIntervalMs: this.opts.pollIntervalMs ?? 500, serverPush: this.opts.serverPush ?? true, silenceMs: SILENCE_MS,
    });
    if (this.stopped) feed.stop();
    try {
      let seen: TipNotice | undefined;
      for (;;) {
        seen = await feed.next(seen);
        progressed();
        const held = anchor().tip;
        // A node at the anchor's height with another header hash: fetch its header, which must be the anchor's.
        if (seen.height === held.height && held.height >= 0 && seen.headerHash.toLowerCase() !== toHex(held.headerHash)) {
          verifyAnchorBatch(this.ctx, anchor(), await node.getBatch(held.height), url);
        }
        if (this.opts.finality === 'final') {
          yield* this.followFinal(node, url, seen.height, progressed);
          continue;
        }
        while (anchor().tip.height < seen.height && !this.stopped) {
          yield* this.deliver(verifyNextBatch(this.ctx, anchor(), await node.getBatch(anchor().tip.height + 1), url));
          progressed();
        }
      }
    } finally {
      feed.stop();
    }
  }

  /**
   * Final mode: follows the node's final height up to `tipHeight` (it trails the tip by a vote round, so it is asked
   * again until it gets there). Each range of at most FINAL_CHUNK heights above the anchor is fetched and verified,
   * then its top height's finality certificate is fetched, checked (getCertificate) and must name the header verified
   * there; only then are the range's entries handed out.
   */
  private async *followFinal(node: RpcClient, url: string, tipHeight: number, progressed: () => void): AsyncGenerator<EntryJson> {
    while (!this.stopped && this.anchorValue!.tip.height < tipHeight) {
      const finalHeight = (await node.info()).finalizedHeight;
      if (finalHeight <= this.anchorValue!.tip.height) {
        await this.sleep(FINAL_POLL_MS);
        continue;
      }
      let anchor = this.anchorValue!;
      const top = Math.min(finalHeight, anchor.tip.height + FINAL_CHUNK);
      const steps: VerifiedStep[] = [];
      while (anchor.tip.height < top) {
        const step = verifyNextBatch(this.ctx, anchor, await node.getBatch(anchor.tip.height + 1), url);
        steps.push(step);
        anchor = step.anchor;
      }
      await this.checkCertified(node, url, top, anchor.tip.headerHash);
      for (const step of steps) yield* this.deliver(step);
      progressed();
    }
  }

  /** Verifies the starting point on the node (its batch alone, or the log's start) and hands out its entries from the cursor. */
  private async *begin(node: RpcClient, url: string): AsyncGenerator<EntryJson> {
    const start = this.start;
    if (start.kind === 'anchor') {
      this.anchorValue = start.anchor;
      this.cursor = start.cursor;
      if (start.cursor < start.anchor.tip.nextSeq) yield* this.deliverStart(node, url, verifyAnchorBatch(this.ctx, start.anchor, await node.getBatch(start.anchor.tip.height), url));
      return;
    }
    // The batch before the start, verified on its own, is the anchor; a start at the beginning anchors at the log's start.
    let anchorHeight: number;
    if (start.kind === 'height') {
      anchorHeight = start.height - 1;
      this.cursor = 0;
    } else if (start.kind === 'seq') {
      this.cursor = start.seq;
      const before = start.seq === 0 ? [] : await node.read(start.seq - 1, 1);
      // Not in the log yet: anchor at the tip, and hand out from `seq` when it arrives.
      anchorHeight = start.seq === 0 ? -1 : before.length > 0 ? before[0].height : (await node.info()).height;
    } else {
      anchorHeight = (await node.info()).height;
    }
    if (anchorHeight < 0) {
      this.anchorValue = GENESIS_ANCHOR;
      return;
    }
    const step = verifyBatchAlone(this.ctx, await node.getBatch(anchorHeight), url, anchorHeight);
    // The height came from the node: a batch starting after `seq` would silently skip the entries before it.
    if (start.kind === 'seq' && step.anchor.signed!.header.firstSeq > start.seq) {
      throw new VerificationError(`${url} placed entry ${start.seq - 1} at height ${anchorHeight}, whose entries start at ${step.anchor.signed!.header.firstSeq}`, { details: { url } });
    }
    if (start.kind !== 'seq') this.cursor = step.anchor.tip.nextSeq;
    yield* this.deliverStart(node, url, step);
  }

  /**
   * The batch the watcher starts from (or resumes in): its entries from the cursor on. It was verified alone or
   * against a persisted anchor, not reached through a certified range, so in final mode its own height must first be
   * final on the node and its certificate must check and name this very header; until then nothing of it is handed
   * out (the anchor is set either way: the stream goes on from it).
   */
  private async *deliverStart(node: RpcClient, url: string, step: VerifiedStep): AsyncGenerator<EntryJson> {
    this.anchorValue = step.anchor;
    if (this.opts.finality === 'final' && this.cursor < step.anchor.tip.nextSeq) {
      const height = step.anchor.tip.height;
      while ((await node.info()).finalizedHeight < height) {
        if (this.stopped) return;
        await this.sleep(FINAL_POLL_MS);
      }
      await this.checkCertified(node, url, height, step.anchor.tip.headerHash);
    }
    yield* this.deliver(step);
  }

  /** Throws VerificationError unless the node's finality certificate of `height` checks and certifies `headerHash`. */
  private async checkCertified(node: RpcClient, url: string, height: number, headerHash: Uint8Array): Promise<void> {
    const certificate = await getCertificate(this.ctx, height, node);
    if (certificate.headerHash.toLowerCase() !== toHex(headerHash)) {
      throw new VerificationError(`${url} certified another header final at height ${height} than the one it served there`, { details: { url, height } });
    }
  }
}
