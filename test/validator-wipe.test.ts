/**
 * A validator whose store is lost after it timed out a view (docs/protocol.md §Finality, validator start-up, and
 * §View change): its timeout reached the others before the loss, so on its empty store it learns from their status
 * answers (`timeoutViews`) that its key timed that view out, and signs nothing in it again: no vote (a commit vote
 * above the lock that timeout reported is a lock lie, kind 5, held against it by every node) and no second, different
 * timeout for the view (a timeout conflict, kind 6). When the
 * leader then fails, the timeout it signed before the loss completes the timeout certificate, and it takes part in
 * the next view. Real libp2p on loopback, real LevelDB, in-process nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { sign } from '../src/core/signature.ts';
import { encodeTimeoutTopicMessage } from '../src/core/timeout.ts';
import { digestOfTimeout, type LockRef } from '../src/core/vote.ts';
import { createHost } from '../src/p2p/host.ts';
import { requestStatus } from '../src/roles/log-service.ts';
import { timeoutTopic } from '../src/wire/p2p-messages.ts';
import { LOG_ID, clientSigner, waitFor } from './helpers/network.ts';
import { KEYS, startNet, startValidator, stopValidator } from './helpers/validators.ts';

const WIPED = 3;

test('a validator whose store was lost after it timed out a view signs no second timeout and no vote in that view', { timeout: 90_000 }, async (t) => {
  const net = await startNet(t);
  const client = clientSigner();
  let nonce = 1n;
  const append = (via: number) => net.nodes[via]!.append(client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] }));
  for (let i = 0; i < 3; i++) await append(1);
  await waitFor(() => net.nodes.every((n) => n!.info().finalizedHeight === n!.info().height && n!.info().height >= 2), 10_000, 'all final');

  // Validator 3 times view 0 out (its timeout reports its lock: the highest final header, whose certificate it
  // holds), and its store is lost before it enters any other view.
  const second = net.nodes[2]!;
  const fc = (await second.finalityCertificate(second.info().finalizedHeight))!;
  const lock: LockRef = { view: fc.certificate.view, height: fc.certificate.height, headerHash: fc.certificate.headerHash };
  await stopValidator(net, WIPED);
  await rm(join(net.dir, `v${WIPED}`), { recursive: true, force: true });
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: net.nodes.flatMap((n) => n?.multiaddrs() ?? []), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  host.subscribe(timeoutTopic(LOG_ID), async () => 'accept');
  await waitFor(() => host.connectedPeers().length >= 3, 10_000, 'the timeout\'s carrier connected');
  await waitFor(() => host.subscribers(timeoutTopic(LOG_ID)).length >= 3, 10_000, 'the validators\' subscriptions known'); // then a publish reaches them
  const before = encodeTimeoutTopicMessage({
    kind: 'timeout',
    message: { view: 0, lock, signerIndex: WIPED, signature: sign(digestOfTimeout(second.rules, 0, lock), KEYS[WIPED]!), certificate: fc.certificate },
  });
  await host.publish(timeoutTopic(LOG_ID), before);

  // View 0 goes on without it (three of four vote), so its lock moves past what that timeout reported.
  for (let i = 0; i < 3; i++) await append(1);
  await waitFor(() => [0, 1, 2].every((i) => net.nodes[i]!.info().finalizedHeight >= 5), 10_000, 'view 0 goes on');

  // Back on an empty store: it learns that its key timed view 0 out.
  net.nodes[WIPED] = await startValidator(net, WIPED, net.nodes.flatMap((n) => n?.multiaddrs() ?? []));
  const wiped = net.nodes[WIPED]!;
  await waitFor(() => wiped.info().notReady === null, 20_000, 'the wiped validator recovered');
  assert.equal(wiped.info().timeoutView, 0, 'it knows its key timed view 0 out');
  assert.equal(wiped.info().view, 0);
  // View 0 goes on; the wiped validator does not vote in it (a commit vote above the lock its timeout reported would
  // be a lock lie, kind 5).
  const more = await append(1);
  await waitFor(() => wiped.info().height >= more.header.height, 10_000, 'the wiped validator stores view 0\'s new batch');
  const last = await append(1); // by the time it is final, a vote of the wiped validator on `more` would be counted
  await waitFor(() => [0, 1, 2].every((i) => net.nodes[i]!.info().finalizedHeight >= last.header.height), 10_000, 'view 0 goes on after the return');
  const peerOf = (i: number) => net.nodes[i]!.multiaddrs()[0]!.split('/p2p/')[1]!;
  const counted = (await requestStatus(host, peerOf(1))).voteHeights?.[WIPED] ?? -1;
  assert.ok(counted < more.header.height, `no vote of the wiped validator in view 0 after its return (counted up to ${counted})`);

  // The leader stops while an append waits: validators 1 and 2 time view 0 out, and with the timeout validator 3
  // signed before its loss they form TC(0). Validator 3 signs no other timeout for view 0.
  await stopValidator(net, 0);
  const waiting = append(1);
  await waitFor(() => [1, 2, WIPED].every((i) => net.nodes[i]!.info().view >= 1), 20_000, 'view 1 entered');
  await waiting;
  const after = await append(2);
  await waitFor(() => [1, 2, WIPED].every((i) => net.nodes[i]!.info().finalizedHeight >= after.header.height), 20_000, 'finality in the new view');
  assert.ok(after.header.view >= 1, 'sequenced and final in a later view');

  // Nobody holds anything against validator 3: it never signed a second timeout for view 0.
  for (const n of [net.nodes[1]!, net.nodes[2]!, wiped, net.observer]) {
    assert.deepEqual(n.voteEquivocations().map((p) => `${p.kind} ${p.signer}`), [], 'no proof against the wiped validator');
  }
});
