/**
 * contracts/SequencerBond.sol against a real anvil: bonding, kind 1 / kind 2 slashing with exact balance
 * accounting, forged and replayed proofs, signature malleability, the withdrawal delay (its enforced minimum,
 * and a slash racing a withdraw in one block), the bounded reward (self-reports cost half), Slashed event
 * queries, and the gas of every call (docs/slashing.md §Gas).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  JsonRpcProvider,
  TypedDataEncoder,
  Wallet,
  ZeroHash,
  getBytes,
  hexlify,
  parseEther,
  randomBytes,
  toBeHex,
  toQuantity,
  type Contract,
  type TransactionReceipt,
} from 'ethers';
import { ANVIL_KEYS, anvilRpc, startAnvil } from './helpers/anvil.ts';
import {
  bondInfo,
  bondOf,
  bondStatus,
  connectBond,
  decodeBondError,
  bondInterface,
  cancelWithdrawal,
  deployBond,
  encodeSlashCalldata,
  listSlashes,
  MAX_REWARD_BPS,
  MIN_WITHDRAWAL_DELAY,
  headerDigest,
  headerToStruct,
  register,
  requestWithdrawal,
  slash,
  slashedEvents,
  withdraw,
} from '../src/chain/bond-contract.ts';
import { BATCH_HEADER_TYPES, type EquivocationKind, type EquivocationProof, type HeaderJson, type SignedHeaderJson } from '../src/chain/proof-types.ts';
import { staleArtifacts } from '../scripts/compile-contracts.ts';

/** The EIP-712 types the sequencer signs with (checked against the type strings by test/core/vectors.test.ts). */
const TYPES = BATCH_HEADER_TYPES;

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const MIN_BOND = parseEther('1');
const BOND = parseEther('2');
const REWARD_BPS = 5000;
const WITHDRAWAL_DELAY = MIN_WITHDRAWAL_DELAY;

const rand32 = (): string => hexlify(randomBytes(32));

function header(logId: string, height: number, over: Partial<HeaderJson> = {}): HeaderJson {
  return {
    logId,
    height,
    view: 3,
    firstSeq: height * 10,
    count: 10,
    prevHeaderHash: height === 0 ? ZeroHash : rand32(),
    headHash: rand32(),
    entriesRoot: rand32(),
    timestamp: 1_700_000_000 + height,
    ...over,
  };
}

async function sign(w: Wallet, h: HeaderJson, chainId: number, salt = h.logId): Promise<SignedHeaderJson> {
  const signature = await w.signTypedData({ name: 'Sequencer', version: '1', chainId, salt }, TYPES, h);
  return { header: h, signature };
}

function proofOf(kind: EquivocationKind, signer: Wallet, chainId: number, a: SignedHeaderJson, b: SignedHeaderJson): EquivocationProof {
  return { kind, domain: { name: 'Sequencer', version: '1', chainId, salt: a.header.logId }, signer: signer.address, a, b };
}

/** Rewrites a 65-byte signature's s and/or v. */
function tamper(sig: string, f: (s: bigint, v: number) => { s?: bigint; v?: number }): string {
  const bytes = getBytes(sig);
  const s = BigInt(hexlify(bytes.slice(32, 64)));
  const out = f(s, bytes[64]!);
  const copy = new Uint8Array(bytes);
  if (out.s !== undefined) copy.set(getBytes(toBeHex(out.s, 32)), 32);
  if (out.v !== undefined) copy[64] = out.v;
  return hexlify(copy);
}

async function expectRevert(p: Promise<unknown>, name: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    const decoded = decodeBondError(err);
    assert.equal(decoded?.name, name, `expected revert ${name}, got ${decoded?.name ?? String(err).slice(0, 300)}`);
    return true;
  });
}

