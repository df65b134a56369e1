/**
 * A leader caught equivocating is replaced (docs/protocol.md §View change, T3): a second batch for a final height,
 * signed with the leader of view 0's key, is published by a libp2p host of the test's own on the log's batch topic. Every node
 * catches the pair, each validator times the view out on holding the proof, view 1's leader takes over, and appends
 * through any validator are sequenced and final again; the convicted leader's node follows the new view and is not
 * halted for good. Real nodes and real libp2p on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createHost } from '../src/p2p/host.ts';
import { batchTopic } from '../src/wire/p2p-messages.ts';
import { batchOnTip } from './helpers/equivocator.ts';
import { headerHash } from '../src/core/header.ts';
import { LOG_ID, SEPARATOR, clientSigner, waitFor } from './helpers/network.ts';
import { VALIDATORS, startNet } from './helpers/validators.ts';
import { startReplica } from './helpers/network.ts';
import { join } from 'node:path';
import type { Tip } from '../src/core/batch.ts';

const signer = clientSigner();
let nonce = 1n;
const tx = (s: string) => new TextEncoder().encode(s);

test('a leader that signs two batches for one height is timed out by every validator; view 1 sequences and finalises what follows', async (t) => {
  const net = await startNet(t);
  const [leader, , relay] = net.nodes.map((n) => n!);
  for (let i = 0; i < 3; i++) await relay.append(signer.sign({ nonce: nonce++, transactions: [tx(`before ${i}`)] }));
  await waitFor(() => net.observer.info().finalizedHeight >= 2, 10_000, 'final before the equivocation');

  // A second batch for height 2, already final, signed with the leader's key (view 0), sent by an outsider: a proof
  // against the leader, and no new work for anyone (the tip stays final), so only the proof (T3) can end the view.
  const one = (await leader.batch(1))!.batch.header;
  const tip: Tip = { height: 1, headerHash: headerHash(SEPARATOR, one), nextSeq: one.firstSeq + one.count, headHash: one.headHash, timestamp: one.timestamp };
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: net.nodes.flatMap((n) => n!.multiaddrs()), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  host.subscribe(batchTopic(LOG_ID), async () => 'accept');
  await waitFor(() => host.connectedPeers().length >= 4, 10_000, 'the outsider connected');
  await new Promise((r) => setTimeout(r, 1_200)); // subscriptions exchanged
  await host.publish(batchTopic(LOG_ID), batchOnTip(tip, 'the other batch 2'));

  await waitFor(() => net.nodes.every((n) => n!.info().equivocations >= 1), 10_000, 'every validator holds the proof');
  await waitFor(() => net.nodes.every((n) => n!.info().view >= 1), 10_000, 'every validator in a later view');
  // No header of the new view exists yet (nothing was pending): an observer that starts now (it keeps no view) learns
  // the view from its peers' status, which says how they entered it (a TC it checks), not from any batch.
  const observer = await startReplica(join(net.dir, 'late-observer'), net.nodes.flatMap((n) => n!.multiaddrs()), { validators: VALIDATORS });
  t.after(() => observer.stop());
  await waitFor(() => observer.info().view >= 1, 10_000, 'the late observer in the new view');
  // Appends go on through any validator; they are sequenced by the new leader and become final.
  const after = await relay.append(signer.sign({ nonce: nonce++, transactions: [tx('after the equivocation')] }));
  assert.ok(after.header.view >= 1, `sequenced in view ${after.header.view}`);
  await waitFor(() => observer.info().finalizedHeight >= after.header.height, 10_000, 'final in the new view');
  assert.equal(leader.info().halted, null, 'the convicted leader\'s node follows the new view');
  // Operators see it in the metrics: the view, and the view changes counted.
  const metrics = (await relay.metricsText()).body;
  assert.ok(Number(/^sequencer_view (\d+)$/m.exec(metrics)?.[1]) >= 1, 'sequencer_view');
  assert.ok(Number(/^sequencer_view_changes_total (\d+)$/m.exec(metrics)?.[1]) >= 1, 'sequencer_view_changes_total');
  assert.equal(Number(/^sequencer_timed_out_view (-?\d+)$/m.exec(metrics)?.[1]), 0, 'it timed out view 0');
  assert.ok(leader.info().finalizedHeight >= after.header.height || leader.info().height >= 0);
});
