/**
 * The vote evidence of one node with a real LevelDB store: a vote conflict becomes one stored kind-3 proof, kept across
 * restarts and invisible to the header watch; proofs from peers are adopted only when valid for this chain, log and
 * validator set; a validator's proofs are capped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fromHex, type Bytes } from '../src/core/bytes.ts';
import { keccak256 } from '../src/core/hash.ts';
import { silentLogger } from '../src/core/logger.ts';
import { Membership } from '../src/core/membership.ts';
import type { LogRules } from '../src/core/rules.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type SignedVote } from '../src/core/vote.ts';
import { judgeVoteConflict } from '../src/core/vote-proofs.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import type { VoteConflict } from '../src/roles/finality.ts';
import { PROOFS_PER_VALIDATOR, VoteEvidence } from '../src/roles/vote-evidence.ts';
import { LogStore, StoreFaultError } from '../src/storage/log-store.ts';
import { parseVoteProof, voteProofToJson, type VoteProofJson } from '../src/wire/vote-proof-json.ts';
import { CHAIN_ID, LOG_ID, SEPARATOR, tempDir, waitFor } from './helpers/network.ts';

const KEYS: readonly Bytes[] = ['11', '44', '55', '66'].map((b) => fromHex('0x' + b.repeat(32)));
const RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map(addressFromPrivateKey)), isAllowed: () => true };
const SCOPE = { chainId: CHAIN_ID, logId: LOG_ID, membershipHash: RULES.membership.hash };

const vote = (i: number, height: number, seed: string, kind: VoteKind = VoteKind.lock): SignedVote =>
  signVoteUnchecked(RULES, { kind, view: 0, height, headerHash: keccak256(new TextEncoder().encode(seed)) }, KEYS[i]!);

/** A stand-in for Finality: the test hands it the conflicts Finality would report. */
function conflicts() {
  const listeners: ((c: VoteConflict) => void)[] = [];
  return {
    onConflict: (l: (c: VoteConflict) => void) => { listeners.push(l); return () => {}; },
    report: (c: VoteConflict) => listeners.forEach((l) => l(c)),
  };
}

async function open(dir: string) {
  const store = await LogStore.open(dir, 'vote evidence test');
  const evidence = await VoteEvidence.open({ store, rules: RULES, chainId: CHAIN_ID, log: silentLogger });
  const finality = conflicts();
  evidence.follow(finality);
  const published: VoteProofJson[] = [];
  evidence.onProof((p) => published.push(p));
  return { store, evidence, finality, published, close: async () => { evidence.close(); await store.close(); } };
}

test('a vote conflict becomes one stored proof, listed once however often it is met, and read back after a restart', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  let n = await open(join(dir.path, 'db'));
  const [first, second] = [vote(3, 5, 'a'), vote(3, 5, 'b')];
  n.finality.report({ signerIndex: 3, first, second });
  n.finality.report({ signerIndex: 3, first: second, second: first });
  await waitFor(() => n.published.length === 1, 5_000, 'the proof published');
  const expected = voteProofToJson(SCOPE, judgeVoteConflict(RULES, 3, first, second)!);
  assert.deepEqual(n.evidence.proofs, [expected]);
  assert.deepEqual(n.published, [expected]);
  // The same proof from a peer is known; the node's own pair again changes nothing.
  assert.equal(await n.evidence.adopt(parseVoteProof(expected), 'peer'), 'known');
  await n.close();

  n = await open(join(dir.path, 'db'));
  assert.deepEqual(n.evidence.proofs, [expected], 'read back from the store');
  // The header watch reading the same records holds no header proof, and does not halt.
  const watch = await HeaderWatch.open({ store: n.store, rules: RULES, chainId: CHAIN_ID, log: silentLogger });
  assert.equal(watch.equivocated, false);
  watch.close();
  await n.close();
});

