/**
 * Accountability for votes across real nodes (real libp2p, real LevelDB, a real anvil): a Byzantine validator whose key
 * the test also holds signs a second lock vote at a height it already voted; every node that counts votes turns the
 * pair into a kind-3 proof, stores it and gossips it (validators that were down when the votes flew get it from their
 * peers), the node goes on following the quorum (finality advances), and `sequencer slash` takes the proof from a node
 * and slashes that validator's bond on chain, while an honest validator's bond is untouched. Proofs published on the
 * equivocations topic are adopted only if they check out: malformed, forged or non-canonical ones change nothing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JsonRpcProvider, Wallet, getAddress, parseEther, toQuantity } from 'ethers';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { fromHex, toHex, type Bytes } from '../src/core/bytes.ts';
import { keccak256 } from '../src/core/hash.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { VoteKind, encodeVoteBundle, signVoteUnchecked, type SignedVote } from '../src/core/vote.ts';
import { checkVoteProof, judgeVoteConflict } from '../src/core/vote-proofs.ts';
import { MIN_WITHDRAWAL_DELAY, bondInfo, connectBond, deployBond, register } from '../src/chain/bond-contract.ts';
import { createHost, type Host } from '../src/p2p/host.ts';
import { encodeJson, proofTopic, voteTopic } from '../src/wire/p2p-messages.ts';
import { voteProofToJson, type VoteProofJson } from '../src/wire/vote-proof-json.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { ANVIL_KEYS, anvilRpc, startAnvil } from './helpers/anvil.ts';
import { cliEnv, runCli } from './helpers/cli.ts';
import { CHAIN_ID, LOG_ID, PRIMARY_KEY, client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

const KEYS: readonly Bytes[] = [PRIMARY_KEY, fromHex('0x' + '44'.repeat(32)), fromHex('0x' + '55'.repeat(32)), fromHex('0x' + '66'.repeat(32))];
const VALIDATORS = KEYS.map(addressFromPrivateKey);
/** The validator whose key the test holds too: it double-votes. */
const BYZANTINE = 3;
const BOND = parseEther('2');
const REWARD_BPS = 5000;
const signer = clientSigner();
let nonce = 0n;
const tx = (s: string) => new TextEncoder().encode(s);

function startValidator(dir: string, i: number, peers: string[]): Promise<SequencerNode> {
  return startReplica(join(dir, `v${i}`), peers, { mode: 'validator', privateKey: KEYS[i], validators: VALIDATORS });
}

/** A bare libp2p host joined to the nodes' proof and vote topics (it validates nothing: it only publishes). */
async function startTestHost(t: TestContext, node: SequencerNode): Promise<Host> {
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: node.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(() => host.stop());
  for (const topic of [proofTopic(LOG_ID), voteTopic(LOG_ID)]) host.subscribe(topic, async () => 'ignore');
  const peer = node.multiaddrs()[0]!.split('/p2p/')[1]!;
  await waitFor(() => host.connectedPeers().includes(peer), 10_000, 'test host connected');
  await new Promise((r) => setTimeout(r, 1_200)); // subscriptions exchanged
  return host;
}

/** The vote proofs a node serves (sequencer_getEquivocations), without their calldata, by canonical JSON. */
async function voteProofsOf(node: SequencerNode): Promise<string[]> {
  const listed = await client(node).getEquivocations();
  return listed.filter((p) => p.kind === 'vote-conflict').map(({ calldata, ...p }) => {
    assert.match(calldata, /^0x[0-9a-f]+$/, 'served with its calldata');
    return JSON.stringify(p);
  }).sort();
}

