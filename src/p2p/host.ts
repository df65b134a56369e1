// Thin libp2p adapter for the sequencer: GossipSub broadcast + a length-prefixed
// request/response protocol over TCP/noise/yamux.
//
// Everything libp2p-specific stays in this file; callers only see peer ids and
// multiaddrs as strings and payloads as Uint8Array.
//
// libp2p 3 notes (the API changed a lot from 1.x/2.x):
//  - streams are no longer it-pipe duplexes ({ source, sink }). A Stream is an
//    event target ('message' | 'end' | 'close' | 'drain' | ...) that is also an
//    AsyncIterable of Uint8Array | Uint8ArrayList chunks; writing is
//    `stream.send(bytes)` (returns false => wait for `stream.onDrain()`),
//    `stream.close()` half-closes the writable end (yamux FIN) and
//    `stream.abort(err)` resets the stream.
//  - protocol handlers are `(stream, connection) => void`, not `({ stream, connection })`.
//  - the stream's built-in async iterator does not apply back-pressure (yamux
//    grants window updates on receipt), so request/response reading here is
//    event-based and enforces the frame-size/count limits as bytes arrive.

import { createHash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, StrictNoSign, TopicValidatorResult } from '@libp2p/gossipsub';
import type { GossipSub, Message } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import type { PeerScoreParams, TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify } from '@libp2p/identify';
import type { Identify } from '@libp2p/identify';
import type { PeerId, PrivateKey, Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import type { Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import type { Libp2p } from 'libp2p';

export type ValidationResult = 'accept' | 'ignore' | 'reject';

/**
 * Topic validator. This IS the delivery path for gossip: there is no separate
 * "message" event. A message counts as delivered/accepted exactly when the
 * validator returns 'accept' (it is then also forwarded to other peers).
 * 'ignore' drops it silently (use for "can't judge now", e.g. state-dependent
 * checks); 'reject' drops it AND penalises `fromPeer` (the peer that forwarded
 * it to us, not necessarily its author) in the gossipsub score - use only for
 * objectively invalid data. A throwing validator counts as 'ignore'.
 * Validators may run concurrently and in any order.
 */
export type TopicValidator = (msg: Uint8Array, fromPeer: string) => Promise<ValidationResult>;

/** Serves one request: the returned frames are sent in order, then the stream is closed. */
export type RequestHandler = (
  request: Uint8Array,
  fromPeer: string,
) => AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Promise<Iterable<Uint8Array>>;

export interface RequestOptions {
  /** Largest response frame accepted; a bigger length prefix aborts the stream. */
  maxFrameBytes: number;
  /** Most response frames accepted; one more aborts the stream. */
  maxFrames: number;
  signal?: AbortSignal;
}

export type HostLogger = (level: 'debug' | 'warn', msg: string, err?: unknown) => void;

export interface HostOptions {
  privateKey: PrivateKey;
  listenPort: number;
  /** Defaults to 127.0.0.1. */
  listenHost?: string;
  /** Multiaddrs (ideally with /p2p/<id>) dialled at start and redialled every ~1 s while not connected. */
  bootstrapPeers: string[];
  /** Largest gossip message (payload) accepted or published; at most MAX_GOSSIP_MESSAGE_BYTES (4 MiB - 64 KiB). */
  maxMessageBytes: number;
  /** Defaults to console.warn for 'warn', nothing for 'debug'. */
  log?: HostLogger;
}

export interface Host {
  readonly peerId: string;
  /** Listen addresses including the /p2p/<peerId> suffix. */
  multiaddrs(): string[];
  connectedPeers(): string[];
  /** Peers known to be subscribed to `topic` (useful for readiness checks). */
  subscribers(topic: string): string[];
  /** This node's gossipsub score for `peer` (0 for unknown peers). */
  peerScore(peer: string): number;
  /** Subscribe to `topic`; `validator` is the delivery path (see TopicValidator). */
  subscribe(topic: string, validator: TopicValidator): void;
  /** Never throws because nobody is subscribed yet (the message is then simply not delivered). */
  publish(topic: string, data: Uint8Array): Promise<void>;
  handleRequests(protocol: string, handler: RequestHandler, limits: { maxRequestBytes: number }): Promise<void>;
  /** Lazy: the stream is opened on the first iteration step. Errors (limits, resets, handler failures) throw from the iterator. */
  request(peer: string, protocol: string, request: Uint8Array, opts: RequestOptions): AsyncIterable<Uint8Array>;
  /** Returns an unsubscribe function. */
  onPeerConnected(cb: (peer: string) => void): () => void;
  stop(): Promise<void>;
}

const BOOTSTRAP_RETRY_MS = 1_000;
/** A server waits at most this long for the request frame. */
const REQUEST_READ_TIMEOUT_MS = 10_000;
/**
 * Hard cap on one gossipsub RPC frame. @libp2p/gossipsub 17 length-prefixes
 * every outbound RPC with it-length-prefixed's default maxDataLength (4 MiB,
 * not configurable: OutboundStream calls encode.single(rpc) without options);
 * a bigger RPC is dropped with only a log line. Inbound uses the same limit
 * (maxInboundDataLength) - an over-limit inbound RPC makes gossipsub drop the
 * whole peer.
 */
export const GOSSIP_MAX_RPC_BYTES = 4 * 1024 * 1024;
/**
 * Largest supported maxMessageBytes: the RPC also carries the topic, protobuf
 * framing and piggybacked control/IHAVE data, so leave 64 KiB of headroom.
 */
export const MAX_GOSSIP_MESSAGE_BYTES = GOSSIP_MAX_RPC_BYTES - 64 * 1024;

/**
 * Topic score: only P4 (invalid deliveries, i.e. validator 'reject') is active.
 * Score = -10 * n^2 for n recent rejects (n decays 5%/s): 1 reject -> -10,
 * 2 -> -40 (below gossipThreshold -10: no gossip), 3 -> -90 (below
 * graylistThreshold -80: everything from that peer is ignored until it decays).
 * Mesh-delivery penalties (P3) are off: a quiet network must not look faulty.
 */
const TOPIC_SCORE: Partial<TopicScoreParams> = {
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.95,
};

const VALIDATION: Record<ValidationResult, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

export class FrameLimitError extends Error {
  override name = 'FrameLimitError';
}

type Services = { identify: Identify; pubsub: GossipSub };

export async function createHost(opts: HostOptions): Promise<Host> {
  const log: HostLogger = opts.log ?? ((level, msg, err) => {
    if (level === 'warn') console.warn(`[p2p] ${msg}`, err ?? '');
  });
  const maxMessageBytes = opts.maxMessageBytes;
  if (!(maxMessageBytes > 0 && maxMessageBytes <= MAX_GOSSIP_MESSAGE_BYTES)) {
    throw new RangeError(`maxMessageBytes must be in (0, ${MAX_GOSSIP_MESSAGE_BYTES}] (gossipsub caps an RPC at 4 MiB)`);
  }
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const ipProto = listenHost.includes(':') ? 'ip6' : 'ip4';

  const node: Libp2p<Services> = await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: [`/${ipProto}/${listenHost}/tcp/${opts.listenPort}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // Data read before a 'message' listener is attached (or while paused) is
    // buffered up to maxReadBufferLength (default exactly 4 MiB) and the stream
    // is reset beyond it: no room for a full gossip RPC plus its length prefix.
    streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: 2 * GOSSIP_MAX_RPC_BYTES } })],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign, // authenticated at application level
        msgIdFn: (msg: Message) => createHash('sha256').update(msg.data).digest(),
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true, // same bytes => same id: re-publishing is a no-op
        fallbackToFloodsub: false,
        // Small-network mesh. Our own messages go to every subscribed peer
        // anyway (floodPublish), so a node attached through a single bootstrap
        // peer receives them; relayed messages use the mesh, which is filled
        // on the (default 1 s) heartbeat once subscriptions are exchanged.
        floodPublish: true,
        D: 4,
        Dlo: 2,
        Dhi: 8,
        Dscore: 2,
        Dout: 1,
        // Limit on a whole inbound RPC frame (payload + envelope); this is the
        // default, spelled out because it must match the outbound cap.
        maxInboundDataLength: GOSSIP_MAX_RPC_BYTES,
      }),
    },
  });

  const pubsub = node.services.pubsub;
  // topicValidators/subscribe/publish are on the public GossipSub interface;
  // per-topic score params and getScore() only exist on the implementation class.
  const internals = pubsub as unknown as {
    score?: { params: PeerScoreParams };
    getScore?: (peer: string) => number;
  };

  // ---- bootstrap / redial -------------------------------------------------
  const selfId = node.peerId.toString();
  const lifetime = new AbortController();
  const targets = opts.bootstrapPeers.map((addr) => {
    const ma = multiaddr(addr);
    return { ma, peerId: peerIdOf(ma), dialing: false };
  });

  const redial = (): void => {
    if (lifetime.signal.aborted) return;
    for (const t of targets) {
      if (t.dialing || t.peerId === selfId) continue;
      if (t.peerId != null && node.getConnections(peerIdFromString(t.peerId)).length > 0) continue;
      t.dialing = true;
      node.dial(t.ma, { signal: lifetime.signal })
        .then((conn) => { t.peerId ??= conn.remotePeer.toString(); })
        .catch((err: unknown) => { log('debug', `bootstrap dial ${t.ma.toString()} failed`, err); })
        .finally(() => { t.dialing = false; });
    }
  };
  const timer = setInterval(redial, BOOTSTRAP_RETRY_MS);
  timer.unref();
  const onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    if (targets.some((t) => t.peerId === id)) setTimeout(redial, 50).unref();
  };
  node.addEventListener('peer:disconnect', onDisconnect);
  redial();

  // ---- facade -------------------------------------------------------------
  const host: Host = {
    peerId: selfId,

    multiaddrs: () => node.getMultiaddrs().map((ma) => ma.toString()),

    connectedPeers: () => node.getPeers().map((p) => p.toString()),

    subscribers: (topic) => pubsub.getSubscribers(topic).map((p) => p.toString()),

    peerScore: (peer) => internals.getScore?.(peer) ?? 0,

    subscribe(topic, validator) {
      const score = internals.score;
      if (score != null) score.params.topics[topic] ??= createTopicScoreParams(TOPIC_SCORE);
      else log('warn', `gossipsub internals changed: no score params for ${topic}, rejects will not be penalised`);

      pubsub.topicValidators.set(topic, async (from: PeerId, msg: Message) => {
        // Per-message limit; gossipsub itself only limits whole RPC frames.
        if (msg.data.byteLength > maxMessageBytes) return TopicValidatorResult.Reject;
        try {
          return VALIDATION[await validator(msg.data, from.toString())] ?? TopicValidatorResult.Ignore;
        } catch (err) {
          log('warn', `validator for ${topic} threw; ignoring message`, err);
          return TopicValidatorResult.Ignore;
        }
      });
      pubsub.subscribe(topic);
    },

    async publish(topic, data) {
      if (data.byteLength > maxMessageBytes) {
        throw new RangeError(`message of ${data.byteLength} bytes exceeds maxMessageBytes ${maxMessageBytes}`);
      }
      try {
        await pubsub.publish(topic, data);
      } catch (err) {
        // Both are disabled by options above; keep publish non-throwing if a
        // future gossipsub ignores them.
        if (/NoPeersSubscribedToTopic|Duplicate/.test((err as Error).message)) return;
        throw err;
      }
    },

    async handleRequests(protocol, handler, limits) {
      await node.handle(protocol, async (stream, connection) => {
        const from = connection.remotePeer.toString();
        try {
          let request: Uint8Array | undefined;
          const reader = new FrameReader(stream, limits.maxRequestBytes, 1);
          for await (const frame of reader.frames(AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS))) {
            request = frame;
            break;
          }
          if (request == null) throw new Error('stream ended without a request frame');
          const out = handler(request, from);
          const frames = isAsyncIterable(out) ? out : isPromise(out) ? await out : out;
          for await (const frame of frames) await writeFrame(stream, frame);
          await stream.close();
        } catch (err) {
          // Reset rather than FIN: a FIN would make a truncated response look
          // complete to the client; a reset makes its iterator throw.
          log('debug', `${protocol} request from ${from} failed`, err);
          stream.abort(toError(err));
        }
      });
    },

    request(peer, protocol, request, ropts) {
      return (async function* () {
        ropts.signal?.throwIfAborted();
        const stream = await node.dialProtocol(peerIdFromString(peer), protocol, { signal: ropts.signal });
        // attach before sending so the response (and its FIN) cannot be missed
        const reader = new FrameReader(stream, ropts.maxFrameBytes, ropts.maxFrames);
        try {
          await writeFrame(stream, request, ropts.signal);
          await stream.close({ signal: ropts.signal }); // half-close: request complete
          yield* reader.frames(ropts.signal);
        } catch (err) {
          stream.abort(toError(err));
          throw err;
        } finally {
          reader.detach();
          // consumer stopped early (break/return): release the stream
          if (stream.status === 'open') stream.abort(new Error('request cancelled by caller'));
        }
      })();
    },

    onPeerConnected(cb) {
      const listener = (evt: CustomEvent<PeerId>): void => {
        // an exception thrown from an EventTarget listener would be an uncaught exception
        try {
          cb(evt.detail.toString());
        } catch (err) {
          log('warn', 'onPeerConnected callback threw', err);
        }
      };
      node.addEventListener('peer:connect', listener);
      return () => { node.removeEventListener('peer:connect', listener); };
    },

    async stop() {
      if (lifetime.signal.aborted) return;
      lifetime.abort();
      clearInterval(timer);
      node.removeEventListener('peer:disconnect', onDisconnect);
      await node.stop();
    },
  };
  return host;
}

// ---- helpers ---------------------------------------------------------------

function peerIdOf(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
}

/** The peer id a multiaddr names (its last /p2p/ component), if any. Throws on a malformed multiaddr. */
export function peerIdOfAddress(addr: string): string | undefined {
  return peerIdOf(multiaddr(addr));
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isAsyncIterable<T>(x: unknown): x is AsyncIterable<T> {
  return x != null && typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

function isPromise<T>(x: unknown): x is Promise<T> {
  return x != null && typeof (x as Promise<T>).then === 'function';
}

/** Unsigned LEB128 varint, as used by it-length-prefixed / multiformats. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad varint value ${n}`);
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

async function writeFrame(stream: Stream, data: Uint8Array, signal?: AbortSignal): Promise<void> {
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
class FrameReader {
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
