/**
 * The client SDK (src/client, docs/sdk.md) against real in-process nodes: its actions, and watchEntries following
 * the log live (server push and polling), failing over between nodes with no gap or duplicate, resuming from a
 * persisted anchor, and refusing what a lying node serves (a tampered payload, a forged validly-signed header).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeBatch, type Tip } from '../src/core/batch.ts';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { checkProof } from '../src/core/equivocation.ts';
import { NonceReplayedError } from '../src/core/errors.ts';
import { headerHash } from '../src/core/header.ts';
import { sign, addressFromPrivateKey } from '../src/core/signature.ts';
import { headerToJson, parseProof, submissionToJson, type EntryJson } from '../src/wire/json.ts';
import type { BatchJson } from '../src/wire/rpc-types.ts';
import { createSequencerClient, InconsistentLogError, VerificationError, type SequencerClient } from '../src/client/index.ts';
import type { EntryWatcher } from '../src/client/entry-watcher.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { batchOnTip } from './helpers/equivocator.ts';
import { startRpcProxy } from './helpers/rpc-proxy.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, PRIMARY_KEY, SEPARATOR, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

const text = (s: string) => new TextEncoder().encode(s);
const PRIMARY = addressFromPrivateKey(PRIMARY_KEY);
const account = { privateKey: CLIENT_KEY };

function sdk(urls: string[]): SequencerClient {
  return createSequencerClient({ urls, logId: LOG_ID, chainId: CHAIN_ID, primary: PRIMARY });
}

/** Appends `batches` submissions of `txs` transactions each, one after the other (so each is its own batch or few). */
async function appendSome(client: SequencerClient, batches: number, txs: number, tag: string): Promise<void> {
  for (let i = 0; i < batches; i++) {
    await client.append({ account, transactions: Array.from({ length: txs }, (_, j) => text(`${tag} ${i}.${j}`)) });
  }
}

/** The next `n` entries of the watcher (the iterator stays open for more). */
async function take(watcher: EntryWatcher, n: number): Promise<EntryJson[]> {
  const out: EntryJson[] = [];
  if (n === 0) return out;
  const it = watcher[Symbol.asyncIterator]();
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`stream ended after ${out.length} of ${n}`);
    out.push(r.value);
    if (out.length === n) return out;
  }
}

function assertConsecutive(entries: readonly EntryJson[], from: number): void {
  assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: entries.length }, (_, i) => from + i), 'every sequence number once, in order');
}

/** A getBatch answer for a batch built by the test (the client recomputes entries: none are sent). */
function batchJson(bytes: Uint8Array, prevEntryHash: string): BatchJson {
  const b = decodeBatch(bytes);
  return {
    header: headerToJson(b.header), headerHash: toHex(headerHash(SEPARATOR, b.header)), signature: toHex(b.signature), prevEntryHash,
    submissions: b.submissions.map(submissionToJson), entries: [],
  };
}

async function network(t: { after: (fn: () => Promise<void>) => void }, replicas = 0): Promise<{ primary: SequencerNode; replicas: SequencerNode[] }> {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const rs: SequencerNode[] = [];
  for (let i = 0; i < replicas; i++) rs.push(await startReplica(join(dir.path, `r${i}`), primary.multiaddrs()));
  t.after(async () => {
    await Promise.all([...rs.map((r) => r.stop().catch(() => {})), primary.stop()]);
    await dir.remove();
  });
  return { primary, replicas: rs };
}

