/**
 * A follower whose final header is re-proposed (docs/protocol.md §View change, leading a view): the new view's leader
 * asked its peers whether its highest lock was final, none that answered held it so, and it re-proposed it: the same
 * entries under a header of the new view. A validator that does hold it final replaces its final header by the
 * re-proposal (the content, and the final height, unchanged), lock-votes it, and follows the new view's chain on top
 * of it; without that it could never attach the new view's next batch.
 *
 * The other validators' side is played by the test, which holds their keys: validators 0-2 are stopped, and the
 * test signs their timeouts of view 0 (each reporting the lock on the final header), the timeout certificate, and,
 * as the leader of view 1, the re-proposal and the next batch, all published over real libp2p to validator 3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { equalBytes } from '../src/core/bytes.ts';
import { encodeBatch, sealBatch, type Tip } from '../src/core/batch.ts';
import { buildCertificate } from '../src/core/certificate.ts';
import { headerHash, signHeader } from '../src/core/header.ts';
import { sign } from '../src/core/signature.ts';
import { submissionDigest } from '../src/core/submission.ts';
import { buildTimeoutCertificate, checkTimeoutMessage } from '../src/core/timeout.ts';
import { VoteKind, decodeVoteBundle, digestOfTimeout, signVoteUnchecked, type LockRef, type Vote } from '../src/core/vote.ts';
import { createHost } from '../src/p2p/host.ts';
import { batchTopic, voteTopic } from '../src/wire/p2p-messages.ts';
import { LOG_ID, clientSigner, waitFor } from './helpers/network.ts';
import { KEYS, startNet, stopValidator } from './helpers/validators.ts';

const FOLLOWER = 3;
const NEXT_LEADER = 1; // round-robin: the leader of view 1

test('a validator holding a header final follows its re-proposal in the next view: same entries, the new view\'s header, and the chain on top', { timeout: 60_000 }, async (t) => {
  const net = await startNet(t);
  const client = clientSigner();
  for (let i = 1; i <= 3; i++) await net.nodes[1]!.append(client.sign({ nonce: BigInt(i), transactions: [new TextEncoder().encode(`tx ${i}`)] }));
  const everyone = () => net.nodes.filter((n) => n !== undefined);
  await waitFor(() => everyone().every((n) => n.info().height >= 2 && n.info().finalizedHeight === n.info().height), 10_000, 'all final');
  const follower = net.nodes[FOLLOWER]!;
  const rules = follower.rules;
  const h = follower.info().finalizedHeight;
  const final = (await follower.batch(h))!.batch;
  const finalHash = headerHash(rules.separator, final.header);
  for (const i of [0, 1, 2]) await stopValidator(net, i);

  // The test plays validators 0-2: they time view 0 out, each reporting the lock on the final header (its lock
  // certificate signed by them), and the leader of view 1 re-proposes that header, then seals the next batch on it.
  const lock: LockRef = { view: 0, height: h, headerHash: finalHash };
  const lockVote: Vote = { kind: VoteKind.lock, ...lock };
  const lockCert = buildCertificate(rules.membership.n, lockVote, new Map([0, 1, 2].map((i) => [i, signVoteUnchecked(rules, lockVote, KEYS[i]!).signature])));
  const timeouts = [0, 1, 2].map((i) => checkTimeoutMessage(rules, {
    view: 0, lock, signerIndex: i, signature: sign(digestOfTimeout(rules, 0, lock), KEYS[i]!), certificate: lockCert,
  }));
  const tc = buildTimeoutCertificate(rules.membership.n, 0, timeouts);
  const reproposal = signHeader(rules.separator, { ...final.header, view: 1 }, KEYS[NEXT_LEADER]!);
  const reproposalBytes = encodeBatch({ ...reproposal, submissions: final.submissions, justification: { tc, highLockCert: lockCert } });
  const reproposedTip: Tip = {
    height: h, headerHash: headerHash(rules.separator, reproposal.header), nextSeq: final.header.firstSeq + final.header.count,
    headHash: final.header.headHash, timestamp: final.header.timestamp,
  };
  const s = client.sign({ nonce: 100n, transactions: [new TextEncoder().encode('in view 1')] });
  const next = sealBatch(rules, reproposedTip, [{ submission: s, digest: submissionDigest(rules.separator, s) }], Date.now(), KEYS[NEXT_LEADER]!, 1);

  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: follower.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  const lockVotes: Vote[] = [];
  host.subscribe(batchTopic(LOG_ID), async () => 'ignore');
  host.subscribe(voteTopic(LOG_ID), async (data) => {
    const bundle = decodeVoteBundle(data);
    if (bundle.signerIndex === FOLLOWER) for (const v of bundle.votes) if (v.kind === VoteKind.lock) lockVotes.push(v);
    return 'ignore';
  });
  await waitFor(() => host.connectedPeers().length >= 1, 10_000, 'connected to the follower');
  await waitFor(() => host.subscribers(batchTopic(LOG_ID)).length >= 1, 10_000, 'the follower\'s subscription known'); // then a publish reaches it

  await host.publish(batchTopic(LOG_ID), reproposalBytes);
  await waitFor(async () => (await follower.batch(h))?.batch.header.view === 1, 10_000, 'the final header replaced by its re-proposal');
  await host.publish(batchTopic(LOG_ID), encodeBatch(next.batch));
  await waitFor(() => follower.info().height === h + 1, 10_000, 'the new view\'s next batch attached on the re-proposal');

  const info = follower.info();
  assert.equal(info.view, 1);
  assert.equal(info.finalizedHeight, h, 'the final height does not move');
  const replaced = (await follower.batch(h))!;
  assert.ok(equalBytes(replaced.headerHash, reproposedTip.headerHash));
  assert.deepEqual(replaced.entries.map((e) => e.seq), (await follower.entries(final.header.firstSeq, final.header.count)).map((e) => e.seq));
  assert.equal(replaced.batch.submissions.length, final.submissions.length, 'the same entries');
  await waitFor(() => lockVotes.some((v) => v.view === 1 && v.height === h), 10_000, 'the follower lock-votes the re-proposal');
  await waitFor(() => lockVotes.some((v) => v.view === 1 && v.height === h + 1), 10_000, 'and the next header of the view');
});
