/**
 * The vote evidence of one node with a real LevelDB store: a vote conflict becomes one stored kind-3 proof, kept across
 * restarts and invisible to the header watch; proofs from peers are adopted only when valid for this chain, log and
 * validator set; a validator's proofs are capped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ZERO32, fromHex, toHex, type Bytes } from '../src/core/bytes.ts';
import { headerHash, type Header } from '../src/core/header.ts';
import { sign } from '../src/core/signature.ts';
import { checkTimeoutMessage, type CheckedTimeoutMessage } from '../src/core/timeout.ts';
import { keccak256 } from '../src/core/hash.ts';
import { silentLogger } from '../src/core/logger.ts';
import { Membership } from '../src/core/membership.ts';
import type { LogRules } from '../src/core/rules.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { VoteKind, digestOfTimeout, signVoteUnchecked, type SignedVote } from '../src/core/vote.ts';
import { checkVoteProof, judgeVoteConflict } from '../src/core/vote-proofs.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import type { VoteConflict } from '../src/roles/finality.ts';
import { PROOFS_PER_VALIDATOR, VoteEvidence, type HeaderLookup } from '../src/roles/vote-evidence.ts';
import { LogStore, StoreFaultError } from '../src/storage/log-store.ts';
import { parseVoteProof, voteProofToJson, type VoteProofJson } from '../src/wire/vote-proof-json.ts';
import { CHAIN_ID, LOG_ID, SEPARATOR, tempDir, waitFor } from './helpers/network.ts';

const KEYS: readonly Bytes[] = ['11', '44', '55', '66'].map((b) => fromHex('0x' + b.repeat(32)));
const RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map(addressFromPrivateKey)), isAllowed: () => true };
const SCOPE = { chainId: CHAIN_ID, logId: LOG_ID, membershipHash: RULES.membership.hash };

const vote = (i: number, height: number, seed: string, kind: VoteKind = VoteKind.lock): SignedVote =>
  signVoteUnchecked(RULES, { kind, view: 0, height, headerHash: keccak256(new TextEncoder().encode(seed)) }, KEYS[i]!);

/** A stand-in for Finality: the test hands it the conflicts and the counted votes Finality would report. */
function conflicts() {
  const listeners: ((c: VoteConflict) => void)[] = [];
  const voteListeners: ((index: number, v: SignedVote) => void)[] = [];
  return {
    onConflict: (l: (c: VoteConflict) => void) => { listeners.push(l); return () => {}; },
    onVote: (l: (index: number, v: SignedVote) => void) => { voteListeners.push(l); return () => {}; },
    report: (c: VoteConflict) => listeners.forEach((l) => l(c)),
    count: (index: number, v: SignedVote) => voteListeners.forEach((l) => l(index, v)),
  };
}

async function open(dir: string, headers?: HeaderLookup) {
  const store = await LogStore.open(dir, 'vote evidence test');
  const evidence = await VoteEvidence.open({ store, rules: RULES, chainId: CHAIN_ID, log: silentLogger });
  const finality = conflicts();
  evidence.follow(finality, headers);
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

/** Headers of view 0 sealed by validator 0 on `prev`: a chain the test builds, and a fork of it. */
function header(height: number, prev: Bytes, seed: string): Header {
  return {
    logId: LOG_ID, height, view: 0, firstSeq: height, count: 1, timestamp: 1_700_000_000_000 + height,
    prevHeaderHash: prev, headHash: keccak256(new TextEncoder().encode(`head ${seed}`)), entriesRoot: keccak256(new TextEncoder().encode(`root ${seed}`)),
  };
}

test('lock votes at consecutive heights whose higher header does not extend the lower one: a vote fork (kind 4), from either order; honest pairs give none', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  // The node's chain: a (height 4) <- b (5); a fork header c at 5 on another parent, held inside a header proof.
  const a = header(4, ZERO32, 'a');
  const b = header(5, headerHash(SEPARATOR, a), 'b');
  const c = header(5, keccak256(new TextEncoder().encode('elsewhere')), 'c');
  const stored = new Map([[4, a], [5, b]]);
  const held = [a, b, c];
  const headers: HeaderLookup = {
    storedHeaderHash: async (h) => { const s = stored.get(h); return s && headerHash(SEPARATOR, s); },
    headerByHash: async (h, hash) => held.find((x) => x.height === h && headerHash(SEPARATOR, x).every((byte, i) => byte === hash[i])),
  };
  const n = await open(join(dir.path, 'db'), headers);
  t.after(() => n.close());
  const lockOn = (i: number, x: Header) => signVoteUnchecked(RULES, { kind: VoteKind.lock, view: 0, height: x.height, headerHash: headerHash(SEPARATOR, x) }, KEYS[i]!);

  // Honest validators 1 and 2: a then b, in either order of arrival. Then validator 3: b's parent a, then the fork c.
  n.finality.count(1, lockOn(1, a));
  n.finality.count(1, lockOn(1, b));
  n.finality.count(2, lockOn(2, b));
  n.finality.count(2, lockOn(2, a));
  n.finality.count(3, lockOn(3, c));
  n.finality.count(3, lockOn(3, a));
  await waitFor(() => n.published.length === 1, 5_000, 'the vote fork proof');
  const proof = n.published[0]!;
  assert.equal(proof.kind, 'vote-fork');
  assert.equal(proof.signer.toLowerCase(), toHex(RULES.membership.validators[3]!));
  const parsed = parseVoteProof(proof);
  assert.equal(checkVoteProof(RULES, parsed.proof), null, 'the proof checks on its own');
  assert.deepEqual(n.evidence.proofs.map((p) => p.signer.toLowerCase()), [toHex(RULES.membership.validators[3]!)], 'no honest validator accused');
});

test('a commit vote above the lock a timeout of its view reported, the timeout met first: a lock lie (kind 5)', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const n = await open(join(dir.path, 'db'));
  t.after(() => n.close());
  const timeoutListeners: ((m: CheckedTimeoutMessage) => void)[] = [];
  n.evidence.followTimeouts(
    { onTimeout: (l) => { timeoutListeners.push(l); return () => {}; }, onConflict: () => () => {} },
    { highestCommitVote: () => undefined },
  );
  // Validator 2 times view 0 out reporting no lock; then a commit vote of view 0 by it is counted.
  const lie = checkTimeoutMessage(RULES, { view: 0, lock: null, signerIndex: 2, signature: sign(digestOfTimeout(RULES, 0, null), KEYS[2]!) });
  timeoutListeners.forEach((l) => l(lie));
  n.finality.count(1, vote(1, 3, 'honest', VoteKind.commit)); // another validator's commit vote: nothing against it
  n.finality.count(2, vote(2, 3, 'locked', VoteKind.commit));
  await waitFor(() => n.published.length === 1, 5_000, 'the lock lie proof');
  assert.equal(n.published[0]!.kind, 'lock-lie');
  assert.equal(n.published[0]!.signer.toLowerCase(), toHex(RULES.membership.validators[2]!));
});