test('actions: append (key or signer callback) with a checked receipt, read, getBatch, getProof, info, verifyReceipt; typed errors', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  const receipt = await client.append({ account, transactions: [text('a'), text('b')], nonce: 7n });
  assert.equal(receipt.count, 2);
  const bySigner = await client.append({
    account: { address: addressFromPrivateKey(CLIENT_KEY), signDigest: (digest) => sign(digest, CLIENT_KEY) },
    transactions: [text('c')],
  });
  assert.equal(bySigner.firstSeq, 2);
  await assert.rejects(client.append({ account, transactions: [text('again')], nonce: 7n }), NonceReplayedError);

  const entries = await client.read({ fromSeq: 0, limit: 10 });
  assert.deepEqual(entries.map((e) => new TextDecoder().decode(fromHex(e.payload))), ['a', 'b', 'c']);
  const batch = await client.getBatch(receipt.height);
  assert.deepEqual(batch.entries.map((e) => e.entryHash), receipt.entryHashes);
  const proof = await client.getProof(1);
  assert.equal(proof.entry.entryHash, receipt.entryHashes[1]);
  assert.equal((await client.info()).entries, 3);
  assert.equal((await client.verifyReceipt(receipt)).status, 'consistent');
  const forged = { ...receipt, entryHashes: [receipt.entryHashes[1], receipt.entryHashes[0]] };
  assert.equal((await client.verifyReceipt(forged)).status, 'invalid');

  // A client of another log refuses the node's answers.
  const other = createSequencerClient({ url: primary.rpcUrl, logId: toHex(randomBytes(32)), chainId: CHAIN_ID, primary: PRIMARY });
  await assert.rejects(other.info(), VerificationError);
  // A node whose proof does not verify (payload altered in transit) is refused.
  const proxy = await startRpcProxy(primary.rpcUrl, (method, _params, result) => {
    if (method === 'sequencer_getProof') (result as { entry: EntryJson }).entry.payload = toHex(text('forged'));
    return result;
  });
  t.after(() => proxy.close());
  await assert.rejects(sdk([proxy.url]).getProof(1), VerificationError);

  // wait: 'final': the certificate (a lone primary finalises each batch) is checked by the client; getCertificate too.
  const final = await client.append({ account, transactions: [text('final')], wait: 'final' });
  assert.equal(final.finality, 'final');
  assert.equal(final.certificate?.headerHash, final.headerHash);
  assert.deepEqual(await client.getCertificate(final.height), final.certificate);
  assert.equal((await client.verifyReceipt(final)).finality, 'final');
  // A node that claims finality without a certificate, or with one that does not check, is refused.
  const liar = await startRpcProxy(primary.rpcUrl, (method, _params, result) => {
    const r = result as { finality?: string; certificate?: { certificate: { signatures: string[] } } | null };
    if (method === 'sequencer_append' && r.certificate) r.certificate.certificate.signatures[0] = toHex(randomBytes(65));
    if (method === 'sequencer_getCertificate') (result as { height: number }).height += 1;
    return result;
  });
  t.after(() => liar.close());
  await assert.rejects(sdk([liar.url]).append({ account, transactions: [text('forged certificate')], wait: 'final' }), { name: 'VerificationError', message: /finality certificate/ });
  await assert.rejects(sdk([liar.url]).getCertificate(final.height), { name: 'VerificationError', message: /it is for height/ });
  const bare = await startRpcProxy(primary.rpcUrl, (method, _params, result) => {
    if (method === 'sequencer_append') Object.assign(result as object, { certificate: null });
    return result;
  });
  t.after(() => bare.close());
  await assert.rejects(sdk([bare.url]).append({ account, transactions: [text('no certificate')], wait: 'final' }), { name: 'VerificationError', message: /it says final, its certificate makes it soft/ });
});

for (const serverPush of [true, false]) {
  test(`watchEntries follows the log live while appending, verifying every batch (${serverPush ? 'server push' : 'polling'})`, async (t) => {
    const { primary } = await network(t);
    const client = sdk([primary.rpcUrl]);
    await appendSome(client, 3, 4, 'before');
    const watcher = client.watchEntries({ fromSeq: 0, serverPush, pollIntervalMs: 100 });
    const live = appendSome(client, 10, 3, 'live');
    const got = await take(watcher, 12 + 30);
    await live;
    assert.equal(watcher.following, serverPush ? 'push' : 'poll');
    watcher.stop();
    assertConsecutive(got, 0);
    assert.deepEqual(got, await client.read({ fromSeq: 0, limit: 100 }), 'what the node stores, recomputed by the client');
    assert.equal(watcher.anchor!.cursor, 42);
  });
}

test('watchEntries from a height, and the callback form with its unwatch function', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 4, 2, 'x');
  const seen: EntryJson[] = [];
  let failure: unknown;
  const unwatch = client.watchEntries({ fromHeight: 2, onEntry: (e) => { seen.push(e); }, onError: (e) => { failure = e; } });
  await waitFor(() => seen.length === 4, 10_000, 'entries of heights 2 and 3');
  await appendSome(client, 1, 1, 'y');
  await waitFor(() => seen.length === 5, 10_000, 'the live entry');
  unwatch();
  assertConsecutive(seen, 4);
  assert.deepEqual(seen.map((e) => e.height), [2, 2, 3, 3, 4]);
  assert.equal(failure, undefined);
});

