/**
 * Quorum finality across real nodes (real libp2p on loopback, real LevelDB): four validators and an observer mark the
 * same heights final with certificates a third party checks; with one validator down finality goes on, with two it
 * stops (the leader seals at most LEADER_WINDOW heights past its last lock certificate) and resumes once a third
 * validator is back, which catches up on the certificates it missed from its peers' status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Reader, toHex } from '../src/core/bytes.ts';
import { checkFinalityCertificate } from '../src/core/finality-certificate.ts';
import { headerHash } from '../src/core/header.ts';
import { LEADER_WINDOW } from '../src/roles/finality.ts';
import { requestStatus } from '../src/roles/log-service.ts';
import { createHost } from '../src/p2p/host.ts';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import type { Receipt } from '../src/core/receipt.ts';
import { SEPARATOR, clientSigner, waitFor } from './helpers/network.ts';
import { startNet, startValidator, stopValidator } from './helpers/validators.ts';

const signer = clientSigner();
let nonce = 0n;
const tx = (s: string) => new TextEncoder().encode(s);

function append(node: SequencerNode, label: string) {
  return node.append(signer.sign({ nonce: nonce++, transactions: [tx(label)] }));
}

test('four validators and an observer mark the same heights final, each with a certificate that checks against the validator set alone', async (t) => {
  const net = await startNet(t);
  const primary = net.nodes[0]!;
  const receipts = [];
  for (let i = 0; i < 12; i++) receipts.push(await append(primary, `tx ${i}`));
  const last = receipts.at(-1)!.header.height;
  const everyone = [...net.nodes.map((n) => n!), net.observer];
  await waitFor(() => everyone.every((n) => n.info().finalizedHeight >= last), 10_000, 'every node final up to the last receipt');
  const info = net.observer.info();
  assert.equal(info.role, 'observer');
  assert.deepEqual([net.nodes[0]!.info().role, net.nodes[1]!.info().role], ['leader', 'validator']);
  assert.equal(info.quorum, 3);
  for (const r of receipts) {
    const fc = await net.observer.finalityCertificate(r.header.height);
    assert.ok(fc, `height ${r.header.height} has a finality certificate`);
    // Checked with nothing but the log's domain and the validator set: a third party's view.
    checkFinalityCertificate(net.observer.rules, fc);
    assert.equal(toHex(fc.headerHash), toHex(headerHash(SEPARATOR, r.header)), 'the certificate is for the receipt\'s header');
    assert.ok(fc.certificate.signatures.length >= 3);
  }
  // The same header is final at each height on every node (one final chain).
  for (const n of everyone) assert.equal(n.info().finalizedHeaderHash, info.finalizedHeaderHash);
  // Validators hold a lock at least as high as the last final height.
  for (const n of net.nodes) assert.ok(n!.info().lock!.height >= last);
});

test('finality goes on with one of four validators down, stops with two down (the leader seals at most its window ahead), and resumes when one returns', async (t) => {
  const net = await startNet(t);
  const primary = net.nodes[0]!;
  await append(primary, 'all up');
  await waitFor(() => net.observer.info().finalizedHeight >= 0, 10_000, 'first final height');

  await stopValidator(net, 3);
  const withOneDown = await append(primary, 'one down');
  await waitFor(() => net.observer.info().finalizedHeight >= withOneDown.header.height, 10_000, 'final with one validator down');

  await stopValidator(net, 2);
  const finalBefore = net.observer.info().finalizedHeight;
  // Two validators (the leader and one other) are fewer than the quorum of three: nothing more becomes final, and
  // the leader seals at most LEADER_WINDOW heights above its last lock certificate; later appends wait.
  const soft: Receipt[] = [];
  for (let i = 0; i < LEADER_WINDOW; i++) soft.push(await append(primary, `two down ${i}`));
  const waiting = append(primary, 'beyond the window');
  let answered = false;
  void waiting.then(() => { answered = true; }, () => { answered = true; });
  await waitFor(() => net.observer.info().height >= soft.at(-1)!.header.height, 10_000, 'the observer stored the soft batches');
  assert.equal(answered, false, 'the leader did not seal past its window');
  assert.equal(net.observer.info().finalizedHeight, finalBefore, 'nothing became final while only two validators voted');
  // A third validator returns: it syncs the batches it missed, lock-votes each, and the quorum is back.
  net.nodes[2] = await startValidator(net, 2, primary.multiaddrs());
  const beyond = await waiting;
  assert.ok(beyond.header.height > soft.at(-1)!.header.height);
  await waitFor(() => net.observer.info().finalizedHeight >= beyond.header.height, 15_000, 'finality resumed past the window');
  assert.equal(finalBefore, withOneDown.header.height);
  // Every soft receipt of the stalled stretch ended up final with the header it names.
  for (const r of [...soft, beyond]) {
    const fc = await net.observer.finalityCertificate(r.header.height);
    assert.equal(toHex(fc!.headerHash), toHex(headerHash(SEPARATOR, r.header)));
  }
});

test('a validator back from a stop learns the certificates it missed from its peers: the heights sealed meanwhile become final without any new batch', async (t) => {
  const net = await startNet(t);
  const primary = net.nodes[0]!;
  await append(primary, 'all up');
  await waitFor(() => net.observer.info().finalizedHeight >= 0, 10_000, 'first final height');
  for (const i of [2, 3]) {
    await stopValidator(net, i);
  }
  // Sealed with two validators voting: soft. Their lock votes were gossiped while validator 3 was away, so once it
  // is back it holds no lock certificate for them, and the others need its commit vote: it learns the lock
  // certificate from a peer's status (`lockCertificate`), commits, and the quorum of commit votes forms.
  const soft: Receipt[] = [];
  for (let i = 0; i < 3; i++) soft.push(await append(primary, `while two are down ${i}`));
  net.nodes[3] = await startValidator(net, 3, primary.multiaddrs());
  const last = soft.at(-1)!.header.height;
  await waitFor(() => net.observer.info().finalizedHeight >= last, 15_000, 'the soft heights final');
  assert.equal(net.observer.info().height, last, 'no batch was sealed after the soft ones');
  await waitFor(() => net.nodes[3]!.info().finalizedHeight >= last, 15_000, 'the returning validator holds them final');
  const fc = await net.nodes[3]!.finalityCertificate(last);
  checkFinalityCertificate(net.nodes[3]!.rules, fc!);
});

test('a validator whose store was wiped signs nothing at a height it may have voted before: it asks the others, then votes only above', async (t) => {
  const net = await startNet(t);
  const primary = net.nodes[0]!;
  const before: Receipt[] = [];
  for (let i = 0; i < 5; i++) before.push(await append(primary, `before the wipe ${i}`));
  const lastBefore = before.at(-1)!.header.height;
  // All four voted up to lastBefore, and the others counted validator 3's votes there (what it recovers from: a vote
  // of its key that reached nobody before the wipe may be signed again, the same vote, which the check below forbids).
  await waitFor(() => net.observer.info().finalizedHeight >= lastBefore, 10_000, 'final before the wipe');
  const asker = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: net.nodes.slice(0, 3).flatMap((n) => n!.multiaddrs()), maxMessageBytes: 1_000_000, log: () => {} });
  t.after(() => asker.stop());
  await waitFor(() => asker.connectedPeers().length >= 3, 10_000, 'connected to validators 0-2');
  await waitFor(async () => {
    const counted = await Promise.all(net.nodes.slice(0, 3).map(async (n) => {
      try {
        return (await requestStatus(asker, n!.multiaddrs()[0]!.split('/p2p/')[1]!)).voteHeights?.[3] ?? -1;
      } catch {
        return -1;
      }
    }));
    return counted.every((h) => h >= lastBefore);
  }, 10_000, 'validator 3\'s votes counted by the others');
  await net.nodes[3]!.stop();
  await rm(join(net.dir, 'v3'), { recursive: true, force: true });
  const peers = [...net.nodes.slice(0, 3), net.observer].flatMap((n) => n!.multiaddrs());
  net.nodes[3] = await startValidator(net, 3, peers);
  assert.match(net.nodes[3]!.info().notReady ?? '', /recovering before voting/);
  // It needs a quorum of the others' answers (all three here) before it may vote.
  await waitFor(() => net.nodes[3]!.info().notReady === null, 10_000, 'the wiped validator recovered');
  // With validator 2 down, nothing is final without validator 3's votes: finality resuming shows it votes again.
  await stopValidator(net, 2);
  const after = await append(primary, 'after the wipe');
  await waitFor(() => net.observer.info().finalizedHeight >= after.header.height, 15_000, 'final with the wiped validator voting');
  await stopValidator(net, 3);
  // Its store's vote records: none at or below the last height it voted before the wipe; lock votes above it.
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(net.dir, 'v3', 'db'), { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  t.after(() => db.close());
  const heights: number[] = [];
  for await (const key of db.keys({ gte: Uint8Array.of(0x56, 0x76), lt: Uint8Array.of(0x56, 0x77) })) {
    heights.push(new Reader(key, 11).u64()); // 'V' 'v' kind view height: any view (a view change may have come meanwhile)
  }
  assert.ok(heights.length > 0, 'it voted after recovering');
  assert.ok(Math.min(...heights) > lastBefore, `its first vote after the wipe is above ${lastBefore}, not at ${Math.min(...heights)}`);
});
