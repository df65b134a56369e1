/**
 * End to end: a tool holding the primary's key publishes two conflicting batches, one to each replica.
 * Both replicas catch the conflict and store the proof; a slasher submits it to SequencerBond on a real anvil;
 * the bond is slashed and the reporter paid; a second submission is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { createHost, type Host } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { batchTopic, encodeJson, proofTopic } from '../src/wire/p2p-messages.ts';
import { GENESIS_TIP, decodeBatch } from '../src/core/batch.ts';
import { judgePair } from '../src/core/equivocation.ts';
import { headerHash, signHeader, type Header } from '../src/core/header.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { parseReceipt, proofToJson, receiptToJson, type ReceiptJson } from '../src/wire/json.ts';
import { bondInfo, connectBond, deployBond, register, requestWithdrawal, slash, decodeBondError, MIN_WITHDRAWAL_DELAY } from '../src/chain/bond-contract.ts';
import { fetchProofs, submitProof } from '../src/chain/slasher.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { ANVIL_KEYS, startAnvil } from './helpers/anvil.ts';
import { batchOnTip, conflictingBatches, receiptOf, tipOf } from './helpers/equivocator.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { LogStore } from '../src/storage/log-store.ts';
import { CHAIN_ID, LOG_ID, OUTSIDER_KEY, PRIMARY_KEY, SEPARATOR, client, clientSigner, peerScoreAt, startPrimary, startReplica, startPrimaryAndReplica, tempDir, waitFor } from './helpers/network.ts';

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
  const bond = await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 5000 });
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
  assert.equal(p2.kind, 'conflict');
  assert.deepEqual(p1, p2, 'both replicas hold the same canonical proof');
  assert.equal(p1.signer, primaryWallet.address);
  assert.equal(p1.a.header.height, honest.height + 1);
  assert.match((p1 as any).calldata, /^0x[0-9a-f]+$/);
  const info = await client(r1).info();
  assert.ok(info.halted, 'the replica reports it stopped following the primary');

  // Detection survives a restart.
  await r2.stop();
  r2 = await startReplica(join(dir.path, 'r2'), primary.multiaddrs(), { chainId: anvil.chainId });
  assert.equal((await client(r2).info()).equivocations, 1);
  const forwarded = await client(r2).append(signer.sign({ nonce: 3n, transactions: [new TextEncoder().encode('x')] })).catch((e) => e);
  assert.ok(forwarded instanceof Error);

  // Nothing more from that primary is stored: a valid successor of r1's tip, signed with its key, is not taken.
  // r1 judges one peer's messages in order, so once a new proof sent after it is adopted, it has been judged.
  const r1Tip = await tipOf(client(r1));
  await toR1.publish(batchTopic(LOG_ID), batchOnTip(r1Tip, 'after the equivocation'));
  const r1Peer = (await client(r1).info()).peerId as string;
  await waitFor(() => toR1.subscribers(proofTopic(LOG_ID)).includes(r1Peer), 10_000, 'r1 subscribed to proofs');
  const [c, d] = conflictingBatches({ ...r1Tip, height: r1Tip.height + 10 }).map(decodeBatch);
  await toR1.publish(proofTopic(LOG_ID), encodeJson(proofToJson(judgePair(SEPARATOR, anvil.chainId, addressFromPrivateKey(PRIMARY_KEY), c, d)!)));
  await waitFor(async () => (await client(r1).info()).equivocations === 2, 10_000, 'the later proof adopted');
  const after = await client(r1).info();
  assert.equal(after.height, r1Tip.height, 'the successor was not stored');
  assert.equal(after.entries, r1Tip.nextSeq);
  // What the replica had is still served.
  assert.equal((await client(r1).read(0, 10))[0].payload, toHex(new TextEncoder().encode('honest')));

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
  // Then the valid proof: r1 judges one peer's messages in order, so once it holds this one it has judged the two before.
  await rogue.publish(topic, encodeJson(proofToJson(proof)));
  await waitFor(async () => (await client(r1).info()).equivocations >= 1, 10_000, 'r1 adopts the valid proof');
  const held = await fetchProofs(r1.rpcUrl);
  assert.equal(held.length, 1, 'a proof against another signer is refused');
  assert.equal(held[0].signer.toLowerCase(), toHex(addressFromPrivateKey(PRIMARY_KEY)));
  // Both refusals cost the peer that sent them (one reject alone scores -10 at most, and decays toward 0).
  await waitFor(() => peerScoreAt(r1, rogue.peerId) < -10, 5_000, 'r1 penalised the sender of the forged and the malformed proof');

  for (const node of [r1, primary, r2]) {
    await waitFor(async () => (await client(node).info()).equivocations === 1, 10_000, 'proof adopted');
  }
  assert.ok((await client(r2).info()).halted, 'a node that never saw either header stops following the primary');
  assert.ok((await client(primary).info()).halted);
});

type Verdict = { valid: boolean; reason: string | null; status: string; proof: Record<string, unknown> | null };

/** The receipt JSON with its header patched and re-signed with the primary's key (the key really signs it). */
function resignedReceipt(json: ReceiptJson, patch: Partial<Header>): ReceiptJson {
  const r = parseReceipt(json);
  const signed = signHeader(SEPARATOR, { ...r.header, ...patch }, PRIMARY_KEY);
  return receiptToJson({ ...r, ...signed }, headerHash(SEPARATOR, signed.header));
}

