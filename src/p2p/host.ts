// The sequencer's network host: GossipSub broadcast with validators, a framed
// request/response protocol, and redial of the configured peers, behind a
// facade (Host) that shows callers only peer ids and multiaddrs as strings and
// payloads as Uint8Array. The libp2p configuration is in libp2p-node.ts, the
// request/response framing in framing.ts.
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
//    grants window updates on receipt), so request/response reading is
//    event-based and enforces the frame-size/count limits as bytes arrive
//    (framing.ts).

import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Message } from '@libp2p/gossipsub';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Multiaddr } from '@multiformats/multiaddr';
import { FrameLimitError, FrameReader, toError, writeFrame } from './framing.ts';
import { createLibp2pNode, MAX_GOSSIP_MESSAGE_BYTES, peerScore, type Libp2pMetricsFactory, type Libp2pNode } from './libp2p-node.ts';
import { InvalidArgumentError } from '../core/errors.ts';

// Callers and tests reach the whole p2p surface through this module.
export { FrameDecoder, FrameLimitError, encodeVarint } from './framing.ts';
export { GOSSIP_MAX_RPC_BYTES, MAX_GOSSIP_MESSAGE_BYTES } from './libp2p-node.ts';

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
  /** libp2p's own metrics (the node passes @libp2p/prometheus-metrics bound to its registry); none by default. */
  metrics?: Libp2pMetricsFactory;
  /** Topics on which a rejected message penalises the peer that relayed it (the node's batch and proof topics). */
  scoredTopics?: readonly string[];
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

const VALIDATION: Record<ValidationResult, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

export async function createHost(opts: HostOptions): Promise<Host> {
  const log: HostLogger = opts.log ?? ((level, msg, err) => {
    if (level === 'warn') console.warn(`[p2p] ${msg}`, err ?? '');
  });
  const maxMessageBytes = opts.maxMessageBytes;
  if (!(maxMessageBytes > 0 && maxMessageBytes <= MAX_GOSSIP_MESSAGE_BYTES)) {
    throw new InvalidArgumentError(`maxMessageBytes must be in (0, ${MAX_GOSSIP_MESSAGE_BYTES}] (gossipsub caps an RPC at 4 MiB)`);
  }
  const node = await createLibp2pNode({
    privateKey: opts.privateKey, listenHost: opts.listenHost ?? '127.0.0.1', listenPort: opts.listenPort, metrics: opts.metrics,
    scoredTopics: opts.scoredTopics ?? [],
  });
  const pubsub = node.services.pubsub;
  const stopRedial = redialBootstrapPeers(node, opts.bootstrapPeers, log);
  let stopped = false;

  return {
    peerId: node.peerId.toString(),

    multiaddrs: () => node.getMultiaddrs().map((ma) => ma.toString()),

    connectedPeers: () => node.getPeers().map((p) => p.toString()),

    subscribers: (topic) => pubsub.getSubscribers(topic).map((p) => p.toString()),

    peerScore: (peer) => peerScore(pubsub, peer),

    subscribe(topic, validator) {
      if (!opts.scoredTopics?.includes(topic)) log('debug', `${topic} is not a scored topic: its rejects do not penalise the relay`);
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
        throw new InvalidArgumentError(`message of ${data.byteLength} bytes exceeds maxMessageBytes ${maxMessageBytes}`);
      }
      try {
        await pubsub.publish(topic, data);
      } catch (err) {
        // Both are disabled by options (libp2p-node.ts); keep publish
        // non-throwing if a future gossipsub ignores them.
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
          if (request == null) throw new FrameLimitError('stream ended without a request frame');
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
      if (stopped) return;
      stopped = true;
      stopRedial();
      await node.stop();
    },
  };
}

/**
 * Dials every bootstrap peer now, again every BOOTSTRAP_RETRY_MS while it is not connected, and soon after it
 * disconnects. Returns the function that stops redialling (and aborts dials in flight).
 */
function redialBootstrapPeers(node: Libp2pNode, bootstrapPeers: readonly string[], log: HostLogger): () => void {
  const selfId = node.peerId.toString();
  const lifetime = new AbortController();
  const targets = bootstrapPeers.map((addr) => {
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

  return () => {
    lifetime.abort();
    clearInterval(timer);
    node.removeEventListener('peer:disconnect', onDisconnect);
  };
}

function peerIdOf(ma: Multiaddr): string | undefined {
  return ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
}

/** The peer id a multiaddr names (its last /p2p/ component), if any. Throws on a malformed multiaddr. */
export function peerIdOfAddress(addr: string): string | undefined {
  return peerIdOf(multiaddr(addr));
}

function isAsyncIterable<T>(x: unknown): x is AsyncIterable<T> {
  return x != null && typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

function isPromise<T>(x: unknown): x is Promise<T> {
  return x != null && typeof (x as Promise<T>).then === 'function';
}
