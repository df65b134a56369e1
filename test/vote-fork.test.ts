/**
 * A vote fork caught by the nodes themselves (docs/protocol.md §Equivocation proofs, kind 4): a validator's lock votes
 * at consecutive heights of one view, the higher one for a header that does not extend the lower one. Four validators
 * and an observer in-process (real libp2p on loopback, real LevelDB); two validators are stopped so the heights stay
 * above the final height (votes on final heights are not counted); validator 3's key is used by the test, whose
 * votes at h (for a header that is not the log's) and h + 1 (for the log's header, whose parent is the log's h) reach
 * every node over the votes topic. Every node holds the kind-4 proof, naming validator 3 only, and it checks on its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { toHex } from '../src/core/bytes.ts';
import { keccak256 } from '../src/core/hash.ts';
import { headerHash } from '../src/core/header.ts';
import { VoteKind, encodeVoteBundle, signVoteUnchecked } from '../src/core/vote.ts';
import { checkVoteProof } from '../src/core/vote-proofs.ts';
import { createHost } from '../src/p2p/host.ts';
import { voteTopic } from '../src/wire/p2p-messages.ts';
import { parseVoteProof } from '../src/wire/vote-proof-json.ts';
import { LOG_ID, clientSigner, waitFor } from './helpers/network.ts';
import { KEYS, VALIDATORS, startNet, stopValidator } from './helpers/validators.ts';

const BYZANTINE = 3;

test('lock votes of one validator at consecutive heights that do not chain become a vote-fork proof on every node', { timeout: 60_000 }, async (t) => {
  const net = await startNet(t);
  const primary = net.nodes[0]!;
  const client = clientSigner();
  let nonce = 1n;
  const append = () => primary.append(client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] }));
  await append();
  await waitFor(() => [...net.nodes, net.observer].every((n) => n!.info().finalizedHeight >= 0), 10_000, 'first height final');
  for (const i of [2, BYZANTINE]) await stopValidator(net, i);
  const lower = await append();
  const higher = await append();
  const up = [net.nodes[0]!, net.nodes[1]!, net.observer];
  await waitFor(() => up.every((n) => n.info().height >= higher.header.height), 10_000, 'both heights stored, not final');

  const rules = primary.rules;
  const lockVote = (height: number, headerHash: Uint8Array) => signVoteUnchecked(rules, { kind: VoteKind.lock, view: 0, height, headerHash }, KEYS[BYZANTINE]!);
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: primary.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  host.subscribe(voteTopic(LOG_ID), async () => 'ignore');
  await waitFor(() => host.connectedPeers().length >= 1, 10_000, 'connected');
  await waitFor(() => host.subscribers(voteTopic(LOG_ID)).length >= 1, 10_000, 'the leader\'s subscription known'); // then a publish reaches it
  // At h, a header that is not the log's; at h + 1 the log's header, whose parent is the log's h: not a chain.
  await host.publish(voteTopic(LOG_ID), encodeVoteBundle({ signerIndex: BYZANTINE, votes: [lockVote(lower.header.height, keccak256(new TextEncoder().encode('not the log\'s header')))] }));
  await host.publish(voteTopic(LOG_ID), encodeVoteBundle({ signerIndex: BYZANTINE, votes: [lockVote(higher.header.height, headerHash(rules.separator, higher.header))] }));

  const forks = (n: (typeof up)[number]) => n.voteEquivocations().filter((p) => p.kind === 'vote-fork');
  await waitFor(() => up.every((n) => forks(n).length === 1), 10_000, 'every node holds the vote fork');
  for (const n of up) {
    const [proof] = forks(n);
    assert.equal(proof!.signer.toLowerCase(), toHex(VALIDATORS[BYZANTINE]!));
    assert.equal(checkVoteProof(rules, parseVoteProof(proof!).proof), null, 'it checks against the validator set alone');
    assert.ok(n.voteEquivocations().every((p) => p.signer.toLowerCase() === toHex(VALIDATORS[BYZANTINE]!)), 'no honest validator accused');
  }
});
