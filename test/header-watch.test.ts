/**
 * Equivocation detection in a replica with a real LevelDB store: conflicts and forks caught from gossip and
 * from sync responses, seen-ahead headers and proofs kept across restarts, and nothing stored afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENESIS_TIP, decodeBatch, type Tip } from '../src/core/batch.ts';
import { checkProof, judgePair } from '../src/core/equivocation.ts';
import { headerHash } from '../src/core/header.ts';
import { toHex } from '../src/core/bytes.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import { Replica, type BatchSource } from '../src/roles/replica.ts';
import { LogStore } from '../src/storage/log-store.ts';
import { silentLogger } from '../src/core/logger.ts';
import { PRIMARY_RULES, batchOnTip } from './helpers/equivocator.ts';
import { CHAIN_ID, SEPARATOR, tempDir } from './helpers/network.ts';

/** Batches handed out by `fetch`, as a peer's sync responses would be. */
class ListSource implements BatchSource {
  batches: Uint8Array[] = [];
  peers(): string[] { return ['peer-x']; }
  async *fetch(_peer: string, fromHeight: number): AsyncIterable<Uint8Array> {
    for (const b of this.batches) if (decodeBatch(b).header.height >= fromHeight) yield b;
  }
}

async function open(dir: string, source = new ListSource()) {
  const store = await LogStore.open(dir, 'test log');
  const watch = await HeaderWatch.open({ store, rules: PRIMARY_RULES, chainId: CHAIN_ID, log: silentLogger });
  const replica = new Replica({ store, rules: PRIMARY_RULES, source, watch, log: silentLogger });
  return { store, watch, replica, source, close: async () => { await replica.stop(); await store.close(); } };
}

function tipAfter(bytes: Uint8Array): Tip {
  const h = decodeBatch(bytes).header;
  return { height: h.height, headerHash: headerHash(SEPARATOR, h), nextSeq: h.firstSeq + h.count, headHash: h.headHash, timestamp: h.timestamp };
}

/** A chain of `n` genuine batches. */
function chain(n: number, from: Tip = GENESIS_TIP, label = 'x'): Uint8Array[] {
  const out: Uint8Array[] = [];
  let tip = from;
  for (let i = 0; i < n; i++) {
    const b = batchOnTip(tip, `${label}${i}`, 1_700_000_000_000 + i);
    out.push(b);
    tip = tipAfter(b);
  }
  return out;
}

test('a conflicting header met after a restart is caught; the proof survives further restarts and stops storage', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const genuine = chain(3);
  let n = await open(join(dir.path, 'db'));
  for (const b of genuine) assert.deepEqual(await n.replica.handle(b, 'gossip'), { verdict: 'accept', stored: true });
  await n.close();

  n = await open(join(dir.path, 'db'));
  const conflicting = batchOnTip(tipAfter(genuine[0]), 'other 1'); // another batch for height 1
  assert.equal((await n.replica.handle(conflicting, 'gossip from late peer')).verdict, 'accept', 'evidence is propagated');
  assert.equal(n.watch.proofs.length, 1);
  const proof = n.watch.proofs[0];
  assert.equal(proof.kind, 'conflict');
  assert.equal(proof.a.header.height, 1);
  assert.equal(checkProof(SEPARATOR, proof), null);
  await n.close();

  n = await open(join(dir.path, 'db'));
  t.after(() => n.close());
  assert.equal(n.watch.equivocated, true);
  assert.equal(toHex(headerHash(SEPARATOR, n.watch.proofs[0].a.header)), toHex(headerHash(SEPARATOR, proof.a.header)));
  const next = chain(1, tipAfter(genuine[2]))[0];
  assert.deepEqual(await n.replica.handle(next, 'gossip'), { verdict: 'ignore', stored: false });
  assert.equal(n.store.tip.height, 2, 'nothing more is stored from an equivocating primary');
});

