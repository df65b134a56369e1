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
  id as ethersId,
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
import { headerToJson } from '../src/wire/json.ts';
import { staleArtifacts } from '../scripts/compile-contracts.ts';
import { fromHex, toHex, type Bytes } from '../src/core/bytes.ts';
import { VOTE_TYPE, TIMEOUT_TYPE, domainSeparator } from '../src/core/eip712.ts';
import { buildCertificate, checkCertificate } from '../src/core/certificate.ts';
import { headerHash as coreHeaderHash, type Header } from '../src/core/header.ts';
import { Membership } from '../src/core/membership.ts';
import { addressFromPrivateKey, sign as signDigest } from '../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type LockRef, type SignedVote, type VoteContext } from '../src/core/vote.ts';
import {
  checkVoteProof, digestOfProofTimeout, judgeLockLie, judgeTimeoutConflict, judgeVoteConflict, judgeVoteFork, proofsFromConflictingCertificates, voteProofDigests,
  type SignedTimeout, type VoteProof,
} from '../src/core/vote-proofs.ts';
import { parseVoteProof, signedTimeoutToJson, signedVoteToJson, voteProofToJson, type VoteProofJson } from '../src/wire/vote-proof-json.ts';
import { encodeVoteSlashCalldata, slashValidator, timeoutToStruct, voteToStruct } from '../src/chain/vote-slashing.ts';
import { TIMEOUT_TYPES, VOTE_TYPES } from '../src/chain/proof-types.ts';
import { submitVoteProof, wellFormedVoteProof } from '../src/chain/slasher.ts';

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

  // ---- Validators: kinds 3-6 (votes and timeouts), docs/slashing.md §Proof kinds ----

  /** docs/design/replication.md §9: the validator keys 0x01…01, 0x11…11, 0x12…12, 0x13…13 (n = 4, f = 1, q = 3). */
  const VALIDATOR_KEYS = [0x01, 0x11, 0x12, 0x13].map((b) => new Uint8Array(32).fill(b));
  const OUTSIDER_KEY = new Uint8Array(32).fill(0x04);
  const membership = Membership.of(VALIDATOR_KEYS.map((k) => addressFromPrivateKey(k)));
  const validatorWallets = VALIDATOR_KEYS.map((k) => new Wallet(toHex(k), provider));
  for (const w of [...validatorWallets, new Wallet(toHex(OUTSIDER_KEY), provider)]) {
    await anvilRpc(anvil, 'anvil_setBalance', [w.address, toQuantity(parseEther('1000'))]);
  }

  /** Validator bonds the tests below leave in place (the contract's balance holds them). */
  let validatorBondsLeft = 0n;

  /** A fresh log whose four validators each bonded BOND with register(logId), and their signing helpers. */
  async function validatorLog() {
    const logId = rand32();
    const ctx: VoteContext = { logId: fromHex(logId, 32), separator: domainSeparator({ chainId, logId: fromHex(logId, 32) }), membership };
    for (const w of validatorWallets) await register(as(w), logId, BOND);
    const scope = { chainId, logId: ctx.logId, membershipHash: membership.hash };
    return {
      logId, ctx, scope,
      vote: (i: number, kind: VoteKind, view: number, height: number, hash: Bytes, key = VALIDATOR_KEYS[i]!): SignedVote =>
        signVoteUnchecked(ctx, { kind, view, height, headerHash: hash }, key),
      timeout: (i: number, view: number, lock: LockRef | null, key = VALIDATOR_KEYS[i]!): SignedTimeout =>
        ({ view, lock, signature: signDigest(digestOfProofTimeout(ctx, { view, lock }), key) }),
      header: (view: number, height: number, prev: Bytes): Header => ({
        logId: ctx.logId, height, view, firstSeq: height, count: 1, prevHeaderHash: prev, headHash: getBytes(rand32()), entriesRoot: getBytes(rand32()), timestamp: 1_767_225_000_000,
      }),
      json: (p: VoteProof | null): VoteProofJson => {
        assert.ok(p, 'the judge found a proof');
        return voteProofToJson(scope, p);
      },
      /** A proof-shaped JSON of any two statements, for what no judge would produce (the contract must refuse it). */
      raw: (kind: VoteProofJson['kind'], signer: number, a: SignedVote | SignedTimeout, b: SignedVote | SignedTimeout, child?: Header): VoteProofJson => {
        const side = (x: SignedVote | SignedTimeout) => ('kind' in x ? signedVoteToJson(scope, x) : signedTimeoutToJson(scope, x));
        const domain = { name: 'Sequencer' as const, version: '1' as const, chainId, salt: logId };
        return { kind, domain, signer: validatorWallets[signer]!.address, a: side(a), b: side(b), ...(child ? { child: headerToJson(child) } : {}) } as VoteProofJson;
      },
      bonds: async () => Promise.all(validatorWallets.map((w) => bondInfo(bond, w.address, logId))),
    };
  }

  await t.test('on-chain vote and timeout digests equal ethers TypedDataEncoder', async () => {
    const logId = rand32();
    const domain = { name: 'Sequencer', version: '1', chainId, salt: logId };
    assert.equal(await bond.getFunction('VOTE_TYPEHASH')(), ethersId(VOTE_TYPE));
    assert.equal(await bond.getFunction('TIMEOUT_TYPEHASH')(), ethersId(TIMEOUT_TYPE));
    const vote = { logId, membershipHash: rand32(), view: 2 ** 53 - 1, height: 17, headerHash: rand32(), kind: 2 };
    const timeout = { logId, membershipHash: rand32(), view: 9, lockView: 8, lockHeight: 2 ** 53 - 1, lockHash: rand32() };
    for (const c of [chainId, 1]) {
      assert.equal(await bond.getFunction('voteDigest')(voteToStruct(vote), c), TypedDataEncoder.hash({ ...domain, chainId: c }, VOTE_TYPES, vote));
      assert.equal(await bond.getFunction('timeoutDigest')(timeoutToStruct(timeout), c), TypedDataEncoder.hash({ ...domain, chainId: c }, TIMEOUT_TYPES, timeout));
    }
    const w = new Wallet(rand32());
    assert.equal(await bond.getFunction('recoverVoteSigner')(voteToStruct(vote), await w.signTypedData(domain, VOTE_TYPES, vote)), w.address);
    assert.equal(await bond.getFunction('recoverTimeoutSigner')(timeoutToStruct(timeout), await w.signTypedData(domain, TIMEOUT_TYPES, timeout)), w.address);
  });

  await t.test('kinds 3-6: each slashes the validator that signed both and pays the reporter', async () => {
    const L = await validatorLog();
    const h0 = getBytes(rand32());
    const child = L.header(0, 1, getBytes(rand32()));
    const childHash = coreHeaderHash(L.ctx.separator, child);
    const cases: { name: string; signer: number; proof: VoteProofJson; raw?: true }[] = [
      { name: 'slashVoteConflict (kind 3)', signer: 0, proof: L.json(judgeVoteConflict(L.ctx, 0, L.vote(0, VoteKind.lock, 0, 0, h0), L.vote(0, VoteKind.commit, 0, 0, getBytes(rand32())))) },
      { name: 'slashVoteFork (kind 4)', signer: 1, raw: true, proof: L.json(judgeVoteFork(L.ctx, 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(1, VoteKind.lock, 0, 1, childHash), child)) },
      { name: 'slashLockLie (kind 5)', signer: 2, proof: L.json(judgeLockLie(L.ctx, 2, L.vote(2, VoteKind.commit, 0, 0, h0), L.timeout(2, 1, null))) },
      { name: 'slashTimeoutConflict (kind 6)', signer: 3, proof: L.json(judgeTimeoutConflict(L.ctx, 3, L.timeout(3, 0, null), L.timeout(3, 0, { view: 0, height: 0, headerHash: h0 }))) },
    ];
    for (const c of cases) {
      const kind = { 'vote-conflict': 3, 'vote-fork': 4, 'lock-lie': 5, 'timeout-conflict': 6 }[c.proof.kind];
      const signer = validatorWallets[c.signer]!.address;
      const reporterBefore = await balance(reporter.address);
      const burnedBefore = (await bond.getFunction('totalBurned')()) as bigint;
      let receipt: TransactionReceipt;
      let event;
      if (c.raw) {
        // submitted as raw calldata, as a watcher without the ABI would
        receipt = (await (await reporter.sendTransaction({ to: address, data: encodeVoteSlashCalldata(c.proof) })).wait())!;
        [event] = slashedEvents(receipt);
      } else {
        ({ receipt, event } = await slashValidator(as(reporter), c.proof));
      }
      assert.equal(receipt.status, 1);
      gas[c.name] = receipt.gasUsed;
      const reward = (BOND * BigInt(REWARD_BPS)) / 10_000n;
      const parsedDigests = voteProofDigests(L.ctx, parseVoteProof(c.proof).proof).map(toHex);
      assert.deepEqual({ ...event }, {
        sequencer: signer, logId: L.logId, kind, digestA: parsedDigests[0], digestB: parsedDigests[1], reporter: reporter.address,
        reward, burned: BOND - reward, blockNumber: receipt.blockNumber, tx: receipt.hash,
      }, c.name);
      assert.equal(await balance(reporter.address), reporterBefore - fee(receipt) + reward, `${c.name}: reporter +reward - gas`);
      assert.equal(await bond.getFunction('totalBurned')(), burnedBefore + BOND - reward);
      assert.deepEqual(await bondInfo(bond, signer, L.logId), { amount: 0n, withdrawableAt: 0n, slashed: true });
      await expectRevert(slashValidator(as(reporter), c.proof), 'AlreadySlashed');
    }
  });

  await t.test('kinds 3-6: honest pairs and malformed proofs revert with their named errors, bonds untouched', async () => {
    const L = await validatorLog();
    const send = (p: VoteProofJson) => slashValidator(as(reporter), p, { preflight: false });
    const h0 = getBytes(rand32());
    const h1 = getBytes(rand32());
    const lock = (height: number, view = 0, hash = h0): LockRef => ({ view, height, headerHash: hash });
    const parent = L.header(0, 4, getBytes(rand32()));
    const parentHash = coreHeaderHash(L.ctx.separator, parent);
    const extending = L.header(0, 5, parentHash);
    const forking = L.header(0, 5, getBytes(rand32()));
    const lockA = L.vote(1, VoteKind.lock, 0, 4, parentHash);
    const lockB = L.vote(1, VoteKind.lock, 0, 5, coreHeaderHash(L.ctx.separator, forking));
    const goodConflict = L.json(judgeVoteConflict(L.ctx, 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(1, VoteKind.lock, 0, 0, h1)));
    const goodTimeouts = L.json(judgeTimeoutConflict(L.ctx, 1, L.timeout(1, 3, null), L.timeout(1, 3, lock(2))));
    const edit = (p: VoteProofJson, f: (copy: any) => void): VoteProofJson => { const copy = structuredClone(p); f(copy); return copy; };
    const cases: { name: string; proof: VoteProofJson; error: string }[] = [
      // kind 3
      { name: 'honest: votes on a header and its re-proposal (views 0 and 1)', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.commit, 0, 0, h0), L.vote(1, VoteKind.lock, 1, 0, h1)), error: 'NotConflicting' },
      { name: 'honest: lock and commit vote on one header', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(1, VoteKind.commit, 0, 0, h0)), error: 'NotConflicting' },
      { name: 'honest: consecutive heights', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(1, VoteKind.lock, 0, 1, h1)), error: 'NotConflicting' },
      { name: 'vote kind 3', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(1, 3 as VoteKind, 0, 0, h1)), error: 'BadVoteKind' },
      { name: 'votes of two logs', proof: edit(goodConflict, (c) => { c.b.vote.logId = rand32(); }), error: 'LogMismatch' },
      { name: 'votes of two validator sets', proof: edit(goodConflict, (c) => { c.b.vote.membershipHash = rand32(); }), error: 'MembershipMismatch' },
      { name: 'b signed by another validator', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.lock, 0, 0, h0), L.vote(2, VoteKind.lock, 0, 0, h1)), error: 'SignerMismatch' },
      { name: 'a validator without a bond on this log', proof: L.raw('vote-conflict', 1, L.vote(1, VoteKind.lock, 0, 0, h0, OUTSIDER_KEY), L.vote(1, VoteKind.lock, 0, 0, h1, OUTSIDER_KEY)), error: 'NotBonded' },
      { name: 'a high-s signature', proof: edit(goodConflict, (c) => { c.b.signature = tamper(c.b.signature, (sv, v) => ({ s: SECP256K1_N - sv, v: v === 27 ? 28 : 27 })); }), error: 'MalleableSignature' },
      { name: 'v = 29', proof: edit(goodConflict, (c) => { c.a.signature = tamper(c.a.signature, () => ({ v: 29 })); }), error: 'BadV' },
      { name: 'a 64-byte signature', proof: edit(goodConflict, (c) => { c.a.signature = c.a.signature.slice(0, 130); }), error: 'BadSignatureLength' },
      // kind 4
      { name: 'honest: the child extends the lower vote\'s header', proof: L.raw('vote-fork', 1, lockA, L.vote(1, VoteKind.lock, 0, 5, coreHeaderHash(L.ctx.separator, extending)), extending), error: 'NotConflicting' },
      { name: 'honest: lock votes of views 0 and 1 (h, h + 1)', proof: L.raw('vote-fork', 1, L.vote(1, VoteKind.lock, 1, 4, parentHash), lockB, forking), error: 'NotConflicting' },
      { name: 'heights h and h + 2', proof: L.raw('vote-fork', 1, L.vote(1, VoteKind.lock, 0, 3, parentHash), lockB, forking), error: 'NotConflicting' },
      { name: 'the higher vote first', proof: L.raw('vote-fork', 1, lockB, lockA, forking), error: 'NotConflicting' },
      { name: 'commit votes', proof: L.raw('vote-fork', 1, L.vote(1, VoteKind.commit, 0, 4, parentHash), lockB, forking), error: 'BadVoteKind' },
      { name: 'a child that is not the voted header', proof: L.raw('vote-fork', 1, lockA, lockB, L.header(0, 5, getBytes(rand32()))), error: 'ChildMismatch' },
      { name: 'a child of another view', proof: edit(L.raw('vote-fork', 1, lockA, lockB, forking), (c) => { c.child.view = 1; }), error: 'ChildMismatch' },
      { name: 'a child of another log', proof: edit(L.raw('vote-fork', 1, lockA, lockB, forking), (c) => { c.child.logId = rand32(); }), error: 'ChildMismatch' },
      { name: 'kind 4 votes of two validator sets', proof: edit(L.raw('vote-fork', 1, lockA, lockB, forking), (c) => { c.a.vote.membershipHash = rand32(); }), error: 'MembershipMismatch' },
      // kind 5
      { name: 'honest: a commit vote and a timeout of an EARLIER view with a lower lock', proof: L.raw('lock-lie', 2, L.vote(2, VoteKind.commit, 3, 7, h0), L.timeout(2, 2, lock(1, 2))), error: 'NotConflicting' },
      { name: 'honest: a timeout reporting the commit\'s own lock', proof: L.raw('lock-lie', 2, L.vote(2, VoteKind.commit, 3, 7, h0), L.timeout(2, 3, lock(7, 3))), error: 'NotConflicting' },
      { name: 'honest: a later timeout with a higher lock', proof: L.raw('lock-lie', 2, L.vote(2, VoteKind.commit, 3, 7, h0), L.timeout(2, 5, lock(0, 4, h1))), error: 'NotConflicting' },
      { name: 'a lock vote, not a commit vote', proof: L.raw('lock-lie', 2, L.vote(2, VoteKind.lock, 3, 7, h0), L.timeout(2, 3, null)), error: 'NotConflicting' },
      { name: 'a timeout of another validator', proof: L.raw('lock-lie', 2, L.vote(2, VoteKind.commit, 3, 7, h0), L.timeout(3, 3, null)), error: 'SignerMismatch' },
      { name: 'a timeout of another log', proof: edit(L.raw('lock-lie', 2, L.vote(2, VoteKind.commit, 3, 7, h0), L.timeout(2, 3, null)), (c) => { c.b.timeout.logId = rand32(); }), error: 'LogMismatch' },
      // kind 6
      { name: 'honest: the same timeout twice', proof: L.raw('timeout-conflict', 1, L.timeout(1, 3, null), L.timeout(1, 3, null)), error: 'NotConflicting' },
      { name: 'honest: timeouts of views 3 and 4 with different locks', proof: L.raw('timeout-conflict', 1, L.timeout(1, 3, null), L.timeout(1, 4, lock(2))), error: 'NotConflicting' },
      { name: 'timeouts of two validators', proof: L.raw('timeout-conflict', 1, L.timeout(1, 3, null), L.timeout(0, 3, lock(2))), error: 'SignerMismatch' },
      { name: 'timeouts of two validator sets', proof: edit(goodTimeouts, (c) => { c.b.timeout.membershipHash = rand32(); }), error: 'MembershipMismatch' },
    ];
    for (const c of cases) {
      try {
        await expectRevert(send(c.proof), c.error);
      } catch (e) {
        throw new Error(`${c.name}: ${(e as Error).message}`, { cause: e });
      }
    }
    // the off-chain preflight refuses every one of them too, before sending anything
    for (const c of cases) await assert.rejects(slashValidator(as(reporter), c.proof), /invalid validator proof/, c.name);
    for (const info of await L.bonds()) assert.deepEqual(info, { amount: BOND, withdrawableAt: 0n, slashed: false });
    // and the untampered proofs still go through
    await slashValidator(as(reporter), goodConflict);
    await slashValidator(as(reporter), L.json(judgeVoteFork(L.ctx, 0, L.vote(0, VoteKind.lock, 0, 4, parentHash), L.vote(0, VoteKind.lock, 0, 5, lockB.headerHash), forking)));
    assert.deepEqual((await L.bonds()).map((b) => b.slashed), [true, true, false, false]);
    validatorBondsLeft += 2n * BOND;
  });

  await t.test('issue 9: two conflicting commit certificates by a network with f + 1 Byzantine validators', async () => {
    // n = 4, f = 1: validators 0 and 1 (keys held here) sign commit votes for two headers at one (view, height);
    // honest validator 2 signs only X, honest validator 3 only Y. Each certificate has a quorum of 3.
    const L = await validatorLog();
    const X = getBytes(rand32());
    const Y = getBytes(rand32());
    const certificate = (hash: Bytes, signers: number[]) => checkCertificate(L.ctx, buildCertificate(4, { kind: VoteKind.commit, view: 2, height: 9, headerHash: hash },
      new Map(signers.map((i) => [i, L.vote(i, VoteKind.commit, 2, 9, hash).signature]))));
    const certA = certificate(X, [0, 1, 2]);
    const certB = certificate(Y, [0, 1, 3]);

    const proofs = proofsFromConflictingCertificates(L.ctx, certA, certB);
    assert.deepEqual(proofs.map((p) => toHex(p.signer)), [0, 1].map((i) => validatorWallets[i]!.address.toLowerCase()), 'one proof per double signer, none against 2 or 3');
    for (const [i, p] of proofs.entries()) {
      const { event } = await slashValidator(as(reporter), L.json(p));
      assert.equal(event.sequencer, validatorWallets[i]!.address);
      assert.equal(event.kind, 3);
    }
    // The honest validators' signatures make no proof: validator 2's vote on X with validator 3's on Y (what the
    // certificates hold at (2, 9) besides the culprits') does not recover to one signer, and validator 2's only vote
    // paired with itself conflicts with nothing.
    const voteOf = (hash: Bytes, i: number): SignedVote => L.vote(i, VoteKind.commit, 2, 9, hash);
    for (const [named, a, b] of [[2, voteOf(X, 2), voteOf(Y, 3)], [3, voteOf(Y, 3), voteOf(X, 2)]] as const) {
      assert.match(checkVoteProof(L.ctx, { kind: 'vote-conflict', signer: membership.validators[named]!, a, b }) ?? 'valid', /not signed by the signer/);
      const proof = L.raw('vote-conflict', named, a, b);
      await assert.rejects(slashValidator(as(reporter), proof), /invalid validator proof/);
      await expectRevert(slashValidator(as(reporter), proof, { preflight: false }), 'SignerMismatch');
    }
    await expectRevert(slashValidator(as(reporter), L.raw('vote-conflict', 2, voteOf(X, 2), voteOf(X, 2)), { preflight: false }), 'NotConflicting');
    assert.deepEqual((await L.bonds()).map((b) => b.slashed), [true, true, false, false]);
    assert.deepEqual((await L.bonds()).map((b) => b.amount), [0n, 0n, BOND, BOND]);
    validatorBondsLeft += 2n * BOND;
  });

  await t.test('submitVoteProof (the slasher): slashes once, then skips; refuses a bad proof without sending', async () => {
    const L = await validatorLog();
    const proof = L.json(judgeTimeoutConflict(L.ctx, 2, L.timeout(2, 5, null), L.timeout(2, 5, { view: 4, height: 1, headerHash: getBytes(rand32()) })));
    assert.deepEqual(wellFormedVoteProof(JSON.parse(JSON.stringify(proof))), proof);
    const bad = { ...proof, signer: validatorWallets[3]!.address };
    const refused = await submitVoteProof(as(reporter), bad);
    assert.equal(refused.status, 'failed');
    assert.match(refused.status === 'failed' ? refused.reason : '', /invalid proof: .*not signed by the signer/);
    const first = await submitVoteProof(as(reporter), proof);
    assert.equal(first.status, 'slashed');
    assert.equal(first.status === 'slashed' ? first.result.event.kind : 0, 6);
    assert.deepEqual(await submitVoteProof(as(reporter), proof), { status: 'skipped', reason: 'signer already slashed for this log' });
    // a valid proof against a key with no bond on this log (not one of the validators): nothing to take
    const outsider = judgeTimeoutConflict(L.ctx, 0, L.timeout(0, 5, null, OUTSIDER_KEY), L.timeout(0, 5, { view: 1, height: 1, headerHash: getBytes(rand32()) }, OUTSIDER_KEY));
    assert.ok(outsider);
    const unbonded = L.json({ ...outsider, signer: addressFromPrivateKey(OUTSIDER_KEY) });
    assert.deepEqual(await submitVoteProof(as(reporter), unbonded), { status: 'skipped', reason: 'signer has no bond for this log' });
    validatorBondsLeft += 3n * BOND;
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
    // MIN_BOND + 5 one from the register test and the honest validators' bonds
    assert.equal(await balance(address), (await bond.getFunction('totalBurned')()) + MIN_BOND + 5n + validatorBondsLeft);
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
