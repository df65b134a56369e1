/**
 * The replica's pipeline: batches are verified while the previous one's synced write is in flight, wait for the
 * next write together, and are stored in order, only with or after their predecessor; a failed write stores nothing
 * and drops what was verified on top of it. A real LogStore whose writes the test holds back (and can fail).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GENESIS_TIP, decodeBatch, type Tip } from '../src/core/batch.ts';
import { headerHash } from '../src/core/header.ts';
import { silentLogger } from '../src/core/logger.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import { Replica, type BatchSource } from '../src/roles/replica.ts';
import { LogStore, StoreFaultError, type AppendBatch } from '../src/storage/log-store.ts';
import { PRIMARY_RULES, batchOnTip } from './helpers/equivocator.ts';
import { CHAIN_ID, SEPARATOR, tempDir } from './helpers/network.ts';

const NO_PEERS: BatchSource = { peers: () => [], fetch: async function* () {} };
const STORED = { verdict: 'accept', stored: true };
const IGNORED = { verdict: 'ignore', stored: false };
const REJECTED = { verdict: 'reject', stored: false };

/** The store's writes as the test sees them: the heights of each, held back while `hold` is set, failed on `fail`. */
interface WriteControl {
  readonly writes: number[][];
  hold: Promise<void> | undefined;
  fail: boolean;
}

/** A replica on a real store whose every write (of one or several batches: appendAll) goes through `control`. */
async function open(t: TestContext, maxWriteBytes?: number) {
  const dir = await tempDir();
  const store = await LogStore.open(join(dir.path, 'db'), 'test log');
  const control: WriteControl = { writes: [], hold: undefined, fail: false };
  const write = store.appendAll.bind(store);
  store.appendAll = async (batches: readonly AppendBatch[]) => {
    control.writes.push(batches.map((b) => b.tip.height));
    await control.hold;
    if (control.fail) throw new StoreFaultError('injected write failure');
    return write(batches);
  };
  const watch = await HeaderWatch.open({ store, rules: PRIMARY_RULES, chainId: CHAIN_ID, log: silentLogger });
  let verifications = 0; // the replica reads its clock once per batch body it verifies
  const now = (): number => { verifications++; return Date.now(); };
  const replica = new Replica({ store, rules: PRIMARY_RULES, source: NO_PEERS, watch, log: silentLogger, now, maxWriteBytes });
  const gates: (() => void)[] = [];
  /** Holds every write until `open` is called (or the test ends). */
  const hold = (): { open: () => void } => {
    let open!: () => void;
    control.hold = new Promise<void>((r) => { open = r; });
    gates.push(open);
    return { open };
  };
  t.after(async () => {
    for (const open of gates) open(); // a failed assertion must not leave the replica waiting for a write
    await replica.stop();
    await store.close();
    await dir.remove();
  });
  return { store, watch, replica, control, hold, verifications: () => verifications };
}

function tipAfter(bytes: Uint8Array): Tip {
  const h = decodeBatch(bytes).header;
  return { height: h.height, headerHash: headerHash(SEPARATOR, h), nextSeq: h.firstSeq + h.count, headHash: h.headHash, timestamp: h.timestamp };
}