test('watchEntries fails over to the next URL when its node stops mid-stream: no gap, no duplicate', async (t) => {
  const { primary, replicas: [replica] } = await network(t, 1);
  const client = sdk([primary.rpcUrl]);
  const reconnects: string[] = [];
  const watcher = sdk([replica.rpcUrl, primary.rpcUrl]).watchEntries({ fromSeq: 0, onReconnect: ({ url }) => reconnects.push(url) });
  await appendSome(client, 5, 2, 'first');
  const first = await take(watcher, 10);
  assert.equal(watcher.url, replica.rpcUrl);
  await replica.stop();
  await appendSome(client, 5, 2, 'second');
  const second = await take(watcher, 10);
  watcher.stop();
  assert.equal(watcher.url, primary.rpcUrl, 'now following the primary');
  assert.ok(reconnects.includes(replica.rpcUrl));
  assertConsecutive([...first, ...second], 0);
  assert.deepEqual([...first, ...second], await client.read({ fromSeq: 0, limit: 100 }));
});

test('watchEntries resumes from a persisted anchor, mid-batch, with nothing repeated or skipped', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 3, 5, 'p');
  const first = client.watchEntries({ fromSeq: 0 });
  const before = await take(first, 7); // batch 1 is handed out in part
  const persisted = JSON.stringify(first.anchor);
  first.stop();
  assert.equal(JSON.parse(persisted).cursor, 7);
  assert.equal(JSON.parse(persisted).height, 1);
  await appendSome(client, 1, 5, 'q');
  const resumed = client.watchEntries({ anchor: JSON.parse(persisted) });
  const after = await take(resumed, 13);
  resumed.stop();
  assertConsecutive([...before, ...after], 0);
  // An anchor altered on disk is refused before any node is asked.
  const altered = { ...JSON.parse(persisted), nextSeq: 99 };
  assert.throws(() => client.watchEntries({ anchor: altered }), VerificationError);
});

test("watchEntries({finality: 'final'}) hands out only entries of heights the node holds final, each range checked with a certificate; a forged certificate stops it", async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 5, 2, 'final');
  const watcher = client.watchEntries({ fromSeq: 0, finality: 'final', pollIntervalMs: 50 });
  t.after(() => watcher.stop());
  const got: EntryJson[] = [];
  for await (const e of watcher) {
    assert.ok(e.height <= primary.info().finalizedHeight, `entry ${e.seq} of height ${e.height} handed out only once final`);
    got.push(e);
    if (got.length === 10) break;
  }
  assertConsecutive(got, 0);
  assert.deepEqual(got, await client.read({ fromSeq: 0, limit: 10 }));
  // A node whose certificates do not check: nothing of the range is handed out.
  assert.deepEqual(await finalEntriesFromForgingNode(t, primary.rpcUrl, 0), []);
});

/**
 * Follows `finality: 'final'` from `fromSeq` through a proxy of `url` that forges one signature of every finality
 * certificate: the watcher must end with a VerificationError about the certificate. Returns what it handed out.
 */
async function finalEntriesFromForgingNode(t: TestContext, url: string, fromSeq: number): Promise<EntryJson[]> {
  const liar = await startRpcProxy(url, (method, _params, result) => {
    if (method === 'sequencer_getCertificate') (result as { certificate: { signatures: string[] } }).certificate.signatures[0] = toHex(randomBytes(65));
    return result;
  });
  t.after(() => liar.close());
  const lied: EntryJson[] = [];
  await assert.rejects(async () => {
    for await (const e of sdk([liar.url]).watchEntries({ fromSeq, finality: 'final', pollIntervalMs: 50 })) lied.push(e);
  }, { name: 'VerificationError', message: /finality certificate/ });
  return lied;
}

test("watchEntries({finality: 'final'}) starting mid-batch hands out nothing of the starting batch before its own certificate checks", async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 3, 2, 'start');
  // Entries 2 and 3 are one submission, hence one batch: from 3, the watcher starts inside the batch holding 2.
  const [second] = await client.read({ fromSeq: 2, limit: 2 }).then((es) => { assert.equal(es[0].height, es[1].height); return es; });
  await waitFor(() => primary.info().finalizedHeight >= second.height);
  assert.deepEqual(await finalEntriesFromForgingNode(t, primary.rpcUrl, 3), [], 'no entry of the starting batch without its checked certificate');
  // With honest certificates it starts at 3, with nothing skipped or repeated.
  const watcher = client.watchEntries({ fromSeq: 3, finality: 'final', pollIntervalMs: 50 });
  t.after(() => watcher.stop());
  assertConsecutive(await take(watcher, 3), 3);
});

