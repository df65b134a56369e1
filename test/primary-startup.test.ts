/**
 * A primary's start-up recovery (docs/protocol.md §Primary start-up), with real nodes over loopback libp2p and
 * real LevelDB: a primary restarted on a wiped disk learns from its peers how far its key has signed and syncs
 * up to there before it signs anything, so it is never caught equivocating; while a configured peer cannot be
 * asked (or fewer than the operator's recovery quorum), appends get "not ready"; a primary with no peers to ask
 * refuses to start unless the operator accepts the risk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { encodeBatch, sealBatch, type Tip } from '../src/core/batch.ts';
import { Membership } from '../src/core/membership.ts';
import type { LogRules } from '../src/core/rules.ts';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { submissionDigest } from '../src/core/submission.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { createHost } from '../src/p2p/host.ts';
import { batchTopic, SYNC_PROTOCOL, decodeSyncRequest } from '../src/wire/p2p-messages.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { cliEnv, freePort, freePorts, runCli, spawnCli } from './helpers/cli.ts';
import { parseStartedEvent } from '../src/cli/started-event.ts';
import { RpcClient, RpcError } from '../src/client/rpc-client.ts';
import { LOG_ID, PRIMARY_KEY, SEPARATOR, client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';
import type { InfoJson, ReceiptJson } from '../src/wire/rpc-types.ts';

const tx = (s: string) => new TextEncoder().encode(s);
const signer = clientSigner();
let nonce = 1n;

function append(node: SequencerNode, text: string): Promise<ReceiptJson> {
  return client(node).append(signer.sign({ nonce: nonce++, transactions: [tx(text)] }));
}

async function info(node: SequencerNode): Promise<InfoJson> {
  return client(node).info();
}

test('a primary restarted on a wiped disk catches up from its replica before signing, and never equivocates', async (t) => {
  const dir = await tempDir();
  let primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await Promise.all([replica.stop(), primary.stop()]); await dir.remove(); });

  for (let i = 0; i < 5; i++) await append(primary, `before the crash ${i}`);
  const before = await info(primary);
  await waitFor(async () => (await info(replica)).headerHash === before.headerHash, 10_000, 'replica has every batch');

  // The disk is lost: a new, empty data directory (and so a new libp2p identity too).
  await primary.stop();
  await rm(join(dir.path, 'p'), { recursive: true, force: true });
  primary = await startPrimary(join(dir.path, 'p'), { peers: replica.multiaddrs() });
  await waitFor(async () => (await info(primary)).notReady === null, 15_000, 'primary ready');
  const recovered = await info(primary);
  assert.equal(recovered.height, before.height, 'synced up to the replica\'s height before sealing');
  assert.equal(recovered.headerHash, before.headerHash);
  assert.equal(recovered.entries, before.entries);

  const next = await append(primary, 'after the restart');
  assert.equal(next.height, before.height + 1);
  assert.equal(next.header.prevHeaderHash, before.headerHash);
  assert.equal(next.firstSeq, before.entries);
  await waitFor(async () => (await info(replica)).headerHash === next.headerHash, 10_000, 'replica accepts the new batch');
  // Appends forwarded by the replica reach the restarted primary (its new peer id proves the key).
  const forwarded = await append(replica, 'forwarded after the restart');
  assert.equal(forwarded.height, next.height + 1);
  for (const node of [primary, replica]) {
    assert.equal((await info(node)).equivocations, 0, 'no equivocation proof anywhere');
    assert.equal((await info(node)).halted, null);
  }
});

test('while a configured peer cannot be asked, appends answer "not ready"; once it is up, the primary proceeds', async (t) => {
  const dir = await tempDir();
  // The replica's identity and port are fixed before it runs, so the primary can be told about it.
  const replicaDir = join(dir.path, 'r');
  const replicaPeer = peerIdFromPrivateKey(await loadOrCreatePeerKey(replicaDir)).toString();
  const replicaPort = await freePort();
  const primary = await startPrimary(join(dir.path, 'p'), { peers: [`/ip4/127.0.0.1/tcp/${replicaPort}/p2p/${replicaPeer}`] });
  let replica: SequencerNode | undefined;
  t.after(async () => { await Promise.all([replica?.stop(), primary.stop()]); await dir.remove(); });

  const waiting = await append(primary, 'too early').catch((e) => e);
  assert.ok(waiting instanceof RpcError, String(waiting));
  assert.equal(waiting.code, ErrorCode.NotReady);
  assert.match(waiting.message, new RegExp(`not ready: waiting for the status of configured peers ${replicaPeer}`));
  const notReady = await info(primary);
  assert.match(notReady.notReady!, /waiting for the status/);
  assert.equal(notReady.entries, 0, 'the refused append changed nothing');

  replica = await startReplica(replicaDir, primary.multiaddrs(), { p2pPort: replicaPort });
  await waitFor(async () => (await info(primary)).notReady === null, 15_000, 'primary ready once its peer answered');
  const first = await append(primary, 'now');
  assert.equal(first.height, 0);
  await waitFor(async () => (await info(replica!)).height === 0, 10_000, 'replicated');
});

test('--unsafe-skip-recovery starts signing at once; its help says what it risks; a primary\'s peers need peer ids', async (t) => {
  const dir = await tempDir();
  const unreachable = `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir.path, 'nobody'))).toString()}`;
  const primary = await startPrimary(join(dir.path, 'p'), { peers: [unreachable], unsafeSkipRecovery: true });
  t.after(async () => { await primary.stop(); await dir.remove(); });
  assert.equal((await append(primary, 'at once')).height, 0);
  assert.equal((await info(primary)).notReady, null);

  const help = await runCli(['start', '--help']);
  assert.match(help.stdout, /--unsafe-skip-recovery[\s\S]*RISK[\s\S]*signs those heights again[\s\S]*slash/);
  const anonymous = await runCli(['start', '--mode', 'primary', '--db', join(dir.path, 'x'), '--rpc-port', '0', '--p2p-port', '0',
    '--peers', '/ip4/127.0.0.1/tcp/1', '--key-file', '/nonexistent']);
  assert.equal(anonymous.code, 2);
  assert.match(anonymous.stderr, /--peers: '\/ip4\/127\.0\.0\.1\/tcp\/1' has no \/p2p\/<peer id>/);
});

test('a header signed with its key that no peer can serve keeps the primary not ready, until a peer has the batches', async (t) => {
  const dir = await tempDir();
  let primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  const relay = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir.path, 'relay')), listenPort: 0, bootstrapPeers: replica.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(async () => { await Promise.all([replica.stop(), primary.stop(), relay.stop()]); await dir.remove(); });
  let last!: ReceiptJson;
  for (let i = 0; i < 3; i++) last = await append(primary, `stored everywhere ${i}`);
  await waitFor(async () => (await info(replica)).headerHash === last.headerHash, 10_000, 'replicated');

  // Two more batches the old primary signed; only the header of the second reached the replica (by gossip,
  // through a relay), the batches themselves are held by the relay alone, which serves them only later.
  const rules: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.single(addressFromPrivateKey(PRIMARY_KEY)), isAllowed: () => true };
  let tip: Tip = {
    height: last.height, headerHash: fromHex(last.headerHash), nextSeq: last.header.firstSeq + last.header.count,
    headHash: fromHex(last.header.headHash), timestamp: last.header.timestamp,
  };
  const lost: Uint8Array[] = [];
  for (let i = 0; i < 2; i++) {
    const s = signer.sign({ nonce: nonce++, transactions: [tx(`lost with the disk ${i}`)] });
    const sealed = sealBatch(rules, tip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], Date.now(), PRIMARY_KEY);
    lost.push(encodeBatch(sealed.batch));
    tip = sealed.tip;
  }
  let serving = false;
  await relay.handleRequests(SYNC_PROTOCOL, (request) => {
    const from = decodeSyncRequest(request).fromHeight;
    return serving ? lost.filter((_, i) => last.height + 1 + i >= from) : [];
  }, { maxRequestBytes: 64 });
  const topic = batchTopic(LOG_ID);
  relay.subscribe(topic, async () => 'ignore');
  const replicaPeer = (await info(replica)).peerId as string;
  await waitFor(() => relay.subscribers(topic).includes(replicaPeer), 10_000, 'replica subscribed');
  await relay.publish(topic, lost[1]);

  // The disk is lost; the restarted primary learns of height last + 2 but nobody serves last + 1.
  await primary.stop();
  await rm(join(dir.path, 'p'), { recursive: true, force: true });
  primary = await startPrimary(join(dir.path, 'p'), { peers: replica.multiaddrs() });
  const stuck = new RegExp(`a header for height ${last.height + 2} is signed with this key, but no peer served the batches after height ${last.height}`);
  await waitFor(async () => stuck.test((await info(primary)).notReady ?? ''), 15_000, 'primary stuck below the reported header');
  const refused = await append(primary, 'not yet').catch((e) => e);
  assert.equal(refused.code, ErrorCode.NotReady);
  assert.match(refused.message, stuck);
  assert.equal((await info(primary)).height, last.height, 'it synced what peers could serve, and signed nothing');

  // The relay now serves the batches: the replica fetches them, the primary syncs from it and proceeds.
  serving = true;
  await waitFor(async () => (await info(primary)).notReady === null, 15_000, 'primary ready');
  assert.equal((await info(primary)).height, last.height + 2);
  const next = await append(primary, 'after the lost batches');
  assert.equal(next.height, last.height + 3);
  await waitFor(async () => (await info(replica)).headerHash === next.headerHash, 10_000, 'replica accepts it');
  assert.equal((await info(replica)).equivocations, 0);
  assert.equal((await info(primary)).equivocations, 0);
});

test('a primary without peers refuses to start unless told with --unsafe-skip-recovery; told, it starts and warns', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  // The node itself refuses, whoever configures it.
  const refused = await startPrimary(join(dir.path, 'in-process'), { unsafeSkipRecovery: false }).catch((e) => e);
  assert.ok(refused instanceof Error, String(refused));
  assert.match(refused.message, /a primary without peers cannot recover what a lost or old store lacks: give it its replicas \(--peers\), or accept the risk with --unsafe-skip-recovery/);

  const env = cliEnv({ PRIVATE_KEY: toHex(PRIMARY_KEY) });
  const [rpcPort, p2pPort] = await freePorts(2);
  const args = ['start', '--mode', 'primary', '--db', join(dir.path, 'cli'), '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort),
    '--allow', toHex(signer.address), '--log-id', toHex(LOG_ID), '--chain-id', '31337'];
  const lone = await runCli(args, { env });
  assert.equal(lone.code, 2, lone.stderr);
  assert.match(lone.stderr, /a primary without --peers has nobody to recover a lost or old store from: give it its replicas \(--peers\), or accept the risk with --unsafe-skip-recovery/);
  const quorumTooLarge = await runCli([...args, '--peers', `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir.path, 'nobody'))).toString()}`, '--recovery-quorum', '2'], { env });
  assert.equal(quorumTooLarge.code, 2, quorumTooLarge.stderr);
  assert.match(quorumTooLarge.stderr, /--recovery-quorum: must be between 1 and 1, got 2/);

  const told = spawnCli(t, [...args, '--unsafe-skip-recovery'], { env });
  const started = parseStartedEvent(await told.waitForLine((l) => parseStartedEvent(l) !== undefined))!;
  assert.equal(started.mode, 'primary');
  const warning = told.stderr().split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: string; msg: string })
    .find((l) => /skipping start-up recovery/.test(l.msg));
  assert.ok(warning, `a start-up warning; stderr:\n${told.stderr()}`);
  assert.equal(warning.level, 'warn');
  assert.match(warning.msg, /signing on top of the local store without asking any peer[\s\S]*signed again: equivocation, slashable/);
  const receipt = await new RpcClient(started.rpc).append(signer.sign({ nonce: nonce++, transactions: [tx('lone')] }));
  assert.equal(receipt.height, 0);
});

test('--recovery-quorum: with one of two configured peers gone for good, a quorum of 1 syncs from the live one and proceeds; the default waits', async (t) => {
  const dir = await tempDir();
  let primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await Promise.all([replica.stop(), primary.stop()]); await dir.remove(); });
  let last!: ReceiptJson;
  for (let i = 0; i < 3; i++) last = await append(primary, `held by the live replica ${i}`);
  await waitFor(async () => (await info(replica)).headerHash === last.headerHash, 10_000, 'replicated');

  // The disk is lost, and the second configured replica is gone for good (nothing listens at its address).
  await primary.stop();
  await rm(join(dir.path, 'p'), { recursive: true, force: true });
  const gonePeer = peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir.path, 'gone'))).toString();
  const peers = [...replica.multiaddrs(), `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/${gonePeer}`];

  // Default (all of them): the live replica answers, the gone one never does, and the primary is not ready.
  primary = await startPrimary(join(dir.path, 'p'), { peers });
  await waitFor(async () => (await info(primary)).notReady === `waiting for the status of configured peers ${gonePeer}`, 15_000,
    'primary waiting for the gone peer only');
  const refused = await append(primary, 'not without every peer').catch((e) => e);
  assert.equal(refused.code, ErrorCode.NotReady, String(refused));
  assert.equal((await info(primary)).equivocations, 0);
  await primary.stop();

  // A quorum of 1: the live replica's answer is enough; the primary syncs from it, then signs on top.
  await rm(join(dir.path, 'p'), { recursive: true, force: true });
  primary = await startPrimary(join(dir.path, 'p'), { peers, recoveryQuorum: 1 });
  await waitFor(async () => (await info(primary)).notReady === null, 15_000, 'primary ready with a quorum of 1');
  const recovered = await info(primary);
  assert.equal(recovered.height, last.height, 'synced from the live replica before signing');
  assert.equal(recovered.headerHash, last.headerHash);
  const next = await append(primary, 'after the quorum');
  assert.equal(next.height, last.height + 1);
  assert.equal(next.header.prevHeaderHash, last.headerHash);
  await waitFor(async () => (await info(replica)).headerHash === next.headerHash, 10_000, 'replica accepts it');
  for (const node of [primary, replica]) assert.equal((await info(node)).equivocations, 0);
});