/** `n` genuine consecutive batches after `from`, with the given nonces (fresh random ones by default). */
function chain(n: number, from: Tip = GENESIS_TIP, nonces: bigint[] = []): Uint8Array[] {
  const out: Uint8Array[] = [];
  let tip = from;
  for (let i = 0; i < n; i++) {
    const b = batchOnTip(tip, `entry ${tip.height + 1}`, 1_700_000_000_000 + tip.height + 1, nonces[i]);
    out.push(b);
    tip = tipAfter(b);
  }
  return out;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `p`, or an error once `ms` have passed without it settling. */
async function within<T>(what: string, p: Promise<T>, ms = 3_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('batches are verified while the previous write is in flight, then written together, in order', async (t) => {
  const n = await open(t);
  const [b0, b1, b2, b3] = chain(4);
  const held = n.hold();
  const first = n.replica.handle(b0, 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  const rest = [b1, b2, b3].map((b) => n.replica.handle(b, 'gossip'));
  await waitFor('the next three batches verified during the first write', () => n.verifications() === 4);
  assert.equal(n.store.tip.height, -1, 'nothing is durable while the write is held');
  held.open();
  assert.deepEqual(await Promise.all([first, ...rest]), [STORED, STORED, STORED, STORED]);
  assert.deepEqual(n.control.writes, [[0], [1, 2, 3]], 'the batches verified meanwhile share the next synced write');
  assert.equal(n.store.tip.height, 3);
  for (let h = 0; h <= 3; h++) assert.ok(await n.store.getBatch(h), `height ${h} stored`);
});

test('one write takes at most maxWriteBytes of waiting batches (at least one), in order', async (t) => {
  const batches = chain(4);
  const n = await open(t, 2 * batches[1].byteLength);
  const held = n.hold();
  const first = n.replica.handle(batches[0], 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  const rest = batches.slice(1).map((b) => n.replica.handle(b, 'gossip'));
  await waitFor('the next three batches verified during the first write', () => n.verifications() === 4);
  held.open();
  assert.deepEqual(await Promise.all([first, ...rest]), [STORED, STORED, STORED, STORED]);
  assert.deepEqual(n.control.writes, [[0], [1, 2], [3]]);
  assert.equal(n.store.tip.height, 3);
});

test('a failed write stores nothing and drops the batches verified on top of it; sent again, they are stored in order', async (t) => {
  const n = await open(t);
  const batches = chain(3);
  const held = n.hold();
  n.control.fail = true;
  const first = n.replica.handle(batches[0], 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  const rest = batches.slice(1).map((b) => n.replica.handle(b, 'gossip'));
  await waitFor('the later batches verified during the write', () => n.verifications() === 3);
  held.open();
  assert.deepEqual(await Promise.all([first, ...rest]), [IGNORED, IGNORED, IGNORED]);
  assert.deepEqual(n.control.writes, [[0]], 'nothing verified on a failed write is written above the gap');
  assert.equal(n.store.tip.height, -1);
  assert.equal(await n.store.getBatch(1), undefined);

  n.control.hold = undefined;
  n.control.fail = false;
  assert.deepEqual(await Promise.all(batches.map((b) => n.replica.handle(b, 'sync'))), [STORED, STORED, STORED]);
  assert.equal(n.store.tip.height, 2);
  assert.equal(n.watch.equivocated, false);
});

test('a batch that reuses the nonce of a batch still waiting for its write is rejected at once; its header still binds the primary', async (t) => {
  const n = await open(t);
  const [first] = chain(1, GENESIS_TIP, [42n]);
  const [replay] = chain(1, tipAfter(first), [42n]);
  const held = n.hold();
  const firstDone = n.replica.handle(first, 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  // Judged while the first batch is not yet on disk: its nonces count all the same.
  assert.deepEqual(await within('the replay judged during the write', n.replica.handle(replay, 'gossip from relay')), REJECTED);
  held.open();
  assert.deepEqual(await firstDone, STORED);
  assert.equal(n.store.tip.height, 0);
  const [next] = chain(1, tipAfter(first), [43n]);
  // A different header for height 1 than the replay's, which the primary also signed: an equivocation, caught.
  assert.deepEqual(await n.replica.handle(next, 'gossip'), { verdict: 'accept', stored: false });
  assert.equal(n.watch.proofs[0]?.kind, 'conflict');
});

test('a tampered batch met while its predecessor is being written is rejected, and the genuine one is stored after it', async (t) => {
  const n = await open(t);
  const [b0, b1, b2] = chain(3);
  const tampered = Uint8Array.from(b1);
  tampered[tampered.length - 1] ^= 0xff; // the last byte of the last transaction: the header still verifies
  const held = n.hold();
  const first = n.replica.handle(b0, 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  assert.deepEqual(await within('the tampered batch judged during the write', n.replica.handle(tampered, 'gossip from relay')), REJECTED);
  const later = [b1, b2].map((b) => n.replica.handle(b, 'gossip'));
  held.open();
  assert.deepEqual(await Promise.all([first, ...later]), [STORED, STORED, STORED]);
  assert.equal(n.store.tip.height, 2);
  assert.deepEqual(Uint8Array.from((await n.store.getBatch(1))?.bytes ?? []), b1);
});

test('a different header for a height still waiting for its write is caught as an equivocation at once', async (t) => {
  const n = await open(t);
  const [first] = chain(1);
  const conflicting = batchOnTip(GENESIS_TIP, 'another batch for height 0', 1_700_000_000_000);
  const held = n.hold();
  const firstDone = n.replica.handle(first, 'gossip');
  await waitFor('the first write', () => n.control.writes.length === 1);
  // The pending batch is not on disk, so only the replica can judge the other header against it.
  assert.deepEqual(await within('the conflicting header judged during the write', n.replica.handle(conflicting, 'gossip from relay')),
    { verdict: 'accept', stored: false });
  assert.equal(n.watch.proofs[0]?.kind, 'conflict');
  assert.equal(n.watch.equivocated, true);
  held.open();
  await firstDone;
  assert.deepEqual(await n.replica.handle(chain(1, tipAfter(first))[0], 'gossip'), IGNORED, 'nothing more is stored');
});

test('the periodic sync asks one peer per round when nothing is missing, starting with another peer each round, so a withholding peer cannot hide a batch', async (t) => {
  const dir = await tempDir();
  const store = await LogStore.open(join(dir.path, 'db'), 'test log');
  const watch = await HeaderWatch.open({ store, rules: PRIMARY_RULES, chainId: CHAIN_ID, log: silentLogger });
  const batches = chain(2);
  const asked: string[] = [];
  // Peer "a" withholds everything; "b" and "c" serve the two batches.
  const source: BatchSource = {
    peers: () => ['a', 'b', 'c'],
    fetch: async function* (peer, from) {
      asked.push(peer);
      if (peer !== 'a') yield* batches.slice(from);
    },
  };
  const replica = new Replica({ store, rules: PRIMARY_RULES, source, watch, log: silentLogger });
  t.after(async () => { await replica.stop(); await store.close(); await dir.remove(); });
  await replica.catchUp(); // starts with "a": nothing, and no header above the tip is known: the round ends there
  assert.deepEqual(asked, ['a']);
  assert.equal(store.tip.height, -1);
  await replica.catchUp(); // starts with "b": both batches
  assert.equal(store.tip.height, 1, 'the next round, starting elsewhere, fetched what "a" withheld');
  asked.length = 0;
  await replica.catchUp();
  assert.equal(asked.length, 1, 'idle: one request per round');
  await replica.catchUp();
  assert.equal(asked.length, 2);
  assert.notEqual(asked[0], asked[1], 'each round starts with another peer');
  // A header above the tip is known (seen in gossip): every peer is worth asking.
  await watch.remember(decodeBatch(chain(1, tipAfter(batches[1]))[0]));
  asked.length = 0;
  await replica.catchUp();
  assert.deepEqual(asked.sort(), ['a', 'b', 'c']);
});