test('SequencerBond on anvil', async (t) => {
  const anvil = await startAnvil();
  t.after(() => anvil.stop());
  const provider = new JsonRpcProvider(anvil.url, anvil.chainId, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(() => provider.destroy());
  const chainId = anvil.chainId;
  assert.equal(chainId, 31337);

  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const reporter = new Wallet(ANVIL_KEYS[1], provider);
  const bond = await deployBond(deployer, { minBond: MIN_BOND, withdrawalDelay: WITHDRAWAL_DELAY, rewardBps: REWARD_BPS });
  const address = await bond.getAddress();
  const as = (w: Wallet): Contract => connectBond(address, w);
  const balance = (a: string): Promise<bigint> => provider.getBalance(a);
  const fee = (r: TransactionReceipt): bigint => r.gasUsed * r.gasPrice;

  /** A fresh funded sequencer, bonded with BOND on a fresh log. */
  async function bondedSequencer(): Promise<{ seq: Wallet; logId: string }> {
    const seq = new Wallet(rand32(), provider);
    await anvilRpc(anvil, 'anvil_setBalance', [seq.address, toQuantity(parseEther('100'))]);
    const logId = rand32();
    await register(as(seq), logId, BOND);
    return { seq, logId };
  }

  async function conflictProof(seq: Wallet, logId: string, height = 7): Promise<EquivocationProof> {
    const a = await sign(seq, header(logId, height), chainId);
    const b = await sign(seq, header(logId, height), chainId);
    return proofOf('conflict', seq, chainId, a, b);
  }

  await t.test('on-chain digests equal ethers TypedDataEncoder', async () => {
    const logId = rand32();
    const h = header(logId, 42, { firstSeq: 2 ** 40, count: 2 ** 32 - 1, timestamp: 2 ** 53 - 1 });
    const domain = { name: 'Sequencer', version: '1', chainId, salt: logId };
    assert.equal(await bond.getFunction('domainSeparator')(logId), TypedDataEncoder.hashDomain(domain));
    assert.equal(await bond.getFunction('domainSeparatorFor')(logId, 1), TypedDataEncoder.hashDomain({ ...domain, chainId: 1 }));
    assert.equal(await bond.getFunction('structHash')(headerToStruct(h)), TypedDataEncoder.from(TYPES).hash(h));
    const expected = TypedDataEncoder.hash(domain, TYPES, h);
    assert.equal(await bond.getFunction('headerDigest')(headerToStruct(h), chainId), expected);
    assert.equal(headerDigest(h, chainId), expected);
    assert.equal(await bond.getFunction('headerDigest')(headerToStruct(h), 1), TypedDataEncoder.hash({ ...domain, chainId: 1 }, TYPES, h));
    const w = new Wallet(rand32());
    const signed = await sign(w, h, chainId);
    assert.equal(await bond.getFunction('recoverSigner')(headerToStruct(h), signed.signature), w.address);
  });

  await t.test('register: minimum bond, top-up, bondOf', async () => {
    const seq = new Wallet(rand32(), provider);
    await anvilRpc(anvil, 'anvil_setBalance', [seq.address, toQuantity(parseEther('100'))]);
    const logId = rand32();
    await expectRevert(register(as(seq), logId, MIN_BOND - 1n), 'BondTooSmall');
    await expectRevert(as(seq).getFunction('register')(logId), 'BondTooSmall');
    await register(as(seq), logId, MIN_BOND);
    await register(as(seq), logId, 5n); // top-up: any amount once the total is above the minimum
    assert.equal(await bondOf(bond, seq.address, logId), MIN_BOND + 5n);
    assert.equal(await bondOf(bond, seq.address, rand32()), 0n, 'bonds are per log');
  });

  let slashGas = 0n;
  /** Gas of each call, for docs/slashing.md §Gas (printed by the last subtest). */
  const gas: Record<string, bigint> = {};

  await t.test('kind 1 conflict: reporter gets the reward, the rest is locked, replays fail', async () => {
    const { seq, logId } = await bondedSequencer();
    assert.equal(await bondOf(bond, seq.address, logId), BOND);
    const proof = await conflictProof(seq, logId);

    const reporterBefore = await balance(reporter.address);
    const contractBefore = await balance(address);
    const burnedBefore = (await bond.getFunction('totalBurned')()) as bigint;
    const { receipt, event } = await slash(as(reporter), proof);
    assert.equal(receipt.status, 1);
    slashGas = receipt.gasUsed;
    gas['slash (kind 1, first on the deployment)'] = receipt.gasUsed;
    t.diagnostic(`slash gas: ${receipt.gasUsed}`);

    const reward = (BOND * BigInt(REWARD_BPS)) / 10_000n;
    const burned = BOND - reward;
    assert.deepEqual(event, {
      sequencer: seq.address,
      logId,
      kind: 1,
      digestA: headerDigest(proof.a.header, chainId),
      digestB: headerDigest(proof.b.header, chainId),
      reporter: reporter.address,
      reward,
      burned,
      blockNumber: receipt.blockNumber,
      tx: receipt.hash,
    });
    assert.equal(await balance(reporter.address), reporterBefore - fee(receipt) + reward, 'reporter: +reward - gas');
    assert.equal(await balance(address), contractBefore - reward, 'burned part stays locked in the contract');
    assert.equal(await bond.getFunction('totalBurned')(), burnedBefore + burned);
    assert.deepEqual(await bondInfo(bond, seq.address, logId), { amount: 0n, withdrawableAt: 0n, slashed: true });
    // the Slashed event is found by sequencer, by log, and by reporter (an indexed topic)
    assert.deepEqual(await listSlashes(bond, { sequencer: seq.address }), [event]);
    assert.deepEqual(await listSlashes(bond, { logId }), [event]);
    const byReporter = await provider.getLogs({ address, fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber, topics: bondInterface().encodeFilterTopics('Slashed', [null, null, null, null, null, reporter.address]) });
    assert.equal(byReporter.length, 1);
    const byOther = await provider.getLogs({ address, fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber, topics: bondInterface().encodeFilterTopics('Slashed', [null, null, null, null, null, deployer.address]) });
    assert.equal(byOther.length, 0);

    // the same proof again, and with a/b swapped
    await expectRevert(slash(as(reporter), proof), 'AlreadySlashed');
    await expectRevert(slash(as(reporter), { ...proof, a: proof.b, b: proof.a }), 'AlreadySlashed');
    // a different equivocation by the same sequencer on the same log: nothing left
    await expectRevert(slash(as(reporter), await conflictProof(seq, logId, 8)), 'AlreadySlashed');
    // a slashed sequencer cannot bond again for that log
    await expectRevert(register(as(seq), logId, BOND), 'AlreadySlashed');
  });

  await t.test('kind 2 fork, submitted as raw calldata from encodeSlashCalldata', async () => {
    const { seq, logId } = await bondedSequencer();
    const a = await sign(seq, header(logId, 5), chainId);
    const b = await sign(seq, header(logId, 6, { prevHeaderHash: rand32() }), chainId);
    const proof = proofOf('fork', seq, chainId, a, b);
    const reporterBefore = await balance(reporter.address);
    const tx = await reporter.sendTransaction({ to: address, data: encodeSlashCalldata(proof) });
    const receipt = (await tx.wait())!;
    assert.equal(receipt.status, 1);
    gas['slash (kind 2)'] = receipt.gasUsed;
    const [event] = slashedEvents(receipt);
    assert.equal(event?.kind, 2);
    assert.equal(event?.sequencer, seq.address);
    assert.equal(event?.digestA, headerDigest(a.header, chainId));
    assert.equal(await balance(reporter.address), reporterBefore - fee(receipt) + BOND / 2n);
    assert.equal(await bondOf(bond, seq.address, logId), 0n);
    await expectRevert(slash(as(reporter), proof), 'AlreadySlashed');
  });

  await t.test('forged and malformed proofs are refused, bond untouched', async () => {
    const { seq, logId } = await bondedSequencer();
    const other = new Wallet(rand32());
    const r = as(reporter);
    const send = (p: EquivocationProof) => slash(r, p, { preflight: false });

    const h7a = header(logId, 7);
    const h7b = header(logId, 7);
    const a = await sign(seq, h7a, chainId);
    const b = await sign(seq, h7b, chainId);
    const good = proofOf('conflict', seq, chainId, a, b);

    // signer is not the bonded sequencer
    await expectRevert(send(proofOf('conflict', other, chainId, await sign(other, h7a, chainId), await sign(other, h7b, chainId))), 'NotBonded');
    await expectRevert(send({ ...good, b: await sign(other, h7b, chainId) }), 'SignerMismatch');
    // the same header twice
    await expectRevert(send({ ...good, b: a }), 'NotConflicting');
    // kind 1 with different heights
    await expectRevert(send({ ...good, b: await sign(seq, header(logId, 8), chainId) }), 'NotConflicting');
    // view / log mismatch
    await expectRevert(send({ ...good, b: await sign(seq, { ...h7b, view: 4 }, chainId) }), 'ViewMismatch');
    await expectRevert(send({ ...good, b: await sign(seq, { ...h7b, logId: rand32() }, chainId) }), 'LogMismatch');
    // kind 2: b not at a.height + 1; b honestly extends a
    await expectRevert(send(proofOf('fork', seq, chainId, a, await sign(seq, header(logId, 9), chainId))), 'NotConflicting');
    await expectRevert(send(proofOf('fork', seq, chainId, a, a)), 'NotConflicting');
    const honest = await sign(seq, header(logId, 8, { prevHeaderHash: headerDigest(h7a, chainId) }), chainId);
    await expectRevert(send(proofOf('fork', seq, chainId, a, honest)), 'NotConflicting');
    // unknown kind
    await expectRevert(r.getFunction('slash')(3, headerToStruct(h7a), a.signature, headerToStruct(h7b), b.signature), 'BadKind');

    // wrong domain: signed for another chain id, or with another log id as salt
    const otherChain = proofOf('conflict', seq, 1, await sign(seq, h7a, 1), await sign(seq, h7b, 1));
    await assert.rejects(slash(r, otherChain), /wrong domain/, 'preflight catches it off-chain');
    await expectRevert(send(otherChain), 'SignerMismatch');
    await expectRevert(send({ ...good, b: await sign(seq, h7b, chainId, rand32()) }), 'SignerMismatch');
    await expectRevert(send({ ...good, a: await sign(seq, h7a, chainId, rand32()), b: await sign(seq, h7b, chainId, rand32()) }), 'SignerMismatch');
    // a genuine equivocation, but on a log the sequencer has no bond for
    const log2 = rand32();
    await expectRevert(send(proofOf('conflict', seq, chainId, await sign(seq, header(log2, 1), chainId), await sign(seq, header(log2, 1), chainId))), 'NotBonded');

    // malleated signature: s -> n - s, v flipped (recovers the same key, but must be refused)
    const malleated = tamper(b.signature, (s, v) => ({ s: SECP256K1_N - s, v: v === 27 ? 28 : 27 }));
    await expectRevert(send({ ...good, b: { ...b, signature: malleated } }), 'MalleableSignature');
    // v outside {27, 28}
    await expectRevert(send({ ...good, b: { ...b, signature: tamper(b.signature, (_s, v) => ({ v: v - 27 })) } }), 'BadV');
    await expectRevert(send({ ...good, a: { ...a, signature: tamper(a.signature, () => ({ v: 29 })) } }), 'BadV');
    // wrong length, and a signature that recovers nothing
    await expectRevert(send({ ...good, b: { ...b, signature: b.signature.slice(0, 130) } }), 'BadSignatureLength');
    await expectRevert(send({ ...good, b: { ...b, signature: b.signature + '00' } }), 'BadSignatureLength');
    const zeroR = hexlify(new Uint8Array([...new Uint8Array(32), ...getBytes(toBeHex(1n, 32)), 27]));
    await expectRevert(send({ ...good, b: { ...b, signature: zeroR } }), 'BadSignature');

    assert.deepEqual(await bondInfo(bond, seq.address, logId), { amount: BOND, withdrawableAt: 0n, slashed: false });
    // and the untampered proof still goes through
    const { event, receipt } = await slash(r, good);
    assert.equal(event.reward, BOND / 2n);
    gas['slash (kind 1, steady state)'] = receipt.gasUsed;
  });

  await t.test('withdrawal delay: slashable while pending, gone after withdraw', async () => {
    // pending withdrawal is still slashable
    {
      const { seq, logId } = await bondedSequencer();
      const receipt = await requestWithdrawal(as(seq), logId);
      const { timestamp } = (await provider.getBlock(receipt.blockNumber))!;
      assert.equal((await bondInfo(bond, seq.address, logId)).withdrawableAt, BigInt(timestamp + WITHDRAWAL_DELAY));
      await expectRevert(withdraw(as(seq), logId), 'WithdrawalNotReady');
      await expectRevert(register(as(seq), logId, BOND), 'WithdrawalPending');
      const { event } = await slash(as(reporter), await conflictProof(seq, logId));
      assert.equal(event.reward + event.burned, BOND);
      await anvilRpc(anvil, 'evm_increaseTime', [WITHDRAWAL_DELAY + 1]);
      await anvilRpc(anvil, 'evm_mine');
      await expectRevert(withdraw(as(seq), logId), 'NoWithdrawalRequested');
    }
    // after the delay the bond is paid out; a later proof finds no bond
    {
      const { seq, logId } = await bondedSequencer();
      await expectRevert(withdraw(as(seq), logId), 'NoWithdrawalRequested');
      await requestWithdrawal(as(seq), logId);
      await anvilRpc(anvil, 'evm_increaseTime', [WITHDRAWAL_DELAY + 1]);
      await anvilRpc(anvil, 'evm_mine');
      const before = await balance(seq.address);
      const receipt = await withdraw(as(seq), logId);
      assert.equal(await balance(seq.address), before - fee(receipt) + BOND);
      assert.deepEqual(await bondInfo(bond, seq.address, logId), { amount: 0n, withdrawableAt: 0n, slashed: false });
      const proof = await conflictProof(seq, logId);
      await expectRevert(slash(as(reporter), proof), 'NotBonded');
      // an honest leaver may bond again (and is then slashable again)
      await register(as(seq), logId, BOND);
      const { event } = await slash(as(reporter), proof);
      assert.equal(event.sequencer, seq.address);
    }
  });

  await t.test('contract balance equals live bonds plus locked burns', async () => {
    // every bond created above was either slashed (reward paid, rest locked) or withdrawn, except the
    // MIN_BOND + 5 one from the register test
    assert.equal(await balance(address), (await bond.getFunction('totalBurned')()) + MIN_BOND + 5n);
  });

  await t.test('constructor: withdrawal delay at least MIN_WITHDRAWAL_DELAY, reward at most MAX_REWARD_BPS', async () => {
    assert.equal(await bond.getFunction('MIN_WITHDRAWAL_DELAY')(), BigInt(MIN_WITHDRAWAL_DELAY), 'TS mirror of the constant');
    assert.equal(await bond.getFunction('MAX_REWARD_BPS')(), BigInt(MAX_REWARD_BPS), 'TS mirror of the constant');
    const params = { minBond: MIN_BOND, withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: MAX_REWARD_BPS };
    await expectRevert(deployBond(deployer, { ...params, withdrawalDelay: 0 }), 'InvalidWithdrawalDelay');
    await expectRevert(deployBond(deployer, { ...params, withdrawalDelay: MIN_WITHDRAWAL_DELAY - 1 }), 'InvalidWithdrawalDelay');
    await expectRevert(deployBond(deployer, { ...params, withdrawalDelay: 2 ** 32 }), 'InvalidWithdrawalDelay');
    await expectRevert(deployBond(deployer, { ...params, rewardBps: MAX_REWARD_BPS + 1 }), 'InvalidRewardBps');
    await expectRevert(deployBond(deployer, { ...params, rewardBps: 10_000 }), 'InvalidRewardBps');
    const edge = await deployBond(deployer, params);
    assert.equal(await edge.getFunction('withdrawalDelay')(), BigInt(MIN_WITHDRAWAL_DELAY));
    assert.equal(await edge.getFunction('rewardBps')(), BigInt(MAX_REWARD_BPS));
    // no per-proof storage any more: the permanent `slashed` flag of the bond is what refuses a second payment
    assert.equal(bondInterface().getFunction('usedProofs'), null);
  });

  await t.test('a self-report from another address costs the sequencer at least half its bond', async () => {
    const seq = new Wallet(rand32(), provider);
    const accomplice = new Wallet(rand32(), provider);
    await anvilRpc(anvil, 'anvil_setBalance', [seq.address, toQuantity(parseEther('100'))]);
    await anvilRpc(anvil, 'anvil_setBalance', [accomplice.address, toQuantity(parseEther('1'))]);
    const logId = rand32();
    const before = (await balance(seq.address)) + (await balance(accomplice.address));
    const registered = await register(as(seq), logId, BOND);
    const { receipt, event } = await slash(as(accomplice), await conflictProof(seq, logId));
    const after = (await balance(seq.address)) + (await balance(accomplice.address));
    assert.equal(event.reward, (BOND * BigInt(REWARD_BPS)) / 10_000n);
    assert.equal(before - after - fee(registered) - fee(receipt), BOND - event.reward, 'the burned share is lost whoever reports');
    assert.ok(BOND - event.reward >= BOND / 2n);
  });

  await t.test('slash and withdraw in one block: before withdrawableAt the slash wins even ordered second', async () => {
    const gwei = (n: number): bigint => BigInt(n) * 1_000_000_000n;
    /** Sends without estimating gas (estimation would run against the pre-block state), at a chosen priority. */
    const sendRaw = (from: Wallet, data: string, priority: number) =>
      from.sendTransaction({ to: address, data, gasLimit: 300_000n, maxPriorityFeePerGas: gwei(priority), maxFeePerGas: gwei(1000) });
    const leaving = async () => {
      const { seq, logId } = await bondedSequencer();
      const r = await requestWithdrawal(as(seq), logId);
      assert.equal(bondStatus(await bondInfo(bond, seq.address, logId)), 'leaving');
      const at = Number((await bondInfo(bond, seq.address, logId)).withdrawableAt);
      assert.equal(at, (await provider.getBlock(r.blockNumber))!.timestamp + WITHDRAWAL_DELAY);
      return { seq, logId, at, proof: await conflictProof(seq, logId) };
    };
    /** withdraw (ordered first: higher tip) and slash in one block mined at `timestamp`. */
    const race = async (seq: Wallet, logId: string, proof: EquivocationProof, timestamp: number) => {
      await anvilRpc(anvil, 'evm_setAutomine', [false]);
      try {
        const w = await sendRaw(seq, bondInterface().encodeFunctionData('withdraw', [logId]), 50);
        const s = await sendRaw(reporter, encodeSlashCalldata(proof), 1);
        await anvilRpc(anvil, 'evm_setNextBlockTimestamp', [timestamp]);
        await anvilRpc(anvil, 'evm_mine');
        const [wr, sr] = [(await provider.getTransactionReceipt(w.hash))!, (await provider.getTransactionReceipt(s.hash))!];
        assert.equal(wr.blockNumber, sr.blockNumber, 'one block');
        assert.ok(wr.index < sr.index, 'the withdraw is ordered first');
        return { withdrawOk: wr.status === 1, slashOk: sr.status === 1 };
      } finally {
        await anvilRpc(anvil, 'evm_setAutomine', [true]);
      }
    };
    const early = await leaving();
    const late = await leaving();
    // One second before withdrawableAt: the withdraw reverts (WithdrawalNotReady), the slash takes the bond.
    assert.deepEqual(await race(early.seq, early.logId, early.proof, early.at - 1), { withdrawOk: false, slashOk: true });
    assert.deepEqual(await bondInfo(bond, early.seq.address, early.logId), { amount: 0n, withdrawableAt: 0n, slashed: true });
    // From withdrawableAt on, the reporting window is over (docs/slashing.md §Withdrawal delay): the first mined wins.
    assert.ok(late.at >= early.at - 1);
    assert.deepEqual(await race(late.seq, late.logId, late.proof, late.at), { withdrawOk: true, slashOk: false });
    assert.deepEqual(await bondInfo(bond, late.seq.address, late.logId), { amount: 0n, withdrawableAt: 0n, slashed: false });
  });

  await t.test('gas of every call', async () => {
    const { seq, logId } = await bondedSequencer(); // measured again below on a second log of the same account
    const log2 = rand32();
    gas.register = (await register(as(seq), log2, BOND)).gasUsed;
    gas.requestWithdrawal = (await requestWithdrawal(as(seq), log2)).gasUsed;
    gas.cancelWithdrawal = (await cancelWithdrawal(as(seq), log2)).gasUsed;
    await requestWithdrawal(as(seq), log2);
    await anvilRpc(anvil, 'evm_increaseTime', [WITHDRAWAL_DELAY + 1]);
    await anvilRpc(anvil, 'evm_mine');
    gas.withdraw = (await withdraw(as(seq), log2)).gasUsed;
    await slash(as(reporter), await conflictProof(seq, logId));
    for (const [call, used] of Object.entries(gas)) {
      console.log(`gas ${call}: ${used}`);
      assert.ok(used > 21_000n && used < 150_000n, `${call}: ${used}`);
    }
  });

  assert.ok(slashGas > 0n);
});

test('committed contracts/build artefact matches a fresh solc compile', async () => {
  assert.deepEqual(await staleArtifacts(), []);
});
