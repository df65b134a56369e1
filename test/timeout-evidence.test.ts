/**
 * Accountability in view changes (docs/protocol.md §Equivocation proofs, kinds 5 and 6): a validator whose key signs
 * a timeout reporting a lock below a commit vote it cast (a lock lie), or two different timeouts for one view (a
 * timeout conflict), is caught by every node that verifies the timeouts: each holds the proof, lists it and can
 * slash with it. The timeouts are signed with a validator's key by the test and published by its own libp2p host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { toHex } from '../src/core/bytes.ts';
import { sign } from '../src/core/signature.ts';
import { encodeTimeoutTopicMessage } from '../src/core/timeout.ts';
import { digestOfTimeout, type LockRef } from '../src/core/vote.ts';
import type { Certificate } from '../src/core/certificate.ts';
import { createHost } from '../src/p2p/host.ts';
import { timeoutTopic } from '../src/wire/p2p-messages.ts';
import { LOG_ID, clientSigner, waitFor } from './helpers/network.ts';
import { KEYS, VALIDATORS, startNet } from './helpers/validators.ts';

const BYZANTINE = 3;

test('a lock lie and two timeouts for one view by one validator become kind 5 and kind 6 proofs on every node', async (t) => {
  const net = await startNet(t);
  const [first, second] = [net.nodes[1]!, net.nodes[2]!];
  const signer = clientSigner();
  for (let i = 0; i < 3; i++) await first.append(signer.sign({ nonce: BigInt(i + 1), transactions: [new TextEncoder().encode(`tx ${i}`)] }));
  // Every node counted the Byzantine validator's commit votes up to the final height.
  await waitFor(() => [...net.nodes.map((n) => n!), net.observer].every((n) => n.info().finalizedHeight === n.info().height && n.info().height >= 2), 10_000, 'all final');
  const fc = (await second.finalityCertificate(second.info().finalizedHeight))!;
  const lock: LockRef = { view: fc.certificate.view, height: fc.certificate.height, headerHash: fc.certificate.headerHash };
  const timeout = (view: number, l: LockRef | null, certificate?: Certificate) => encodeTimeoutTopicMessage({
    kind: 'timeout',
    message: { view, lock: l, signerIndex: BYZANTINE, signature: sign(digestOfTimeout(first.rules, view, l), KEYS[BYZANTINE]), certificate },
  });

  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: net.nodes.flatMap((n) => n!.multiaddrs()), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  host.subscribe(timeoutTopic(LOG_ID), async () => 'accept');
  await waitFor(() => host.connectedPeers().length >= 4, 10_000, 'the outsider connected');
  await new Promise((r) => setTimeout(r, 1_200)); // subscriptions exchanged
  // A timeout of view 0 reporting no lock, after commit votes up to height 2: a lock lie.
  await host.publish(timeoutTopic(LOG_ID), timeout(0, null));
  // Two different timeouts for view 5: the first with its real lock (the last final header), the second with none.
  await host.publish(timeoutTopic(LOG_ID), timeout(5, lock, fc.certificate));
  await host.publish(timeoutTopic(LOG_ID), timeout(5, null));

  const everyone = [...net.nodes.map((n) => n!), net.observer];
  const kinds = (n: (typeof everyone)[number]) => n.voteEquivocations().filter((p) => p.signer.toLowerCase() === toHex(VALIDATORS[BYZANTINE])).map((p) => p.kind).sort();
  await waitFor(() => everyone.every((n) => kinds(n).length >= 2), 10_000, 'every node holds both proofs');
  // (The view-5 timeout with a lock may be a lie too, if a view change came meanwhile: a commit vote of a later view.)
  for (const n of everyone) assert.deepEqual([...new Set(kinds(n))], ['lock-lie', 'timeout-conflict']);
  // No honest validator is accused.
  for (const n of everyone) assert.ok(n.voteEquivocations().every((p) => p.signer.toLowerCase() === toHex(VALIDATORS[BYZANTINE])));
});
