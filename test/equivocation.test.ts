/**
 * End to end: a tool holding the primary's key publishes two conflicting batches, one to each replica.
 * Both replicas catch the conflict and store the proof; a slasher submits it to SequencerBond on a real anvil;
 * the bond is slashed and the reporter paid; a second submission is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { toHex } from '../src/core/bytes.ts';
import { createHost, type Host } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { batchTopic, encodeJson, proofTopic } from '../src/p2p/protocols.ts';
import { decodeBatch } from '../src/core/batch.ts';
import { judgePair } from '../src/core/equivocation.ts';
import { signHeader } from '../src/core/header.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { proofToJson } from '../src/rpc/codec.ts';
import { bondInfo, deployBond, register, slash, decodeBondError } from '../src/chain/bond-contract.ts';
import { fetchProofs, submitProof } from '../src/chain/slasher.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { ANVIL_KEYS, startAnvil } from './helpers/anvil.ts';
import { conflictingBatches, tipOf } from './helpers/equivocator.ts';
import { CHAIN_ID, LOG_ID, OUTSIDER_KEY, PRIMARY_KEY, SEPARATOR, client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

async function attacker(dir: string, target: SequencerNode): Promise<Host> {
  const host = await createHost({ privateKey: await loadOrCreatePeerKey(dir), listenPort: 0, bootstrapPeers: target.multiaddrs(), maxMessageBytes: 3_500_000, log: () => {} });
  const topic = batchTopic(LOG_ID);
  host.subscribe(topic, async () => 'ignore');
  const peer = (await client(target).info()).peerId as string;
  await waitFor(() => host.subscribers(topic).includes(peer), 10_000, 'target subscribed');
  return host;
}

test('conflicting batches published to two replicas are caught by both, proven, and slashed on chain', async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const primary = await startPrimary(join(dir.path, 'p'), { chainId: anvil.chainId });
  const r1 = await startReplica(join(dir.path, 'r1'), primary.multiaddrs(), { chainId: anvil.chainId });
  // The replicas know only the primary, not each other: the evidence must reach them through the network.
  let r2 = await startReplica(join(dir.path, 'r2'), primary.multiaddrs(), { chainId: anvil.chainId });
  const hosts: Host[] = [];
  t.after(async () => {
    await Promise.all([...hosts.map((h) => h.stop()), r1.stop(), r2.stop(), primary.stop()]);
    await anvil.stop();
    await dir.remove();
  });
  assert.equal(anvil.chainId, 31337, 'the log domain uses the chain id of the anvil chain');

  // The primary posts a bond on chain.
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 });
  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const reporter = new Wallet(ANVIL_KEYS[1], provider);
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  const bond = await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: 3600, rewardBps: 5000 });
  await (await deployer.sendTransaction({ to: primaryWallet.address, value: parseEther('10') })).wait();
  await register(bond.connect(primaryWallet) as typeof bond, toHex(LOG_ID), parseEther('4'));
  assert.equal((await bondInfo(bond, primaryWallet.address, toHex(LOG_ID))).amount, parseEther('4'));

  // Honest traffic first.
  const signer = clientSigner();
  const honest = await client(primary).append(signer.sign({ nonce: 1n, transactions: [new TextEncoder().encode('honest')] }));
  await waitFor(async () => (await client(r1).info()).entries === 1 && (await client(r2).info()).entries === 1, 10_000, 'replication');

  // The equivocation: two batches for the next height, one published to each replica.
  const [a, b] = conflictingBatches(await tipOf(client(primary)));
  const toR1 = await attacker(join(dir.path, 't1'), r1);
  hosts.push(toR1);
  const toR2 = await attacker(join(dir.path, 't2'), r2);
  hosts.push(toR2);
  await Promise.all([toR1.publish(batchTopic(LOG_ID), a), toR2.publish(batchTopic(LOG_ID), b)]);

  await waitFor(async () => (await client(r1).info()).equivocations >= 1 && (await client(r2).info()).equivocations >= 1, 15_000, 'both replicas detect');
  // The primary's own node saw both headers signed with its key, and stops sequencing.
  await waitFor(async () => (await client(primary).info()).equivocations >= 1, 10_000, 'the primary node detects');
  assert.ok((await client(primary).info()).halted);
  const [p1] = await fetchProofs(r1.rpcUrl);
  const [p2] = await fetchProofs(r2.rpcUrl);
  assert.equal(p1.kind, 'conflict');
  assert.deepEqual(p1, p2, 'both replicas hold the same canonical proof');
  assert.equal(p1.signer, primaryWallet.address);
  assert.equal(p1.a.header.height, honest.height + 1);
  assert.match((p1 as any).calldata, /^0x[0-9a-f]+$/);
  const info = await client(r1).info();
  assert.ok(info.halted, 'the replica reports it stopped following the primary');

  // Nothing more from that primary is stored; what the replica had is still served.
  const before = (await client(r1).info()).entries;
  await client(primary).append(signer.sign({ nonce: 2n, transactions: [new TextEncoder().encode('after')] })).catch(() => {});
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await client(r1).info()).entries, before);
  assert.equal((await client(r1).read(0, 10))[0].payload, toHex(new TextEncoder().encode('honest')));

  // Detection survives a restart.
  await r2.stop();
  r2 = await startReplica(join(dir.path, 'r2'), primary.multiaddrs(), { chainId: anvil.chainId });
  assert.equal((await client(r2).info()).equivocations, 1);
  const forwarded = await client(r2).append(signer.sign({ nonce: 3n, transactions: [new TextEncoder().encode('x')] })).catch((e) => e);
  assert.ok(forwarded instanceof Error);

  // The slasher submits the proof: the bond is slashed and the reporter paid half of it.
  const reporterBond = bond.connect(reporter) as typeof bond;
  const balanceBefore = await provider.getBalance(reporter.address);
  const outcome = await submitProof(reporterBond, p1);
  assert.equal(outcome.status, 'slashed');
  if (outcome.status !== 'slashed') return;
  const gas = outcome.result.receipt.gasUsed * outcome.result.receipt.gasPrice;
  assert.equal(await provider.getBalance(reporter.address), balanceBefore + parseEther('2') - gas);
  assert.equal(outcome.result.event.reward, parseEther('2'));
  assert.equal(outcome.result.event.sequencer, primaryWallet.address);
  assert.equal((await bondInfo(bond, primaryWallet.address, toHex(LOG_ID))).amount, 0n);
  console.log(`slash gas used: ${outcome.result.receipt.gasUsed}`);

  // The same equivocation cannot be paid twice.
  assert.equal((await submitProof(reporterBond, p2)).status, 'skipped');
  const again = await slash(reporterBond, p2, { preflight: false }).catch((e) => e);
  assert.ok(['ProofAlreadyUsed', 'AlreadySlashed', 'NotBonded'].includes(decodeBondError(again)?.name ?? ''), `refused: ${decodeBondError(again)?.name}`);
});

test('a proof travels on its own topic: nodes that never saw the headers adopt a valid one, and refuse a forged one', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const r1 = await startReplica(join(dir.path, 'r1'), primary.multiaddrs());
  const r2 = await startReplica(join(dir.path, 'r2'), primary.multiaddrs());
  const rogue = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir.path, 't')), listenPort: 0, bootstrapPeers: r1.multiaddrs(), maxMessageBytes: 3_500_000, log: () => {} });
  t.after(async () => { await Promise.all([rogue.stop(), r1.stop(), r2.stop(), primary.stop()]); await dir.remove(); });
  const topic = proofTopic(LOG_ID);
  rogue.subscribe(topic, async () => 'ignore');
  const r1Peer = (await client(r1).info()).peerId as string;
  await waitFor(() => rogue.subscribers(topic).includes(r1Peer), 10_000, 'r1 subscribed to proofs');

  const [a, b] = conflictingBatches(await tipOf(client(primary))).map(decodeBatch);
  const proof = judgePair(SEPARATOR, CHAIN_ID, addressFromPrivateKey(PRIMARY_KEY), a, b)!;
  // The same two headers re-signed by another key: a well-formed proof against someone who is not the primary.
  const forged = { ...proof, signer: addressFromPrivateKey(OUTSIDER_KEY), a: signHeader(SEPARATOR, proof.a.header, OUTSIDER_KEY), b: signHeader(SEPARATOR, proof.b.header, OUTSIDER_KEY) };
  await rogue.publish(topic, encodeJson(proofToJson(forged)));
  await rogue.publish(topic, new TextEncoder().encode('{"kind":"conflict"'));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await client(r1).info()).equivocations, 0, 'a proof against another signer is refused');
  assert.ok(rogue.peerScore(r1Peer) <= 0);

  await rogue.publish(topic, encodeJson(proofToJson(proof)));
  for (const node of [r1, primary, r2]) {
    await waitFor(async () => (await client(node).info()).equivocations === 1, 10_000, 'proof adopted');
  }
  assert.ok((await client(r2).info()).halted, 'a node that never saw either header stops following the primary');
  assert.ok((await client(primary).info()).halted);
});