test('a node serving a tampered payload: VerificationError, and no entry of that batch is yielded', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 4, 2, 'real');
  const proxy = await startRpcProxy(primary.rpcUrl, (method, params, result) => {
    if (method === 'sequencer_getBatch' && (params as number[])[0] === 2) {
      const b = result as BatchJson;
      b.submissions[0].transactions[1] = toHex(text('tampered'));
    }
    return result;
  });
  t.after(() => proxy.close());
  const watcher = sdk([proxy.url]).watchEntries({ fromSeq: 0, pollIntervalMs: 50 });
  const yielded: EntryJson[] = [];
  await assert.rejects(async () => { for await (const e of watcher) yielded.push(e); }, (e: unknown) => {
    assert.ok(e instanceof VerificationError && !(e instanceof InconsistentLogError));
    assert.match(e.message, /batch 2 .* does not verify/);
    return true;
  });
  assert.deepEqual(yielded, await client.read({ fromSeq: 0, limit: 4 }), 'only the entries of heights 0 and 1');
  assert.equal(watcher.anchor!.height, 1);
});

test('a node misplacing the starting entry (to skip the entries before a later batch): VerificationError', async (t) => {
  const { primary } = await network(t);
  await appendSome(sdk([primary.rpcUrl]), 4, 2, 'p');
  const proxy = await startRpcProxy(primary.rpcUrl, (method, _params, result) => {
    if (method === 'sequencer_read') return (result as EntryJson[]).map((e) => ({ ...e, height: 3 }));
    return result;
  });
  t.after(() => proxy.close());
  const watcher = sdk([proxy.url]).watchEntries({ fromSeq: 3 });
  await assert.rejects(take(watcher, 1), (e: unknown) => e instanceof VerificationError && /placed entry 2 at height 3/.test(e.message));
});

test('a node serving a conflicting header signed with the primary\'s key: InconsistentLogError with both headers and the proof', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 3, 1, 'real');
  const honest = client.watchEntries({ fromSeq: 0 });
  await take(honest, 3);
  const anchor = honest.anchor!;
  honest.stop();
  const held = await client.getBatch(2);

  // fork: a header at height 3 that does not extend the anchor's (height 2).
  const fakeTip: Tip = { height: 2, headerHash: randomBytes(32), nextSeq: 3, headHash: fromHex(held.header.headHash), timestamp: held.header.timestamp };
  const forkBatch = batchJson(batchOnTip(fakeTip, 'fork'), held.header.headHash);
  // conflict: another header for height 2 itself.
  const beforeHeld: Tip = { height: 1, headerHash: fromHex(held.header.prevHeaderHash), nextSeq: 2, headHash: fromHex(held.prevEntryHash), timestamp: 0 };
  const conflictBatch = batchJson(batchOnTip(beforeHeld, 'conflict'), held.prevEntryHash);

  for (const [kind, forged] of [['fork', forkBatch], ['conflict', conflictBatch]] as const) {
    const proxy = await startRpcProxy(primary.rpcUrl, (method, params, result) => {
      if (method === 'sequencer_info') return { ...(result as object), height: forged.header.height, headerHash: forged.headerHash };
      if (method === 'sequencer_getBatch' && (params as number[])[0] === forged.header.height) return forged;
      return result;
    });
    t.after(() => proxy.close());
    const watcher = sdk([proxy.url]).watchEntries({ anchor, pollIntervalMs: 50 });
    const yielded: EntryJson[] = [];
    await assert.rejects(async () => { for await (const e of watcher) yielded.push(e); }, (e: unknown) => {
      assert.ok(e instanceof InconsistentLogError, String(e));
      assert.deepEqual(e.held, { header: held.header, signature: held.signature });
      assert.deepEqual(e.served, { header: forged.header, signature: forged.signature });
      assert.ok(e.proof, 'an equivocation proof');
      assert.equal(e.proof.kind, kind);
      assert.equal(checkProof(SEPARATOR, parseProof(e.proof)), null, 'the proof checks as the contract checks it');
      return true;
    });
    assert.deepEqual(yielded, []);
  }
});

test('GET /events on a node: a tip event per stored batch; CORS for browsers', async (t) => {
  const { primary } = await network(t);
  const client = sdk([primary.rpcUrl]);
  await appendSome(client, 1, 1, 'e');
  const res = await fetch(`${primary.rpcUrl}/events?fromHeight=0`);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const reader = res.body!.getReader();
  let stream = '';
  const readUntil = async (pattern: RegExp) => {
    while (!pattern.test(stream)) stream += new TextDecoder().decode((await reader.read()).value);
  };
  await readUntil(/"height":0/);
  await appendSome(client, 1, 1, 'f');
  await readUntil(/"height":1/);
  const info = await client.info();
  assert.match(stream, new RegExp(`event: tip\ndata: \\{"height":1,"headerHash":"${info.headerHash}","nextSeq":2\\}`));
  await reader.cancel();

  assert.equal((await fetch(`${primary.rpcUrl}/events?fromHeight=-1`)).status, 400);
  const preflight = await fetch(primary.rpcUrl, { method: 'OPTIONS' });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-methods')!, /POST/);
});