test('sequencer_verifyReceipt answers each status: consistent, invalid (tampered, another log, another view), mismatch, pending then judged when the height arrives', async (t) => {
  const { primary, replica } = await startPrimaryAndReplica(t);
  // The statuses; the finality each answer also carries is test/finality-rpc.test.ts's.
  const verify = async (receipt: unknown): Promise<Verdict> => {
    const { finality: _f, certificate: _c, ...verdict } = await client(replica).call<Verdict & { finality: string; certificate: unknown }>('sequencer_verifyReceipt', [receipt]);
    return verdict;
  };
  const signer = clientSigner();
  const tx = (s: string) => new TextEncoder().encode(s);
  const honest = await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('honest'), tx('two')] }));
  await waitFor(async () => (await client(replica).info()).entries === 2, 10_000, 'replication');

  assert.deepEqual(await verify(honest), { valid: true, reason: null, status: 'consistent', proof: null });

  // A tampered receipt of a height the node holds is invalid, and says nothing about the log.
  const tampered = { ...honest, entryHashes: [toHex(randomBytes(32)), honest.entryHashes[1]] };
  assert.deepEqual(await verify(tampered), { valid: false, reason: 'Merkle proof does not match the entries root', status: 'invalid', proof: null });
  // Headers the primary's key signed for another log or another view: refused, never 'consistent'.
  const otherLog = await verify(resignedReceipt(honest, { logId: randomBytes(32) }));
  assert.deepEqual(otherLog, { valid: false, reason: 'header of another log', status: 'invalid', proof: null });
  const otherView = await verify(resignedReceipt(honest, { view: 1 }));
  assert.deepEqual(otherView, { valid: false, reason: 'header of view 1, which the log does not allow', status: 'invalid', proof: null });

  // The stored header and entries, claimed as another sender's submission: named, not 'consistent'.
  const misattributed = { ...honest, sender: toHex(addressFromPrivateKey(OUTSIDER_KEY)), submissionDigest: toHex(randomBytes(32)) };
  const mismatch = await verify(misattributed);
  assert.equal(mismatch.valid, false, 'a receipt that misstates the log is not to be relied on');
  assert.equal(mismatch.status, 'mismatch');
  assert.match(mismatch.reason ?? '', /from another sender/);
  // The JSON's derived fields must agree with the receipt; a field the receipt does not have is refused.
  assert.deepEqual(await verify({ ...honest, headerHash: toHex(randomBytes(32)) }),
    { valid: false, reason: 'headerHash is not the hash of the header', status: 'invalid', proof: null });
  for (const [what, bad, field] of [
    ['an unknown field', { ...honest, note: 'x' }, /^note: unknown field/],
    ['an unknown header field', { ...honest, header: { ...honest.header, extra: 1 } }, /^header\.extra: unknown field/],
    ['a height other than the header\'s', { ...honest, height: honest.height + 1 }, /^height: /],
    ['a count other than the entries\'', { ...honest, count: honest.count + 1 }, /^count: /],
  ] as const) {
    await assert.rejects(verify(bad), (e: RpcError) => e.code === ErrorCode.InvalidParams && field.test(e.message), what);
  }
  assert.equal((await client(replica).info()).equivocations, 0, 'none of these is an equivocation');

  // A receipt for the next height, signed with the primary's key for a batch the primary never sequences.
  const tip = await tipOf(client(primary));
  const phantom = receiptOf(batchOnTip(tip, 'never sequenced'), tip.headHash);
  assert.deepEqual(await verify(phantom), { valid: true, reason: null, status: 'pending', proof: null });
  // The real batch for that height arrives: the remembered header is judged against it.
  await client(primary).append(signer.sign({ nonce: 2n, transactions: [tx('the real height 1')] }));
  await waitFor(async () => (await client(replica).info()).equivocations === 1, 10_000, 'the pending receipt is judged when its height arrives');
  const [proof] = await fetchProofs(replica.rpcUrl);
  assert.equal(proof.kind, 'conflict');
  assert.deepEqual([proof.a.header.height, proof.b.header.height], [1, 1]);
  assert.ok([proof.a.signature, proof.b.signature].includes(phantom.signature as string), 'the proof holds the receipt\'s header');
});