test('a fork served in a sync response (child of a different parent) is caught as a fork', async (t) => {
  const dir = await tempDir();
  const genuine = chain(2);
  const n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  for (const b of genuine) await n.replica.handle(b, 'gossip');
  // The primary also signed an alternative height 1 and built height 2 on it; a peer serves height 2.
  const altParent = batchOnTip(tipAfter(genuine[0]), 'alt 1');
  const forkChild = batchOnTip(tipAfter(altParent), 'alt 2');
  n.source.batches = [forkChild];
  await n.replica.catchUp();
  assert.equal(n.watch.proofs.length, 1);
  const p = n.watch.proofs[0];
  assert.equal(p.kind, 'fork');
  assert.equal(p.a.header.height, 1);
  assert.equal(p.b.header.height, 2);
  assert.equal(checkProof(SEPARATOR, p), null);
  assert.equal(n.store.tip.height, 1);
});

test('a header seen ahead of the tip is remembered (durably) and caught when sync brings a different one', async (t) => {
  const dir = await tempDir();
  const genuine = chain(3);
  let n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  await n.replica.handle(genuine[0], 'gossip');
  // Height 2 arrives by gossip before height 1: remembered, not stored.
  assert.deepEqual(await n.replica.handle(genuine[2], 'gossip'), { verdict: 'ignore', stored: false });
  await n.close();
  n = await open(join(dir.path, 'db'));
  // After a restart a peer serves height 1 and a different height 2.
  const other2 = batchOnTip(tipAfter(genuine[1]), 'other 2');
  n.source.batches = [genuine[1], other2];
  await n.replica.catchUp();
  assert.equal(n.store.tip.height, 1);
  assert.equal(n.watch.proofs.length, 1);
  assert.equal(n.watch.proofs[0].kind, 'conflict');
});

test('a primary-signed batch that reuses a nonce from an earlier batch is rejected and not stored; its header still binds the primary', async (t) => {
  const dir = await tempDir();
  const n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  const first = batchOnTip(GENESIS_TIP, 'first', 1_700_000_000_000, 42n);
  assert.deepEqual(await n.replica.handle(first, 'gossip'), { verdict: 'accept', stored: true });
  const replay = batchOnTip(tipAfter(first), 'replayed nonce', 1_700_000_000_001, 42n);
  assert.deepEqual(await n.replica.handle(replay, 'gossip from relay'), { verdict: 'reject', stored: false });
  assert.equal(n.store.tip.height, 0);
  assert.equal(n.watch.equivocated, false, 'an invalid batch is not an equivocation');
  // The primary did sign that header, so a different batch for the same height is an equivocation.
  const other = batchOnTip(tipAfter(first), 'fresh nonce', 1_700_000_000_002, 43n);
  assert.deepEqual(await n.replica.handle(other, 'gossip'), { verdict: 'accept', stored: false });
  assert.equal(n.watch.proofs[0]?.kind, 'conflict');
  assert.equal(n.store.tip.height, 0);
});

test('a header remembered for a height that the node then stores differently is a proof (the write race)', async (t) => {
  const dir = await tempDir();
  const n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  const a = decodeBatch(batchOnTip(GENESIS_TIP, 'met while writing'));
  const b = decodeBatch(batchOnTip(GENESIS_TIP, 'stored'));
  await n.watch.remember(a);
  await n.watch.stored(b, 'own batch');
  assert.equal(n.watch.proofs[0]?.kind, 'conflict');
  await n.watch.stored(b, 'own batch');
  assert.equal(n.watch.proofs.length, 1, 'the seen header is consumed once');
});

/** Proof records in the store (keys 'P' + proof id). */
async function storedProofCount(store: LogStore): Promise<number> {
  let n = 0;
  for await (const [name] of store.records()) if (name[0] === 0x50) n++;
  return n;
}

