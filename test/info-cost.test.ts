/**
 * sequencer_info is cheap enough to poll every few milliseconds (issue 8): what is costly to build and changes
 * slowly is not rebuilt per call. The process figures are covered in process-stats.test.ts; here, libp2p's peer
 * lists (every peer id and multiaddr encoded anew by each host call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Host } from '../src/p2p/host.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { client, startPrimaryAndReplica, waitFor } from './helpers/network.ts';

/** Counts the calls of the node's host's peer-list builders (a private field: no API exposes the host). */
function countPeerListBuilds(node: SequencerNode): { readonly multiaddrs: number; readonly connectedPeers: number } {
  const host = (node as unknown as { host: Host }).host as { -readonly [K in keyof Host]: Host[K] };
  const counts = { multiaddrs: 0, connectedPeers: 0 };
  const { multiaddrs, connectedPeers } = host;
  host.multiaddrs = () => { counts.multiaddrs++; return multiaddrs(); };
  host.connectedPeers = () => { counts.connectedPeers++; return connectedPeers(); };
  return counts;
}

test('many sequencer_info calls build the peer lists once, and report them as the host does', async (t) => {
  const { primary, replica } = await startPrimaryAndReplica(t);
  const primaryPeer = (await client(primary).info()).peerId;
  await waitFor(async () => (await client(replica).info()).connectedPeers.includes(primaryPeer), 10_000, 'replica connected');
  const counts = countPeerListBuilds(replica);
  const infos = Array.from({ length: 500 }, () => replica.info());
  assert.ok(counts.multiaddrs <= 1 && counts.connectedPeers <= 1, `500 info calls built the lists ${JSON.stringify(counts)} times`);
  for (const info of infos) {
    assert.deepEqual(info.connectedPeers, [primaryPeer]);
    assert.deepEqual(info.multiaddrs, replica.multiaddrs());
  }
});
