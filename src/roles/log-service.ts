/**
 * What every node serves to any peer, and asks of one (docs/protocol.md §Sync protocol, §Status): its stored
 * batches and its status. Answers are whatever the peer chose to send: callers verify what they use.
 */
import { DecodeError, equalBytes } from '../core/bytes.ts';
import type { LogRules } from '../core/rules.ts';
import type { Host } from '../p2p/host.ts';
import type { LogStore } from '../storage/log-store.ts';
import {
  MAX_FRAME_BYTES, STATUS_PROTOCOL, SYNC_MAX_BATCHES, SYNC_MAX_BYTES, SYNC_PROTOCOL,
  decodeJson, decodeSyncRequest, encodeJson, encodeSyncRequest, type Status,
} from '../wire/p2p-messages.ts';
import { NO_METRICS, type NodeMetrics } from './metrics.ts';

/** A status answer is a few hundred bytes, a few KiB with a large validator set's certificate; a larger one is refused while it is read. */
const STATUS_MAX_BYTES = 64 * 1024;
/** A sync request is exactly 44 bytes (decodeSyncRequest refuses every other length); this bounds what is read. */
const SYNC_REQUEST_MAX_BYTES = 64;

/** Every node serves its stored batches and its status. */
export async function serveLog(host: Host, store: LogStore, rules: LogRules, status: () => Promise<Status>, metrics: NodeMetrics = NO_METRICS): Promise<void> {
  await host.handleRequests(SYNC_PROTOCOL, async function* (request) {
    const req = decodeSyncRequest(request); // a malformed request throws: the stream is reset, nothing is read
    if (!equalBytes(req.logId, rules.logId)) return;
    metrics.syncServed();
    for await (const b of store.batchesFrom(req.fromHeight, req.maxBatches, SYNC_MAX_BYTES)) yield b.bytes;
  }, { maxRequestBytes: SYNC_REQUEST_MAX_BYTES });
  // The status request is an empty frame: the framing refuses (resets the stream on) any non-empty one.
  await host.handleRequests(STATUS_PROTOCOL, async () => [encodeJson(await status())], { maxRequestBytes: 0 });
}

/** Asks a peer for its status. The answer is whatever the peer chose to send: callers verify what they use. */
export async function requestStatus(host: Host, peer: string): Promise<Partial<Status>> {
  for await (const frame of host.request(peer, STATUS_PROTOCOL, new Uint8Array(0), { maxFrameBytes: STATUS_MAX_BYTES, maxFrames: 1 })) {
    const s = decodeJson(frame);
    if (s !== null && typeof s === 'object') return s as Partial<Status>;
  }
  throw new DecodeError('empty or malformed status answer');
}

/** Batches from `fromHeight` on, as a peer serves them (§Sync protocol); callers verify every one. */
export function fetchBatches(host: Host, rules: LogRules, peer: string, fromHeight: number): AsyncIterable<Uint8Array> {
  return host.request(peer, SYNC_PROTOCOL, encodeSyncRequest({ logId: rules.logId, fromHeight, maxBatches: SYNC_MAX_BATCHES }),
    { maxFrameBytes: MAX_FRAME_BYTES, maxFrames: SYNC_MAX_BATCHES });
}
