/**
 * The framing of the request/response protocols (docs/protocol.md §Request/response framing): each frame is an
 * unsigned LEB128 varint length followed by that many bytes; a response is complete only when the remote
 * half-closes its side (FIN).
 *
 * Why not @libp2p/utils' lpStream / LengthPrefixedDecoder: the decoder drops zero-length frames (an empty frame
 * is a valid request or response frame here) and judges a length only once its whole varint has arrived; lpStream
 * reads as the consumer pulls, so a frame-count limit is checked only when frames are consumed. Here both limits
 * are enforced as bytes arrive (a peer announcing a huge frame is refused from its first prefix byte, before
 * anything is buffered), and a connection that drops mid-response is an error, never a short answer.
 *
 * libp2p 3 streams (see host.ts) are event targets: 'message' carries received bytes, 'remoteCloseWrite' the
 * remote's FIN, 'end' the end of the readable side, 'close' the stream's end (with an error if it was reset).
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { BaseError, InvalidArgumentError } from '../core/errors.ts';

/** A frame broke a limit (size, count) or the framing itself; the stream is reset. */
export class FrameLimitError extends BaseError {
  override name = 'FrameLimitError';
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Unsigned LEB128 varint, as used by it-length-prefixed / multiformats. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`bad varint value ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** Sends one frame, waiting for the stream to drain if its send buffer is full. */
export async function writeFrame(stream: Stream, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  const a = stream.send(encodeVarint(data.byteLength));
  const b = data.byteLength === 0 || stream.send(data);
  if (!a || !b) await stream.onDrain({ signal });
}

/**
 * Incremental decoder of varint-length-prefixed frames. Rejects a frame as soon
 * as its length prefix exceeds `maxFrameBytes`, so an oversized frame is never
 * buffered.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number;
  private chunks: Uint8Array[] = [];
  private size = 0;
  private frameLen = -1; // -1: length prefix not decoded yet

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** True if bytes of an incomplete frame (or prefix) are buffered. */
  get partial(): boolean {
    return this.size > 0 || this.frameLen >= 0;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.size += chunk.byteLength;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.frameLen < 0) {
        const len = this.readPrefix();
        if (len === undefined) break;
        this.frameLen = len;
      }
      if (this.size < this.frameLen) break;
      frames.push(this.take(this.frameLen));
      this.frameLen = -1;
    }
    return frames;
  }

  private readPrefix(): number | undefined {
    let value = 0;
    let scale = 1;
    let n = 0;
    for (const chunk of this.chunks) {
      for (const byte of chunk) {
        value += (byte & 0x7f) * scale;
        n++;
        // value only grows with more bytes, so reject as early as possible
        if (value > this.maxFrameBytes) {
          throw new FrameLimitError(`frame length ${value}+ exceeds limit ${this.maxFrameBytes}`);
        }
        if (byte < 0x80) {
          this.consume(n);
          return value;
        }
        if (n >= 8) throw new FrameLimitError('malformed length prefix');
        scale *= 0x80;
      }
    }
    return undefined;
  }

  private consume(n: number): void {
    this.size -= n;
    while (n > 0) {
      const head = this.chunks[0];
      if (head.byteLength <= n) {
        this.chunks.shift();
        n -= head.byteLength;
      } else {
        this.chunks[0] = head.subarray(n);
        n = 0;
      }
    }
  }

  private take(n: number): Uint8Array {
    const head = this.chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (head.byteLength >= n) {
      const frame = head.subarray(0, n);
      this.consume(n);
      return frame;
    }
    const frame = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const k = Math.min(c.byteLength, n - off);
      frame.set(c.subarray(0, k), off);
      off += k;
      this.consume(k);
    }
    return frame;
  }
}

/**
 * Collects varint-length-prefixed frames from `stream` until the remote
 * half-closes it (FIN). Listeners are attached in the constructor, so create it
 * before anything can arrive. Limits are enforced as data arrives (not as the
 * consumer pulls), so buffered memory is bounded by maxFrames * maxFrameBytes;
 * any violation aborts (resets) the stream and makes the iterator throw.
 *
 * A response only counts as complete if the remote sent FIN: a connection that
 * drops (or a peer that resets) mid-response makes the iterator throw instead
 * of ending, so a truncated response is never mistaken for a complete one.
 */
export class FrameReader {
  private readonly stream: Stream;
  private readonly maxFrames: number;
  private readonly decoder: FrameDecoder;
  private readonly ready: Uint8Array[] = [];
  private received = 0;
  private finSeen: boolean;
  private endSeen: boolean;
  private closeSeen: boolean;
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(stream: Stream, maxFrameBytes: number, maxFrames: number) {
    this.stream = stream;
    this.maxFrames = maxFrames;
    this.decoder = new FrameDecoder(maxFrameBytes);
    stream.addEventListener('message', this.onMessage);
    stream.addEventListener('remoteCloseWrite', this.onFin);
    stream.addEventListener('end', this.onEnd);
    stream.addEventListener('close', this.onClose);
    // If the remote already half-closed we cannot tell FIN from a dropped
    // connection; only the server side (reading the request) can hit this.
    this.finSeen = stream.remoteWriteStatus === 'closed';
    this.endSeen = stream.readableEnded;
    this.closeSeen = stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset';
    if (stream.status === 'aborted' || stream.status === 'reset') this.failure = new Error(`stream ${stream.status}`);
    this.settle();
  }

  detach(): void {
    this.stream.removeEventListener('message', this.onMessage);
    this.stream.removeEventListener('remoteCloseWrite', this.onFin);
    this.stream.removeEventListener('end', this.onEnd);
    this.stream.removeEventListener('close', this.onClose);
  }

  async *frames(signal?: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
    const onAbort = (): void => { this.fail(toError(signal?.reason ?? new Error('aborted'))); };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted === true) onAbort();
      for (;;) {
        if (this.failure != null) throw this.failure;
        const frame = this.ready.shift();
        if (frame !== undefined) {
          yield frame;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => { this.wake = resolve; });
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.detach();
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private fail(err: Error): void {
    if (this.failure == null) {
      this.failure = err;
      this.stream.abort(err);
    }
    this.notify();
  }

  private settle(): void {
    if (this.failure == null && !this.ended) {
      if (this.endSeen && this.finSeen) {
        if (this.decoder.partial) this.fail(new FrameLimitError('stream ended inside a frame'));
        else this.ended = true;
      } else if (this.closeSeen && !this.finSeen) {
        this.failure = new Error('stream closed before the remote finished sending');
      }
      // closeSeen && finSeen && !endSeen: buffered data is still being
      // dispatched; 'end' follows it.
    }
    this.notify();
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    if (this.failure != null || this.ended) return;
    try {
      for (const frame of this.decoder.push(evt.data.subarray())) {
        if (++this.received > this.maxFrames) throw new FrameLimitError(`more than ${this.maxFrames} frames`);
        this.ready.push(frame);
      }
    } catch (err) {
      this.fail(toError(err));
      return;
    }
    this.notify();
  };

  private readonly onFin = (): void => { this.finSeen = true; };

  private readonly onEnd = (): void => {
    this.endSeen = true;
    this.settle();
  };

  private readonly onClose = (evt: StreamCloseEvent): void => {
    this.closeSeen = true;
    if (evt.error != null) this.failure ??= evt.error;
    this.settle();
  };
}
