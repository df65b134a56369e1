/**
 * The primary's pipeline (roles/primary.ts): batches are sealed and signed on top of the ones whose synced write
 * is in flight, reach the disk in height order (several per write), and are published and answered in that
 * order, only once durable. A write that fails drops every batch sealed on top of it: all their submissions
 * get -32012, nothing of them leaves the process, and the same signed submissions sent again get receipts from
 * a log without gaps, in which no height was ever shown with two different headers. A burst is sealed in
 * bounded batches, so that no turn of the event loop seals or answers an unbounded amount of work.
 *
 * A real LogStore in a temp dir; the store's LevelDB write is held at a gate, or made to fail once, by wrapping
 * the database's batch() on that one instance (the only way to hold a synced write open or fail it at will).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, type DecodedBatch, type Tip } from '../src/core/batch.ts';
import { equalBytes, toHex } from '../src/core/bytes.ts';
import { ErrorCode, SequencerError } from '../src/core/errors.ts';
import { headerHash, type SignedHeader } from '../src/core/header.ts';
import { checkReceipt, type Receipt } from '../src/core/receipt.ts';
import type { Submission } from '../src/core/submission.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import { LogReader } from '../src/roles/log-reader.ts';
import { Primary } from '../src/roles/primary.ts';
import { LogStore } from '../src/storage/log-store.ts';
import { PRIMARY_RULES } from './helpers/equivocator.ts';
import { CHAIN_ID, CLIENT_KEY, OUTSIDER_KEY, PRIMARY_KEY, clientSigner, log, tempDir, waitFor } from './helpers/network.ts';

const tx = (s: string) => new TextEncoder().encode(s);
const RECEIPT_RULES = { logId: PRIMARY_RULES.logId, separator: PRIMARY_RULES.separator, membership: PRIMARY_RULES.membership };

type BatchFn = (ops: unknown[], options: unknown) => Promise<void>;

/** A Primary on a real LogStore whose LevelDB batch writes pass through `writes`, with every publish recorded. */
async function pipelinedPrimary(t: TestContext, opts: { sealLingerMs?: number } = {}) {
  const dir = await tempDir();
  const store = await LogStore.open(dir.path, 'primary-pipeline test');
  const watch = await HeaderWatch.open({ store, rules: PRIMARY_RULES, chainId: CHAIN_ID, log });
  const published: DecodedBatch[] = [];
  const primary = new Primary({
    store, rules: PRIMARY_RULES, log, watch, reader: new LogReader(store, PRIMARY_RULES), privateKey: PRIMARY_KEY,
    publish: async (bytes) => { published.push(decodeBatch(bytes)); },
    sealLingerMs: opts.sealLingerMs,
  });
  /** Gates a test holds writes at: all opened before the primary stops, so that a failing test never hangs. */
  const gates: (() => void)[] = [];
  t.after(async () => { for (const open of gates) open(); await primary.stop(); await store.close(); await dir.remove(); });
  const db = (store as unknown as { db: { batch: BatchFn } }).db;
  const realBatch = db.batch.bind(db);
  /** Log writes (batch() calls) seen so far; a test may replace `intercept` to hold or fail the next ones. */
  const writes = { count: 0, intercept: undefined as undefined | ((real: () => Promise<void>) => Promise<void>) };
  db.batch = (ops, options) => {
    writes.count++;
    const intercept = writes.intercept;
    return intercept ? intercept(() => realBatch(ops, options)) : realBatch(ops, options);
  };
  /** A gate: `wait` settles once `open` is called. */
  const gate = (): { wait: Promise<void>; open: () => void } => {
    let open!: () => void;
    const wait = new Promise<void>((resolve) => { open = resolve; });
    gates.push(open);
    return { wait, open };
  };
  return { store, primary, published, writes, gate };
}

/** The stored log, read back: every batch from 0 to the tip links to the one before and continues its sequence numbers. */
async function assertLogWithoutGaps(store: LogStore): Promise<void> {
  let prev: Tip = { height: -1, headerHash: new Uint8Array(32), nextSeq: 0, headHash: new Uint8Array(32), timestamp: 0 };
  for (let h = 0; h <= store.tip.height; h++) {
    const stored = await store.getBatch(h);
    assert.ok(stored, `batch ${h} is stored`);
    const { header } = decodeBatch(stored.bytes);
    assert.equal(header.height, h);
    assert.ok(equalBytes(header.prevHeaderHash, prev.headerHash), `batch ${h} links to batch ${h - 1}`);
    assert.equal(header.firstSeq, prev.nextSeq, `batch ${h} continues the sequence numbers`);
    assert.ok(equalBytes(stored.prevEntryHash, prev.headHash), `batch ${h} continues the entry chain`);
    prev = { height: h, headerHash: headerHash(PRIMARY_RULES.separator, header), nextSeq: header.firstSeq + header.count, headHash: header.headHash, timestamp: header.timestamp };
  }
  assert.equal(prev.nextSeq, store.tip.nextSeq);
}