test('one equivocation, one proof: many concurrent checks of one conflicting receipt list and store a single proof, also after a restart', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  let replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await Promise.all([replica.stop(), primary.stop()]); await dir.remove(); });
  await client(primary).append(clientSigner().sign({ nonce: 1n, transactions: [new TextEncoder().encode('honest')] }));
  await waitFor(async () => (await client(replica).info()).entries === 1, 10_000, 'replication');
  // Another batch for height 0, signed with the primary's key.
  const conflicting = receiptOf(batchOnTip(GENESIS_TIP, 'conflicting height 0'), new Uint8Array(32));
  const direct = Array.from({ length: 20 }, () => replica.verifyReceipt(parseReceipt(conflicting)));
  const overRpc = Array.from({ length: 10 }, () => client(replica).call<Verdict>('sequencer_verifyReceipt', [conflicting]));
  const verdicts = await Promise.all([...direct, ...overRpc]);
  for (const v of verdicts) assert.equal(v.status, 'conflict');
  assert.equal(replica.equivocations().length, 1, 'listed once');
  assert.equal((await fetchProofs(replica.rpcUrl)).length, 1);
  await replica.stop();
  replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  assert.equal((await fetchProofs(replica.rpcUrl)).length, 1, 'stored once');
});

test('sequencer_verifyReceipt costs what one receipt asks: many checks of one stored batch read it once, never expanded per call', async (t) => {
  const { primary, replica } = await startPrimaryAndReplica(t);
  const signer = clientSigner();
  const tx = (s: string) => new TextEncoder().encode(s);
  const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => client(primary).append(signer.sign({ nonce: BigInt(i + 1), transactions: [tx(`big ${i}`)] }))));
  await waitFor(async () => (await client(replica).info()).entries === 20, 10_000, 'replication');
  const heights = new Set(receipts.map((r) => r.height));
  // Count the replica's batch reads (the real LevelDB store, only counted).
  const getBatch = LogStore.prototype.getBatch;
  let reads = 0;
  LogStore.prototype.getBatch = function (this: LogStore, height: number) { reads++; return getBatch.call(this, height); };
  t.after(() => { LogStore.prototype.getBatch = getBatch; });
  const verdicts = await Promise.all(Array.from({ length: 50 }, () => receipts.map((r) => replica.verifyReceipt(parseReceipt(r)))).flat());
  for (const v of verdicts) assert.equal(v.status, 'consistent');
  // Each stored height is read at most twice (its header, kept by the watch; its submissions, shared by concurrent callers), not once per call.
  assert.ok(reads <= 2 * 3 * heights.size, `${reads} batch reads for ${verdicts.length} checks of ${heights.size} heights`);
  reads = 0;
  for (const v of await Promise.all(receipts.map((r) => replica.verifyReceipt(parseReceipt(r))))) assert.equal(v.status, 'consistent');
  assert.ok(reads <= heights.size, `${reads} batch reads for one more check per receipt: headers come from the watch's cache`);
});

