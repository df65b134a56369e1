/**
 * Yamux window updates (src/p2p/yamux-window.ts): a node receiving a stream of small gossip messages answers them
 * with a window update only once half its receive window is used, not one per message. Measured on real nodes with
 * the Noise packet counter of their metrics: what the receiving replica sends back while 100 batches arrive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { clientSigner, startPrimaryAndReplica, waitFor } from './helpers/network.ts';

async function packetsSent(node: SequencerNode): Promise<number> {
  const { body } = await node.metricsText();
  const line = body.split('\n').find((l) => l.startsWith('libp2p_noise_encrypted_packets_total'));
  return Number(line?.split(' ').at(-1) ?? NaN);
}

test('a replica receiving 100 small batches sends far fewer than 100 packets back (window updates at half the window, not per frame)', async (t) => {
  const { primary, replica } = await startPrimaryAndReplica(t);
  const signer = clientSigner();
  await primary.append(signer.sign({ nonce: 0n, transactions: [new Uint8Array(8)] }));
  await waitFor(() => replica.info().height === 0, 10_000, 'replica in step');
  const before = await packetsSent(replica);
  for (let i = 1n; i <= 100n; i++) await primary.append(signer.sign({ nonce: i, transactions: [new Uint8Array(8)] }));
  await waitFor(() => replica.info().height === 100, 10_000, 'replica stored the 100 batches');
  const sent = (await packetsSent(replica)) - before;
  // Each batch is one gossip message well below the window and below GossipSub's IDONTWANT size; what the replica
  // sends meanwhile is its periodic sync request and, before this change, one window update per message received.
  assert.ok(sent < 30, `${sent} packets sent back for 100 batches received`);
});