/** Every header that left the process, by height: exactly one header hash per height. */
function assertOneHeaderPerHeight(headers: readonly SignedHeader[]): void {
  const byHeight = new Map<number, string>();
  for (const { header } of headers) {
    const hash = toHex(headerHash(PRIMARY_RULES.separator, header));
    const held = byHeight.get(header.height);
    assert.ok(held === undefined || held === hash, `height ${header.height} was shown with two different headers`);
    byHeight.set(header.height, hash);
  }
}

test('batches sealed while a write is in flight go to the disk together, in order, and are answered only once durable', async (t) => {
  const { store, primary, published, writes, gate } = await pipelinedPrimary(t);
  const signer = clientSigner();
  const held = gate();
  writes.intercept = async (real) => { await held.wait; await real(); };

  const answered: string[] = [];
  const append = (name: string, nonce: bigint) => primary.append(signer.sign({ nonce, transactions: [tx(name), tx(`${name}'`)] }))
    .then((r) => { answered.push(name); return r; });
  const a = append('a', 1n);
  await waitFor(() => writes.count === 1, 5_000, 'the write of the first batch is in flight');
  const b = append('b', 2n);
  await waitFor(() => primary.sealedAhead === 1, 5_000, 'b sealed on top of the batch being written');
  const c = append('c', 3n);
  await waitFor(() => primary.sealedAhead === 2, 5_000, 'c sealed on top of b');
  assert.deepEqual(answered, [], 'nothing is answered before its batch is durable');
  assert.equal(published.length, 0, 'nothing is published before its batch is durable');
  assert.equal(store.tip.height, -1);

  writes.intercept = undefined;
  held.open();
  const receipts = await Promise.all([a, b, c]);
  assert.deepEqual(answered, ['a', 'b', 'c'], 'answered in height order');
  assert.deepEqual(receipts.map((r) => r.header.height), [0, 1, 2]);
  assert.deepEqual(receipts.map((r) => r.firstSeq), [0, 2, 4]);
  assert.equal(writes.count, 2, 'b and c went to the disk in one synced write, after a');
  assert.deepEqual(published.map((s) => s.header.height), [0, 1, 2], 'published in height order');
  for (const r of receipts) assert.equal(checkReceipt(RECEIPT_RULES, r), null);
  assert.equal(store.tip.height, 2);
  await assertLogWithoutGaps(store);
});

test('under many concurrent appends and slow writes, sequence numbers are gap-free, receipts check, and writes carry several batches', async (t) => {
  const { store, primary, published, writes } = await pipelinedPrimary(t);
  // Each write takes a few milliseconds, so that batches pile up behind it.
  writes.intercept = async (real) => { await new Promise((r) => setTimeout(r, 3)); await real(); };
  const signers = [clientSigner(CLIENT_KEY), clientSigner(OUTSIDER_KEY)];
  const submissions: Submission[] = [];
  for (let i = 0; i < 400; i++) {
    const count = 1 + (i % 7);
    submissions.push(signers[i % 2].sign({ nonce: BigInt(i + 1), transactions: Array.from({ length: count }, (_, j) => tx(`${i}.${j}`)) }));
  }
  // Arriving over many turns of the event loop, a few at a time.
  const pending: Promise<Receipt>[] = [];
  for (let i = 0; i < submissions.length; i += 5) {
    for (const s of submissions.slice(i, i + 5)) pending.push(primary.append(s));
    await new Promise((r) => setImmediate(r));
  }
  const receipts = await Promise.all(pending);

  const ranges = receipts.map((r) => [r.firstSeq, r.firstSeq + r.entryHashes.length]).sort((x, y) => x[0] - y[0]);
  let next = 0;
  for (const [lo, hi] of ranges) {
    assert.equal(lo, next, 'the receipts cover the sequence numbers without a gap or an overlap');
    next = hi;
  }
  assert.equal(next, store.tip.nextSeq);
  for (const [i, r] of receipts.entries()) assert.equal(checkReceipt(RECEIPT_RULES, r, submissions[i].transactions), null);
  const batches = store.tip.height + 1;
  assert.deepEqual(published.map((s) => s.header.height), Array.from({ length: batches }, (_, h) => h), 'every batch published once, in order');
  assert.ok(writes.count < batches, `several batches share a synced write (${writes.count} writes for ${batches} batches)`);
  assertOneHeaderPerHeight([...published, ...receipts]);
  await assertLogWithoutGaps(store);
});

