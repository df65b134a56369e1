/**
 * A validator killed with SIGKILL at random instants under load, and restarted on its store, never signs a vote that
 * conflicts with one it signed before, and no vote ever leaves its process without its record on its disk. Four
 * validators as real processes; a libp2p host of the test's own records every vote bundle published on the log's
 * vote topic; at the end every vote collected is compared with every other, and the killed validator's votes with
 * its store's records (docs/protocol.md §Safety state, §Finality).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { ClassicLevel } from 'classic-level';
import { toHex } from '../src/core/bytes.ts';
import { Membership } from '../src/core/membership.ts';
import { decodeVoteBundle, verifyVote, type SignedVote, type VoteContext } from '../src/core/vote.ts';
import { RpcClient } from '../src/client/rpc-client.ts';
import { createHost } from '../src/p2p/host.ts';
import { decodeSignedTarget, voteRecordKey } from '../src/storage/safety-store.ts';
import { voteTopic } from '../src/wire/p2p-messages.ts';
import type { ReceiptJson } from '../src/wire/rpc-types.ts';
import { LOG_ID, SEPARATOR, clientSigner, waitFor } from './helpers/network.ts';
import { startValidatorProcesses } from './helpers/validator-processes.ts';
import { VALIDATORS } from './helpers/validators.ts';
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(VALIDATORS) };
const VICTIM = 2;

test('a validator killed (SIGKILL) at random instants under load never signs conflicting votes, and every vote it published is on its disk', { timeout: 120_000 }, async (t) => {
  const { dir, nodes, restart } = await startValidatorProcesses(t);
  const everyone = nodes.flatMap((n) => n.started.multiaddrs);

  // The collector: subscribed to the vote topic, it records every vote (verified as its validator's) it sees.
  const collector = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: everyone, maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => collector.stop());
  const votes: { index: number; vote: SignedVote }[] = [];
  collector.subscribe(voteTopic(LOG_ID), async (data) => {
    const bundle = decodeVoteBundle(data);
    for (const v of bundle.votes) votes.push({ index: verifyVote(CTX, v, bundle.signerIndex), vote: { ...v, headerHash: Uint8Array.from(v.headerHash), signature: Uint8Array.from(v.signature) } });
    return 'accept';
  });
  const rpc = new RpcClient(nodes[0].started.rpc);
  await waitFor(async () => (await Promise.all(nodes.map((n) => new RpcClient(n.started.rpc).info()))).every((i) => i.notReady === null), 20_000, 'validators recovered');

  // Load: appends to the primary, all along.
  const signer = clientSigner();
  const acked: ReceiptJson[] = [];
  let nonce = 1n;
  let loading = true;
  const load = Array.from({ length: 3 }, async () => {
    while (loading) {
      const n = nonce++;
      try {
        acked.push(await rpc.append(signer.sign({ nonce: n, transactions: [new TextEncoder().encode(`tx ${n}`)] })));
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // not ready, overloaded: try the next one
      }
    }
  });
  const votedBy = (index: number) => votes.filter((v) => v.index === index).reduce((m, v) => Math.max(m, v.vote.height), -1);

  for (let kill = 0; kill < 3; kill++) {
    const before = votedBy(VICTIM);
    await waitFor(() => votedBy(VICTIM) > before + 2, 20_000, `validator ${VICTIM} voting (round ${kill})`);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 500));
    nodes[VICTIM].child.kill('SIGKILL');
    await nodes[VICTIM].exited;
    await restart(VICTIM, everyone.filter((a) => !nodes[VICTIM].started.multiaddrs.includes(a)));
  }
  const before = votedBy(VICTIM);
  await waitFor(() => votedBy(VICTIM) > before + 2, 20_000, 'the victim voting after its last restart');
  loading = false;
  await Promise.all(load);
  assert.ok(acked.length > 20, `load went on: ${acked.length} receipts`);
  const last = Math.max(...acked.map((r) => r.height));
  await waitFor(async () => (await rpc.info()).finalizedHeight >= last, 20_000, 'every receipt final');

  // (1) No validator ever signed two different headers at one (kind, view, height).
  const seen = new Map<string, string>();
  for (const { index, vote } of votes) {
    const slot = `${index}/${vote.kind}/${vote.view}/${vote.height}`;
    const hash = toHex(vote.headerHash);
    assert.equal(seen.get(slot) ?? hash, hash, `validator ${index} signed two headers at kind ${vote.kind}, height ${vote.height}`);
    seen.set(slot, hash);
  }
  // Every receipt's header is the final one at its height.
  for (const r of acked.slice(-10)) {
    const fc = await rpc.call('sequencer_getCertificate', [r.height]) as { headerHash: string };
    assert.equal(fc.headerHash, r.headerHash);
  }
  // (2) Every vote the victim published is recorded, the same header and signature, in its store.
  nodes[VICTIM].child.kill('SIGKILL');
  await nodes[VICTIM].exited;
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, `v${VICTIM}`, 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  t.after(() => db.close());
  const own = votes.filter((v) => v.index === VICTIM);
  assert.ok(own.length > 10, `the victim voted (${own.length} votes collected)`);
  for (const { vote } of own) {
    const record = await db.get(voteRecordKey(vote.kind, vote.view, vote.height));
    assert.ok(record, `vote kind ${vote.kind} height ${vote.height} left the process without its record`);
    const stored = decodeSignedTarget(record);
    assert.equal(toHex(stored.headerHash), toHex(vote.headerHash));
    assert.equal(toHex(stored.signature), toHex(vote.signature));
  }
});