test('one equivocation, one proof: concurrent detections and adoptions of it store and list it once, also after a restart', async (t) => {
  const dir = await tempDir();
  const genuine = chain(2);
  let n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  for (const b of genuine) await n.replica.handle(b, 'gossip');
  const other = decodeBatch(batchOnTip(tipAfter(genuine[0]), 'other 1'));
  const proof = judgePair(SEPARATOR, CHAIN_ID, PRIMARY_RULES.membership.leaderOf(0), decodeBatch(genuine[1]), other)!;
  // The conflicting header met from several sides at once (gossip, receipts) while the proof arrives by gossip.
  const outcomes = await Promise.all([
    ...Array.from({ length: 10 }, () => n.watch.observe(other, 'receipt check')),
    ...Array.from({ length: 10 }, () => n.watch.adopt(proof, 'proof gossip')),
  ]);
  for (const o of outcomes.slice(0, 10)) assert.equal((o as { kind: string } | null)?.kind, 'conflict');
  assert.ok(outcomes.slice(10).every((o) => o === 'new' || o === 'known'));
  assert.ok(outcomes.slice(10).filter((o) => o === 'new').length <= 1, 'at most one caller records it');
  assert.equal(n.watch.proofs.length, 1, 'listed once');
  assert.equal(await storedProofCount(n.store), 1, 'stored once');
  await n.close();
  n = await open(join(dir.path, 'db'));
  assert.equal(n.watch.proofs.length, 1, 'still one after a restart');
  assert.equal(await n.watch.adopt(proof, 'proof gossip'), 'known');
  assert.equal(n.watch.proofs.length, 1);
});

test('two different headers for a height not yet held, checked concurrently, are a proof', async (t) => {
  const dir = await tempDir();
  const n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  const tip = tipAfter(chain(1)[0]);
  const [a, b] = [batchOnTip(tip, 'a'), batchOnTip(tip, 'b')].map((x) => decodeBatch(x));
  // Each check is observe (nothing held yet at height 1), then remember: the second must not be dropped.
  const results = await Promise.all([n.watch.check(a, 'receipt check'), n.watch.check(b, 'receipt check')]);
  assert.equal(results.filter((r) => r !== null).length, 1, 'the second header is judged against the first');
  assert.equal(n.watch.proofs.length, 1);
  assert.equal(n.watch.proofs[0].kind, 'conflict');
});

test('a header remembered after its height was stored is judged against the log (observe and remember race the write)', async (t) => {
  const dir = await tempDir();
  const n = await open(join(dir.path, 'db'));
  t.after(async () => { await n.close(); await dir.remove(); });
  const genuine = chain(1);
  const other = decodeBatch(batchOnTip(GENESIS_TIP, 'met while the genuine batch was written'));
  assert.equal(await n.watch.observe(other, 'receipt check'), null, 'nothing held at height 0 yet');
  await n.replica.handle(genuine[0], 'gossip'); // stored between the caller's observe and remember
  const proof = await n.watch.remember(other, 'receipt check');
  assert.equal(proof?.kind, 'conflict');
  assert.equal(n.watch.proofs.length, 1);
  assert.equal(await n.watch.remember(decodeBatch(genuine[0]), 'receipt check'), null, 'the stored header itself is no proof');
});

test('judgePair: identical, unrelated, other-view and honest-parent pairs are not equivocations', () => {
  const [b0, b1, b2] = chain(3).map((b) => decodeBatch(b));
  const signer = PRIMARY_RULES.membership.leaderOf(0);
  assert.equal(judgePair(SEPARATOR, CHAIN_ID, signer, b1, b1), null);
  assert.equal(judgePair(SEPARATOR, CHAIN_ID, signer, b0, b1), null, 'honest parent and child');
  assert.equal(judgePair(SEPARATOR, CHAIN_ID, signer, b1, b0), null, 'either order');
  assert.equal(judgePair(SEPARATOR, CHAIN_ID, signer, b0, b2), null, 'non-adjacent heights prove nothing');
  const other1 = decodeBatch(batchOnTip(tipAfter(chain(1)[0]), 'y'));
  const p = judgePair(SEPARATOR, CHAIN_ID, signer, b1, other1)!;
  assert.equal(p.kind, 'conflict');
  assert.equal(judgePair(SEPARATOR, CHAIN_ID, signer, b1, { ...other1, header: { ...other1.header, view: 1 } }), null, 'different views');
  // checkProof refuses proofs that are not what they claim.
  assert.match(checkProof(SEPARATOR, { ...p, kind: 'fork' })!, /not a fork/);
  assert.match(checkProof(SEPARATOR, { ...p, b: p.a })!, /do not conflict/);
  assert.match(checkProof(SEPARATOR, { ...p, signer: new Uint8Array(20) })!, /not signed by the signer/);
});