for (const reachedDisk of [false, true]) {
  test(`a failed write drops the batches sealed on top of it too; resent, the same submissions get receipts and the log has no gap (failed write ${reachedDisk ? 'on the disk after all' : 'lost'})`, async (t) => {
    const { store, primary, published, writes, gate } = await pipelinedPrimary(t);
    const signer = clientSigner();
    const first = await primary.append(signer.sign({ nonce: 1n, transactions: [tx('stored before the fault')] }));
    assert.equal(first.header.height, 0);

    const held = gate();
    writes.intercept = async (real) => {
      writes.intercept = undefined; // one write fails; the recovery's own writes go through
      await held.wait;
      if (reachedDisk) await real();
      throw new Error('IO error: injected write failure');
    };
    const a = signer.sign({ nonce: 2n, transactions: [tx('a1'), tx('a2')] });
    const b = signer.sign({ nonce: 3n, transactions: [tx('b1')] });
    const c = signer.sign({ nonce: 4n, transactions: [tx('c1'), tx('c2'), tx('c3')] });
    const outcomes: Promise<Receipt>[] = [primary.append(a)];
    await waitFor(() => writes.count === 2, 5_000, 'the write of batch 1 is in flight');
    outcomes.push(primary.append(b));
    await waitFor(() => primary.sealedAhead === 1, 5_000, 'b sealed on top of the batch being written');
    outcomes.push(primary.append(c));
    await waitFor(() => primary.sealedAhead === 2, 5_000, 'c sealed on top of b');
    held.open();

    const settled = await Promise.allSettled(outcomes);
    for (const [i, o] of settled.entries()) {
      assert.equal(o.status, 'rejected', `submission ${i} is not acknowledged`);
      assert.equal(((o as PromiseRejectedResult).reason as SequencerError).code, ErrorCode.StorageUnavailable, `submission ${i} gets -32012`);
    }
    assert.deepEqual(published.map((s) => s.header.height), [0], 'no header of the dropped batches left the process');

    await waitFor(() => store.fault === undefined, 10_000, 'the store recovers');
    assert.equal(store.tip.height, reachedDisk ? 1 : 0, 'the recovered tip is what reached the disk');
    const again = await Promise.all([a, b, c].map((s) => primary.append(s)));
    for (const [i, r] of again.entries()) assert.equal(checkReceipt(RECEIPT_RULES, r, [a, b, c][i].transactions), null);
    if (reachedDisk) assert.equal(again[0].header.height, 1, 'a is in the batch that reached the disk: its receipt comes from the log');
    assert.deepEqual(again.map((r) => r.firstSeq), [1, 3, 4], 'resent, they follow the stored log without a gap');
    assertOneHeaderPerHeight([first, ...published, ...again]);
    await assertLogWithoutGaps(store);
    assert.equal(store.tip.nextSeq, 7);
  });
}

test('a submission still queued (the sealed-ahead bound reached) when a write fails is answered, and answered again when resent', async (t) => {
  const { store, primary, writes, gate } = await pipelinedPrimary(t);
  const signer = clientSigner();
  const held = gate();
  writes.intercept = async () => {
    writes.intercept = undefined;
    await held.wait;
    throw new Error('IO error: injected write failure');
  };
  const outcomes: Promise<unknown>[] = [primary.append(signer.sign({ nonce: 1n, transactions: [tx('in the failing write')] })).catch((e: SequencerError) => e.code)];
  await waitFor(() => writes.count === 1, 5_000, 'the first write is in flight');
  for (let i = 0; i < 4; i++) {
    outcomes.push(primary.append(signer.sign({ nonce: BigInt(2 + i), transactions: [tx(`ahead ${i}`)] })).catch((e: SequencerError) => e.code));
    await waitFor(() => primary.sealedAhead === i + 1, 5_000, `${i + 1} batches sealed ahead`);
  }
  const queued = signer.sign({ nonce: 99n, transactions: [tx('queued behind the sealed-ahead bound')] });
  const answer = primary.append(queued).then(() => 'receipt', (e: SequencerError) => e.code);
  await waitFor(() => primary.queuedSubmissions === 1, 5_000, 'the next submission waits in the queue');
  held.open();
  assert.deepEqual(await Promise.all(outcomes), Array(5).fill(ErrorCode.StorageUnavailable), 'the failing write and the batches on it get -32012');
  // It is answered, either way (refused while the store recovers, or sealed once it has): never left waiting.
  assert.ok(['receipt', ErrorCode.StorageUnavailable].includes(await answer as never), 'the queued submission is answered');
  await waitFor(() => store.fault === undefined, 10_000, 'the store recovers');
  const again = await primary.append(queued);
  assert.equal(checkReceipt(RECEIPT_RULES, again, queued.transactions), null, 'resent, it gets a receipt');
  await assertLogWithoutGaps(store);
});