test('proofs from peers: adopted when valid for this chain, log and validator set; otherwise refused and nothing is stored', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const n = await open(join(dir.path, 'db'));
  t.after(() => n.close());
  const good = voteProofToJson(SCOPE, judgeVoteConflict(RULES, 2, vote(2, 9, 'x'), vote(2, 9, 'y', VoteKind.commit))!);
  assert.equal(good.kind, 'vote-conflict');
  const bad: [string, unknown][] = [
    ['another chain', { ...good, domain: { ...good.domain, chainId: CHAIN_ID + 1 } }],
    ['another validator named', { ...good, signer: voteProofToJson(SCOPE, judgeVoteConflict(RULES, 1, vote(1, 9, 'x'), vote(1, 9, 'y'))!).signer }],
    ['not in canonical order', { ...good, a: good.b, b: good.a }],
    ['not a conflict', { ...good, b: good.a }],
  ];
  for (const [what, json] of bad) assert.equal(await n.evidence.adopt(parseVoteProof(json), 'peer'), 'invalid', what);
  assert.deepEqual(n.evidence.proofs, []);
  assert.equal(await n.evidence.adopt(parseVoteProof(good), 'peer'), 'new');
  assert.equal(await n.evidence.adopt(parseVoteProof(good), 'peer'), 'known');
  assert.deepEqual(n.evidence.proofs, [good]);
  assert.deepEqual(n.published, [good]);
});

test(`at most ${PROOFS_PER_VALIDATOR} proofs are kept per validator; another validator's still are`, async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const n = await open(join(dir.path, 'db'));
  t.after(() => n.close());
  const proofAt = (i: number, height: number) => parseVoteProof(voteProofToJson(SCOPE, judgeVoteConflict(RULES, i, vote(i, height, 'p'), vote(i, height, 'q'))!));
  for (let h = 0; h < PROOFS_PER_VALIDATOR; h++) assert.equal(await n.evidence.adopt(proofAt(3, h), 'peer'), 'new');
  assert.equal(await n.evidence.adopt(proofAt(3, PROOFS_PER_VALIDATOR), 'peer'), 'known', 'valid, but not kept');
  // Validator 1 voted the same two headers as validator 3: the same digests, the same proof id, another validator.
  assert.equal(await n.evidence.adopt(proofAt(1, 0), 'peer'), 'new');
  assert.equal(n.evidence.proofs.length, PROOFS_PER_VALIDATOR + 1);
});

test('through a storage fault a proof is listed and published all the same, and written once the store recovers', async () => {
  const written = new Map<string, Uint8Array>();
  const recovered: (() => void)[] = [];
  let faulty = true;
  // The parts of LogStore the evidence uses, with a disk that refuses writes until it "recovers".
  const store = {
    records: async function* () {},
    putRecord: async (name: Uint8Array, value: Uint8Array) => {
      if (faulty) throw new StoreFaultError('disk full');
      written.set(Buffer.from(name).toString('hex'), value);
    },
    onRecovered: (l: () => void) => { recovered.push(l); return () => {}; },
  } as unknown as LogStore;
  const evidence = await VoteEvidence.open({ store, rules: RULES, chainId: CHAIN_ID, log: silentLogger });
  const finality = conflicts();
  evidence.follow(finality);
  const published: VoteProofJson[] = [];
  evidence.onProof((p) => published.push(p));
  finality.report({ signerIndex: 0, first: vote(0, 1, 'a'), second: vote(0, 1, 'b') });
  await waitFor(() => published.length === 1, 5_000, 'published through the fault');
  assert.equal(evidence.proofs.length, 1);
  assert.equal(written.size, 0);
  faulty = false;
  recovered.forEach((l) => l());
  await waitFor(() => written.size === 1, 5_000, 'written once the store recovers');
  assert.deepEqual(parseVoteProof(JSON.parse(new TextDecoder().decode([...written.values()][0]))), parseVoteProof(evidence.proofs[0]));
});