test('a replica does not answer success for a forwarded append whose receipt conflicts with a header it holds: -32009 with the proof', async (t) => {
  const { primary, replica } = await startPrimaryAndReplica(t);
  const signer = clientSigner();
  const tx = (s: string) => new TextEncoder().encode(s);
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('first')] }));
  await waitFor(async () => (await client(replica).info()).entries === 1, 10_000, 'replication');
  // The replica is shown a header for the next height that the primary's key signed and the primary never sequences.
  const tip = await tipOf(client(primary));
  const phantom = receiptOf(batchOnTip(tip, 'never sequenced'), tip.headHash);
  assert.equal((await client(replica).call<Verdict>('sequencer_verifyReceipt', [phantom])).status, 'pending');
  // The primary sequences the forwarded append at that height: the receipt it returns conflicts.
  const answer = await client(replica).append(signer.sign({ nonce: 2n, transactions: [tx('forwarded')] })).then(
    (r) => assert.fail(`answered success (height ${r.height}) for a receipt that conflicts with a held header`),
    (e: RpcError) => e,
  );
  assert.equal(answer.code, ErrorCode.Halted, answer.message);
  const proof = (answer.data as { proof?: { kind: string; a: { header: { height: number } }; b: { signature: string }; signer: string } }).proof;
  assert.equal(proof?.kind, 'conflict');
  assert.equal(proof.a.header.height, tip.height + 1);
  assert.equal((await client(replica).info()).equivocations, 1, 'the proof is held');
});

test('a replica that stops following a primary whose bond is leaving still judges its gossip: an equivocation is caught', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  const nodes: SequencerNode[] = [];
  const hosts: Host[] = [];
  t.after(async () => {
    await Promise.all([...hosts.map((h) => h.stop()), ...nodes.map((n) => n.stop())]);
    provider.destroy();
    await anvil.stop();
    await dir.remove();
  });
  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  const deployed = await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 5000 });
  await (await deployer.sendTransaction({ to: primaryWallet.address, value: parseEther('5') })).wait();
  const asPrimary = connectBond(await deployed.getAddress(), primaryWallet);
  await register(asPrimary, toHex(LOG_ID), parseEther('2'));
  const bond = { contract: fromHex(await deployed.getAddress(), 20), chainRpc: anvil.url, pollMs: 100 };

  const primary = await startPrimary(join(dir.path, 'p'));
  nodes.push(primary);
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs(), { bond });
  nodes.push(replica);
  await client(primary).append(clientSigner().sign({ nonce: 1n, transactions: [new TextEncoder().encode('honest')] }));
  await waitFor(async () => (await client(replica).info()).entries === 1, 15_000, 'replication');
  await requestWithdrawal(asPrimary, toHex(LOG_ID));
  await waitFor(async () => /bond is leaving/.test((await client(replica).info()).halted ?? ''), 10_000, 'the replica stops following');

  // Another batch for the stored height 0, signed with the primary's key, reaches the replica by gossip.
  const rogue = await attacker(join(dir.path, 't'), replica);
  hosts.push(rogue);
  await rogue.publish(batchTopic(LOG_ID), batchOnTip(GENESIS_TIP, 'conflicting height 0'));
  await waitFor(async () => (await client(replica).info()).equivocations === 1, 10_000, 'the replica judges the header and records the proof');
  const info = await client(replica).info();
  assert.equal(info.height, 0, 'nothing stored meanwhile');
  const [proof] = await fetchProofs(replica.rpcUrl);
  assert.equal(proof.kind, 'conflict');
  assert.equal(proof.a.header.height, 0);
});