test('a Byzantine validator\'s double vote is caught by every node, gossiped, does not stop finality, and is slashed on anvil', { timeout: 180_000 }, async (t) => {
  // The chain: a bond contract, every validator bonded for the log.
  const anvil = await startAnvil();
  t.after(() => anvil.stop());
  assert.equal(anvil.chainId, CHAIN_ID);
  const provider = new JsonRpcProvider(anvil.url, anvil.chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(() => provider.destroy());
  const bond = await deployBond(new Wallet(ANVIL_KEYS[0], provider), { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: REWARD_BPS });
  const bondAddress = await bond.getAddress();
  const logId = toHex(LOG_ID);
  for (const key of KEYS) {
    const wallet = new Wallet(toHex(key), provider);
    await anvilRpc(anvil, 'anvil_setBalance', [wallet.address, toQuantity(parseEther('10'))]);
    await register(connectBond(bondAddress, wallet), logId, BOND);
  }

  // The network: the leader (validator 0), validators 1-3 each connected to all started before it, an observer
  // connected to the leader only.
  const dir = await tempDir();
  const nodes: (SequencerNode | undefined)[] = [await startPrimary(join(dir.path, 'v0'), { validators: VALIDATORS })];
  for (let i = 1; i < KEYS.length; i++) nodes.push(await startValidator(dir.path, i, nodes.flatMap((n) => n!.multiaddrs())));
  const primary = nodes[0]!;
  let observer = await startReplica(join(dir.path, 'observer'), primary.multiaddrs(), { validators: VALIDATORS });
  t.after(async () => {
    await Promise.all([...nodes, observer].map((n) => n?.stop()));
    await dir.remove();
  });
  await waitFor(() => nodes.every((n) => n!.info().notReady === null), 10_000, 'every validator recovered');
  await new Promise((r) => setTimeout(r, 1_200));
  const append = (label: string) => primary.append(signer.sign({ nonce: nonce++, transactions: [tx(label)] }));
  const first = await append('all up');
  await waitFor(() => [...nodes, observer].every((n) => n!.info().finalizedHeight >= first.header.height), 10_000, 'first height final');

  // Two honest validators down: the next height is voted by the leader and the Byzantine validator but not final.
  for (const i of [1, 2]) {
    await nodes[i]!.stop();
    nodes[i] = undefined;
  }
  const stalled = await append('two down');
  const h = stalled.header.height;
  await waitFor(() => [nodes[BYZANTINE]!, observer].every((n) => n.info().height >= h), 10_000, 'the stalled height stored');
  const ctx = primary.rules;
  const byzantineVote = (height: number, seed: string): SignedVote =>
    signVoteUnchecked(ctx, { kind: VoteKind.lock, view: 0, height, headerHash: keccak256(tx(seed)) }, KEYS[BYZANTINE]);
  const scope = { chainId: CHAIN_ID, logId: LOG_ID, membershipHash: ctx.membership.hash };

  // Proofs on the equivocations topic: two bad ones, then a good one (a double vote at another height nobody saw
  // as votes), all from one peer. Only the good one is adopted.
  const gossiped = judgeVoteConflict(ctx, BYZANTINE, byzantineVote(h + 500, 'x'), byzantineVote(h + 500, 'y'))!;
  const gossipedJson = voteProofToJson(scope, gossiped);
  assert.equal(gossipedJson.kind, 'vote-conflict');
  const forged: VoteProofJson = { ...gossipedJson, signer: getAddress(toHex(VALIDATORS[1]!)) }; // the honest validator 1, with 3's signatures
  assert.ok(checkVoteProof(ctx, { ...gossiped, signer: VALIDATORS[1]! }), 'no proof naming an honest validator checks out');
  const attacker = await startTestHost(t, primary);
  await attacker.publish(proofTopic(LOG_ID), encodeJson({ ...gossipedJson, a: { vote: gossipedJson.a.vote } })); // malformed: no signature
  await attacker.publish(proofTopic(LOG_ID), encodeJson(forged));
  await attacker.publish(proofTopic(LOG_ID), encodeJson(gossipedJson));
  const up = () => [...nodes, observer].filter((n): n is SequencerNode => n !== undefined);
  await waitFor(async () => (await Promise.all(up().map(voteProofsOf))).every((l) => l.length >= 1), 10_000, 'the gossiped proof adopted');
  for (const n of up()) assert.deepEqual(await voteProofsOf(n), [JSON.stringify(gossipedJson)], 'only the good proof is held');

  // The double vote itself: a lock vote for another header at the stalled height, where the validator voted already.
  // Published by a host connected to the leader only; the leader relays the bundle to the others.
  const doubleVote = byzantineVote(h, 'another header');
  const voter = await startTestHost(t, primary);
  // A non-canonical copy of the gossiped proof (its statements swapped) is refused too.
  await voter.publish(proofTopic(LOG_ID), encodeJson({ ...gossipedJson, a: gossipedJson.b, b: gossipedJson.a }));
  await voter.publish(voteTopic(LOG_ID), encodeVoteBundle({ signerIndex: BYZANTINE, votes: [doubleVote] }));
  await waitFor(async () => (await Promise.all(up().map(voteProofsOf))).every((l) => l.length >= 2), 10_000, 'the double vote caught by every node up');
  type ConflictJson = Extract<VoteProofJson, { kind: 'vote-conflict' }>;
  const caught = (await voteProofsOf(observer)).map((s) => JSON.parse(s) as ConflictJson).find((p) => p.a.vote.height === h)!;
  assert.ok(caught, 'the observer holds the proof of the double vote');
  assert.equal(caught.signer, getAddress(toHex(VALIDATORS[BYZANTINE]!)));
  assert.deepEqual([caught.a.vote.kind, caught.b.vote.kind, caught.b.vote.height], [VoteKind.lock, VoteKind.lock, h]);
  const expected = (await voteProofsOf(observer));
  assert.equal(expected.length, 2);
  for (const n of up()) {
    assert.deepEqual(await voteProofsOf(n), expected, 'every node holds the same two proofs');
    const info = n.info();
    assert.equal(info.equivocations, 2, 'counted in info');
    assert.equal(info.halted, null, 'a vote equivocation does not stop the node');
  }

  // The honest validators return: they never saw the double vote, and get its proof from their peers; the quorum is
  // back and finality advances past the stalled height.
  for (const i of [1, 2]) nodes[i] = await startValidator(dir.path, i, [...primary.multiaddrs(), ...nodes[BYZANTINE]!.multiaddrs()]);
  await waitFor(async () => (await Promise.all([nodes[1]!, nodes[2]!].map(voteProofsOf))).every((l) => l.length === 2), 15_000, 'the returning validators learn the proofs');
  for (const i of [1, 2]) assert.deepEqual(await voteProofsOf(nodes[i]!), expected);
  const after = await append('after the double vote');
  await waitFor(() => up().every((n) => n.info().finalizedHeight >= after.header.height), 15_000, 'finality advances');

  // Stored durably: a restarted node lists them before any peer could tell it again.
  await observer.stop();
  observer = await startReplica(join(dir.path, 'observer'), primary.multiaddrs(), { validators: VALIDATORS });
  assert.equal(observer.voteEquivocations().length, 2, 'read back from the store');
  assert.deepEqual(await voteProofsOf(observer), expected);

  // Slashing: the forged proof naming the honest validator is refused without a transaction; `sequencer slash` takes
  // the proofs from a node and slashes the Byzantine validator once (the second proof finds nothing left to slash).
  const reporter = new Wallet(ANVIL_KEYS[1], provider);
  const env = cliEnv({ PRIVATE_KEY: ANVIL_KEYS[1] });
  const forgedFile = join(dir.path, 'forged.json');
  await writeFile(forgedFile, JSON.stringify(forged));
  const refused = await runCli(['slash', '--rpc', anvil.url, '--contract', bondAddress, '--proof', forgedFile], { env, timeoutMs: 60_000 });
  assert.equal(refused.code, 1);
  assert.equal(JSON.parse(refused.stdout).status, 'failed');
  const balanceBefore = await provider.getBalance(reporter.address);
  const run = await runCli(['slash', '--rpc', anvil.url, '--contract', bondAddress, '--from', observer.rpcUrl!], { env, timeoutMs: 60_000 });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; kind: string; signer: string; reward?: string });
  assert.deepEqual(lines.map((l) => l.status).sort(), ['skipped', 'slashed']);
  const slashed = lines.find((l) => l.status === 'slashed')!;
  assert.deepEqual([slashed.kind, slashed.signer, slashed.reward], ['vote-conflict', getAddress(toHex(VALIDATORS[BYZANTINE]!)), '1.0']);
  assert.ok((await provider.getBalance(reporter.address)) > balanceBefore, 'the reporter is paid');
  assert.deepEqual(await bondInfo(bond, getAddress(toHex(VALIDATORS[BYZANTINE]!)), logId), { amount: 0n, withdrawableAt: 0n, slashed: true });
  for (let i = 0; i < KEYS.length; i++) {
    if (i === BYZANTINE) continue;
    assert.deepEqual(await bondInfo(bond, getAddress(toHex(VALIDATORS[i]!)), logId), { amount: BOND, withdrawableAt: 0n, slashed: false }, `validator ${i} untouched`);
  }
});
