/**
 * The libp2p node the sequencer runs: TCP, noise, yamux, identify and GossipSub tuned for a small permissioned
 * network, with peer scoring that penalises only invalid messages. Everything about how libp2p is configured
 * lives here; host.ts builds the sequencer's facade on top.
 */
import { hash } from 'node:crypto';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { useHalfWindowUpdates } from './yamux-window.ts';
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub';
import type { GossipSub, Message } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import type { TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify } from '@libp2p/identify';
import type { Identify } from '@libp2p/identify';
import type { ComponentLogger, Metrics, PrivateKey } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { createLibp2p } from 'libp2p';
import type { Libp2p } from 'libp2p';
import { fastNoiseCrypto } from './noise-crypto.ts';

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

export type Libp2pNode = Libp2p<{ identify: Identify; pubsub: GossipSub }>;

/** Builds libp2p's own metrics (connections, streams, gossipsub, bytes transferred), e.g. @libp2p/prometheus-metrics. */
export type Libp2pMetricsFactory = (components: { logger: ComponentLogger }) => Metrics;

export interface Libp2pNodeOptions {
  readonly privateKey: PrivateKey;
  readonly listenHost: string;
  readonly listenPort: number;
  /** libp2p's own metrics; none by default. */
  readonly metrics?: Libp2pMetricsFactory;
  /**
   * Topics whose invalid messages penalise the relaying peer (TOPIC_SCORE). GossipSub copies its score parameters
   * at construction, so they are fixed here, through its public `scoreParams` option.
   */
  readonly scoredTopics: readonly string[];
}

export function createLibp2pNode(opts: Libp2pNodeOptions): Promise<Libp2pNode> {
  useHalfWindowUpdates();
  const ipProto = opts.listenHost.includes(':') ? 'ip6' : 'ip4';
  return createLibp2p({
    privateKey: opts.privateKey,
    metrics: opts.metrics,
    addresses: { listen: [`/${ipProto}/${opts.listenHost}/tcp/${opts.listenPort}`] },
    transports: [tcp()],
    // Same wire as noise()'s default crypto, cheaper per message (noise-crypto.ts).
    connectionEncrypters: [noise({ crypto: fastNoiseCrypto })],
    // Data read before a 'message' listener is attached (or while paused) is
    // buffered up to maxReadBufferLength (default exactly 4 MiB) and the stream
    // is reset beyond it: no room for a full gossip RPC plus its length prefix.
    streamMuxers: [yamux({ streamOptions: { maxReadBufferLength: 2 * GOSSIP_MAX_RPC_BYTES } })],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign, // authenticated at application level
        // One-shot hash: no Hash object per message (every batch is hashed once on each node for its id).
        msgIdFn: (msg: Message) => hash('sha256', msg.data, 'buffer'),
        emitSelf: false,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true, // same bytes => same id: re-publishing is a no-op
        fallbackToFloodsub: false,
        // Small-network mesh. Our own messages go to every subscribed peer
        // anyway (floodPublish), so a node attached through a single bootstrap
        // peer receives them; relayed messages use the mesh, which is filled
        // on the (default 1 s) heartbeat once subscriptions are exchanged.
        floodPublish: true,
        // A batch we publish is encoded (protobuf, length prefix) once for all its recipients instead of once per
        // peer; control messages it would have carried go out on the next heartbeat instead.
        batchPublish: true,
        D: 4,
        Dlo: 2,
        Dhi: 8,
        Dscore: 2,
        Dout: 1,
        // The message cache holds whole batches for IHAVE/IWANT repair, by default for 5 heartbeats (5 s): tens
        // of MiB at full rate (issue 8). Replicas repair gaps by sync (src/roles/replica.ts), so no IHAVE is
        // advertised and a message is kept only until the next heartbeat (forwarding happens at validation).
        mcacheLength: 1,
        mcacheGossip: 0,
        // Limit on a whole inbound RPC frame (payload + envelope); this is the
        // default, spelled out because it must match the outbound cap.
        maxInboundDataLength: GOSSIP_MAX_RPC_BYTES,
        scoreParams: { topics: Object.fromEntries(opts.scoredTopics.map((t) => [t, createTopicScoreParams(TOPIC_SCORE)])) },
      }),
    },
  });
}

/**
 * This node's gossipsub score for `peer` (0 for unknown peers). GossipSub 17's class has a public getScore, but the
 * interface gossipsub() returns leaves it out; reading it is diagnostic only (tests, operators), never a decision.
 */
export function peerScore(pubsub: GossipSub, peer: string): number {
  return (pubsub as unknown as { getScore?: (peer: string) => number }).getScore?.(peer) ?? 0;
}
