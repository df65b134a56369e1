/**
 * Where one node's log stands, as it grows: from the node's server push (`GET /events`, Server-Sent Events, read
 * with fetch so that it runs in browsers and Node alike) when it offers it, else by polling sequencer_info. A
 * notice is only a hint of what to fetch next: whatever it says is verified when the batches are. Any failure
 * (the stream ends, a poll fails) is kept and thrown to the waiting caller, which reconnects.
 */
import { BaseError } from '../core/errors.ts';
import type { RpcClient } from './rpc-client.ts';

export interface TipNotice {
  readonly height: number;
  readonly headerHash: string;
}

export interface TipFeedOptions {
  /** The first height of interest: the stream starts with the tip when it is at or above it. */
  readonly fromHeight: number;
  readonly pollIntervalMs: number;
  /** Use the node's /events stream when it answers it (true by default). */
  readonly serverPush: boolean;
  /** A stream silent for this long (no event, no keep-alive) is taken for dead. */
  readonly silenceMs: number;
}

/** An event line longer than this is refused (a node must not make the client buffer without bound). */
const MAX_EVENT_BYTES = 64 * 1024;

export class StreamError extends BaseError {
  static { this.prototype.name = 'StreamError'; }
}

export class TipFeed {
  private latest: TipNotice | undefined;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  /** 'push' once the node's stream is open; 'poll' when it does not offer one. */
  mode: 'push' | 'poll' | 'starting' = 'starting';

  private readonly node: RpcClient;
  private readonly opts: TipFeedOptions;

  constructor(node: RpcClient, opts: TipFeedOptions) {
    this.node = node;
    this.opts = opts;
    void this.run().catch((e: unknown) => this.fail(e));
  }

  stop(): void {
    this.abort.abort();
    this.fail(new StreamError('stopped'));
  }

  /** The first notice that differs from `seen` (a new height or a new hash); throws the feed's failure. */
  async next(seen: TipNotice | undefined): Promise<TipNotice> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const l = this.latest;
      if (l && (!seen || l.height !== seen.height || l.headerHash !== seen.headerHash)) return l;
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
  }

  private notify(n: TipNotice): void {
    this.latest = n;
    this.wake?.();
  }

  private fail(e: unknown): void {
    if (this.failure === undefined) this.failure = e;
    this.wake?.();
  }

  private async run(): Promise<void> {
    if (this.opts.serverPush && (await this.push())) return;
    this.mode = 'poll';
    while (!this.abort.signal.aborted) {
      const info = await this.node.info();
      this.notify({ height: info.height, headerHash: info.headerHash });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.pollIntervalMs);
        this.abort.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
      });
    }
  }

  /** Follows the node's event stream until it ends (then throws); false at once if the node has none. */
  private async push(): Promise<boolean> {
    const url = new URL('events', this.node.url.endsWith('/') ? this.node.url : `${this.node.url}/`);
    url.searchParams.set('fromHeight', String(this.opts.fromHeight));
    let res: Response;
    try {
      res = await this.node.fetch(url, { headers: { accept: 'text/event-stream' }, signal: this.abort.signal });
    } catch (e) {
      if (this.abort.signal.aborted) return true;
      throw e;
    }
    if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel().catch(() => {});
      return false;
    }
    this.mode = 'push';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let silence: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(silence);
      silence = setTimeout(() => void reader.cancel().catch(() => {}), this.opts.silenceMs);
    };
    try {
      arm();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        arm();
        buffer += decoder.decode(r.value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.onEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        if (buffer.length > MAX_EVENT_BYTES) throw new StreamError(`an event of ${this.node.url} exceeds ${MAX_EVENT_BYTES} bytes`);
      }
    } finally {
      clearTimeout(silence);
    }
    if (this.abort.signal.aborted) return true;
    throw new StreamError(`the event stream of ${this.node.url} ended`);
  }

  private onEvent(block: string): void {
    let type = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) type = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (type !== 'tip' || !data) return;
    const v = JSON.parse(data) as { height?: unknown; headerHash?: unknown };
    if (typeof v.height !== 'number' || typeof v.headerHash !== 'string') throw new StreamError(`a malformed tip event from ${this.node.url}`);
    this.notify({ height: v.height, headerHash: v.headerHash });
  }
}