test('a burst of submissions is sealed in bounded batches (each one short turn of the event loop), still gap-free', async (t) => {
  const { store, primary, published } = await pipelinedPrimary(t);
  const signer = clientSigner();
  const burst = Array.from({ length: 2500 }, (_, i) => signer.sign({ nonce: BigInt(i + 1), transactions: [tx(`burst ${i}`)] }));
  const receipts = await Promise.all(burst.map((s) => primary.append(s)));
  const perBatch = published.map((b) => b.submissions.length);
  assert.ok(published.length >= 3, `2,500 submissions arriving at once make several batches (${published.length})`);
  assert.ok(Math.max(...perBatch) <= 1024, `at most 1,024 submissions per batch (${perBatch.join(', ')})`);
  assert.deepEqual(receipts.map((r) => r.firstSeq), burst.map((_, i) => i), 'in arrival order, without a gap');
  await assertLogWithoutGaps(store);
});

test('with a seal linger, submissions arriving one after another within it share one batch', async (t) => {
  const { primary, published } = await pipelinedPrimary(t, { sealLingerMs: 2_000 });
  const signer = clientSigner();
  const receipts: Promise<Receipt>[] = [];
  for (let i = 0; i < 3; i++) {
    receipts.push(primary.append(signer.sign({ nonce: BigInt(i + 1), transactions: [tx(`spaced ${i}`)] })));
    await new Promise((resolve) => setTimeout(resolve, 20)); // each would be a batch of its own without the linger
  }
  const answered = await Promise.all(receipts);
  assert.deepEqual(answered.map((r) => r.header.height), [0, 0, 0], 'all three in the first batch');
  assert.equal(published.length, 1);
  assert.deepEqual(answered.map((r) => r.firstSeq), [0, 1, 2]);
});

test('a queue of half a batch or more is sealed at once, whatever the linger', { timeout: 20_000 }, async (t) => {
  const { primary, published } = await pipelinedPrimary(t, { sealLingerMs: 60_000 });
  const signer = clientSigner();
  const big = [1, 2].map((n) => signer.sign({ nonce: BigInt(n), transactions: Array.from({ length: 1024 }, (_, i) => tx(`${n}/${i}`)) }));
  // 2 x 1,024 transactions = half of the 4,096 a batch holds: sealed without waiting the minute out.
  const receipts = await Promise.all(big.map((s) => primary.append(s)));
  assert.deepEqual(receipts.map((r) => r.firstSeq), [0, 1024]);
  assert.equal(published.length, 1);
});

test('a lingering queue does not hold back a batch sealed ahead once the write before it returns', { timeout: 20_000 }, async (t) => {
  const { primary, writes, gate } = await pipelinedPrimary(t, { sealLingerMs: 60_000 });
  const signer = clientSigner();
  const held = gate();
  writes.intercept = async (real) => { writes.intercept = undefined; await held.wait; await real(); };
  const big = (n: number) => signer.sign({ nonce: BigInt(n), transactions: Array.from({ length: 1024 }, (_, i) => tx(`${n}/${i}`)) });
  const first = Promise.all([big(1), big(2)].map((s) => primary.append(s))); // half a batch: sealed at once
  await waitFor(() => writes.count === 1, 5_000, 'the first write is held');
  const ahead = Promise.all([big(3), big(4)].map((s) => primary.append(s)));
  await waitFor(() => primary.sealedAhead === 1, 5_000, 'the next half batch is sealed ahead');
  const lingering = primary.append(signer.sign({ nonce: 5n, transactions: [tx('small: lingers a minute')] })).catch(() => {});
  await waitFor(() => primary.queuedSubmissions === 1, 5_000, 'the small one lingers in the queue');
  held.open();
  await first;
  const receipts = await ahead; // without the fix: only once the minute of linger is over
  assert.deepEqual(receipts.map((r) => r.firstSeq), [2048, 3072]);
  void lingering;
});
