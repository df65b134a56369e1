/**
 * Storage faults and the storage-facing edges of the protocol: every admitted submission is answered when the
 * primary stops sealing; a disk that fills (a real tmpfs, real LevelDB) or a process out of file descriptors
 * is reported and recovered from by itself, on a primary and on a replica, without any height being signed
 * twice; sync requests are validated field by field over real libp2p; a submission larger than the pending
 * bound gets a permanent error. Through a fault a replica still answers forwarded appends, the node API answers
 * failed reads with a documented error, and equivocation evidence is held, acted on and written once it can be.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GENESIS_TIP, decodeBatch, peekSignedHeader } from '../src/core/batch.ts';
import type { EquivocationProof } from '../src/core/equivocation.ts';
import { Membership } from '../src/core/membership.ts';
import type { LogRules } from '../src/core/rules.ts';
import { equalBytes } from '../src/core/bytes.ts';
import { headerHash } from '../src/core/header.ts';
import { ErrorCode, SequencerError } from '../src/core/errors.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import type { Logger } from '../src/core/logger.ts';
import { createLogger } from '../src/node/logger.ts';
import { startSequencer } from '../src/cli/start-sequencer.ts';
import { createHost, type Host } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { encodeSyncRequest, SYNC_PROTOCOL } from '../src/wire/p2p-messages.ts';
import { HeaderWatch } from '../src/roles/header-watch.ts';
import { LogReader } from '../src/roles/log-reader.ts';
import { Primary } from '../src/roles/primary.ts';
import { Replica } from '../src/roles/replica.ts';
import { parseReceipt } from '../src/wire/json.ts';
import { batchOnTip, receiptOf } from './helpers/equivocator.ts';
import { LogStore } from '../src/storage/log-store.ts';
import {
  CHAIN_ID, LOG_ID, PRIMARY_KEY, SEPARATOR, baseConfig, client, clientSigner, log, startPrimary, startReplica, tempDir, waitFor,
} from './helpers/network.ts';

const tx = (s: string) => new TextEncoder().encode(s);
const signer = clientSigner();
let nonce = 1n;
const isRoot = process.getuid?.() === 0;

/** Settles with the promise's outcome, or fails the test if it is still pending after `ms`: "no answer at all". */
async function answeredWithin<T>(p: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  try {
    return await Promise.race([Promise.allSettled([p]).then(([r]) => r), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.single(addressFromPrivateKey(PRIMARY_KEY)), isAllowed: () => true };

/** A Primary role on a real LogStore in a temp dir, without a node around it. */
async function barePrimary(t: TestContext): Promise<{ store: LogStore; primary: Primary }> {
  const dir = await tempDir();
  const store = await LogStore.open(dir.path, 'storage-faults test');
  t.after(async () => { await store.close(); await dir.remove(); });
  const watch = await HeaderWatch.open({ store, rules: RULES, chainId: CHAIN_ID, log });
  const primary = new Primary({ store, rules: RULES, log, watch, reader: new LogReader(store, RULES), privateKey: PRIMARY_KEY, publish: async () => {} });
  t.after(() => primary.stop());
  return { store, primary };
}

test('a primary that is stopping (a restart) answers "not ready, retry", never "halted", and keeps every acknowledged batch', async (t) => {
  const { store, primary } = await barePrimary(t);
  // Many at once: one batch is being written when stop() lands, the rest are queued or still looking up nonces.
  const appends = Array.from({ length: 50 }, () => primary.append(signer.sign({ nonce: nonce++, transactions: [tx('around the stop')] })));
  await primary.stop();
  const outcomes = await Promise.allSettled(appends);
  const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => (o.reason as SequencerError).code);
  assert.ok(refused.length > 0, 'some appends arrived while it stopped');
  assert.deepEqual([...new Set(refused)], [ErrorCode.NotReady], 'a stop tells clients to retry, not that the primary halted for good');
  assert.equal(primary.halted, undefined);
  const acked = outcomes.filter((o) => o.status === 'fulfilled').length;
  assert.equal(store.tip.nextSeq, acked, 'exactly the acknowledged submissions are in the log');
  await assert.rejects(primary.append(signer.sign({ nonce: nonce++, transactions: [tx('after')] })), (e: SequencerError) => e.code === ErrorCode.NotReady);
});

test('a submission whose nonce lookup is pending when the primary halts is answered (halted), not left hanging', async (t) => {
  const { store, primary } = await barePrimary(t);

  const first = await primary.append(signer.sign({ nonce: nonce++, transactions: [tx('before the halt')] }));
  assert.equal(first.header.height, 0);
  // Admitted now; its nonce lookup runs on a later turn of the event loop, after the halt has landed.
  const inFlight = primary.append(signer.sign({ nonce: nonce++, transactions: [tx('in flight')] }));
  primary.halt('test: halted while a lookup is pending');
  const outcome = await answeredWithin(inFlight, 5_000, 'the in-flight submission');
  assert.equal(outcome.status, 'rejected');
  assert.equal(((outcome as PromiseRejectedResult).reason as SequencerError).code, ErrorCode.Halted);
  await assert.rejects(primary.append(signer.sign({ nonce: nonce++, transactions: [tx('after')] })), (e: SequencerError) => e.code === ErrorCode.Halted);
  assert.equal(store.tip.height, 0, 'nothing was sealed after the halt');
});

test('a submission larger than the primary\'s pending bound gets a permanent "too large" error, not "overloaded"', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'), { maxPendingTxs: 4 });
  t.after(async () => { await primary.stop(); await dir.remove(); });
  const rpc = client(primary);
  await assert.rejects(
    rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('1'), tx('2'), tx('3'), tx('4'), tx('5')] })),
    (e: RpcError) => e.code === ErrorCode.TooLarge && (e.data as { limit?: number }).limit === 4,
  );
  const ok = await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('1'), tx('2'), tx('3'), tx('4')] }));
  assert.equal(ok.count, 4);
  assert.equal((await rpc.info()).entries, 4, 'only the submission within the bound is in the log');
});

async function syncFrames(host: Host, peer: string, request: Uint8Array): Promise<Uint8Array[] | Error> {
  const frames: Uint8Array[] = [];
  try {
    for await (const f of host.request(peer, SYNC_PROTOCOL, request, { maxFrameBytes: 4_000_000, maxFrames: 1000 })) frames.push(f);
  } catch (e) {
    return frames.length === 0 ? (e as Error) : new Error(`${frames.length} frames, then ${(e as Error).message}`);
  }
  return frames;
}

test('sync: a request with maxBatches = 0 or > 256, or of the wrong length, is refused and reads nothing; a normal one is served', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const peer = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir.path, 'peer')), listenPort: 0, bootstrapPeers: primary.multiaddrs(), maxMessageBytes: 4_000_000, log: () => {} });
  t.after(async () => { await peer.stop(); await primary.stop(); await dir.remove(); });
  const rpc = client(primary);
  for (let i = 0; i < 3; i++) await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx(`batch ${i}`)] }));
  const primaryPeer = (await rpc.info()).peerId as string;
  await waitFor(() => peer.connectedPeers().includes(primaryPeer), 10_000, 'peer connected');

  const request = (fromHeight: number, maxBatches: number) => encodeSyncRequest({ logId: LOG_ID, fromHeight, maxBatches });
  for (const [what, bad] of [
    ['maxBatches = 0', request(0, 0)],
    ['maxBatches = 257', request(0, 257)],
    ['maxBatches = 2^32 - 1', request(0, 0xffff_ffff)],
    ['43 bytes', request(0, 1).subarray(0, 43)],
    ['45 bytes', Uint8Array.of(...request(0, 1), 0)],
    ['fromHeight = 2^64 - 1', Uint8Array.of(...LOG_ID, ...new Array(8).fill(0xff), 0, 0, 0, 1)],
  ] as const) {
    const answer = await syncFrames(peer, primaryPeer, bad);
    assert.ok(answer instanceof Error, `${what}: refused (stream reset), got ${Array.isArray(answer) ? answer.length + ' frames' : ''}`);
  }
  // A well-formed request for another log or beyond the tip: a clean, empty answer.
  assert.deepEqual(await syncFrames(peer, primaryPeer, encodeSyncRequest({ logId: new Uint8Array(32), fromHeight: 0, maxBatches: 256 })), []);
  assert.deepEqual(await syncFrames(peer, primaryPeer, request(3, 256)), []);
  // The node still serves normal requests, bounded by maxBatches.
  const all = await syncFrames(peer, primaryPeer, request(0, 256));
  assert.ok(Array.isArray(all) && all.length === 3, 'a normal request gets the three batches');
  const one = await syncFrames(peer, primaryPeer, request(1, 1));
  assert.ok(Array.isArray(one) && one.length === 1);
  assert.deepEqual(one[0], all[1]);
});

test('LogStore.batchesFrom yields nothing for a count below 1 (no range read wraps around)', async (t) => {
  const { store, primary } = await barePrimary(t);
  for (let i = 0; i < 2; i++) await primary.append(signer.sign({ nonce: nonce++, transactions: [tx(`b${i}`)] }));
  const collect = async (from: number, count: number) => {
    const heights: number[] = [];
    for await (const b of store.batchesFrom(from, count, 1 << 30)) heights.push(b.height);
    return heights;
  };
  assert.deepEqual(await collect(0, 0), []);
  assert.deepEqual(await collect(1, -1), []);
  assert.deepEqual(await collect(0, 1.5), []);
  assert.deepEqual(await collect(0, 2), [0, 1]);
});

test('LogStore.appendAll refuses a batch on another header of the tip\'s height (a fork), and stores nothing', async (t) => {
  const dir = await tempDir();
  const store = await LogStore.open(dir.path, 'store-order test');
  t.after(async () => { await store.close(); await dir.remove(); });
  const tipOf = (bytes: Uint8Array) => {
    const h = decodeBatch(bytes).header;
    return { height: h.height, headerHash: headerHash(SEPARATOR, h), nextSeq: h.firstSeq + h.count, headHash: h.headHash, timestamp: h.timestamp };
  };
  const b0 = batchOnTip(GENESIS_TIP, 'stored 0', 1_700_000_000_000);
  await store.append({ bytes: b0, prevTip: GENESIS_TIP, tip: tipOf(b0), nonceKeys: [] });
  const fork0 = tipOf(batchOnTip(GENESIS_TIP, 'another 0', 1_700_000_000_001));
  const onFork = batchOnTip(fork0, 'on the other 0', 1_700_000_000_002);
  await assert.rejects(store.appendAll([{ bytes: onFork, prevTip: fork0, tip: tipOf(onFork), nonceKeys: [] }]), (e: Error) => e.name === 'StoreOrderError');
  assert.equal(store.tip.height, 0);
  assert.ok(equalBytes(store.tip.headerHash, tipOf(b0).headerHash));
  assert.equal(await store.getBatch(1), undefined, 'nothing was written');
});

// ---- real disk-full faults: a small tmpfs as the node's data dir (needs root to mount) ----

/** Mounts a fresh tmpfs of `mib` MiB at a new directory; returns it and a function that unmounts and removes it. */
async function smallDisk(mib: number): Promise<{ path: string; remove: () => Promise<void> }> {
  const dir = await tempDir('seq-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir.path]);
  return {
    path: dir.path,
    remove: async () => {
      execFileSync('umount', ['-l', dir.path]);
      await dir.remove();
    },
  };
}

/** Fills the file system holding `dir` to the last byte with a file; returns the function that deletes it. */
function fillDisk(dir: string): () => Promise<void> {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const chunk = Buffer.alloc(size, 0xaa);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => rm(path);
}

/** A logger that keeps warn and error lines, to check what an operator would see. */
function capturingLogger(): { log: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { lines, log: createLogger('warn', {}, (line) => lines.push(JSON.parse(line) as { level: string; msg: string })) };
}

/** A transaction big enough that writing its batch needs fresh pages of the disk. */
const bigTx = (label: string) => {
  const b = new Uint8Array(32 * 1024).fill(0x61);
  b.set(tx(label));
  return b;
};

test('primary on a full disk: appends get "storage unavailable", info reports the fault; it resumes by itself on the stored tip', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 60_000 }, async (t) => {
  const disk = await smallDisk(4);
  const dir = await tempDir();
  const captured = capturingLogger();
  const primary = await startSequencer(baseConfig(disk.path, { mode: 'primary', privateKey: PRIMARY_KEY, unsafeSkipRecovery: true }), captured.log);
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await replica.stop(); await primary.stop(); await disk.remove(); await dir.remove(); });
  const rpc = client(primary);

  for (let i = 0; i < 3; i++) await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx(`before ${i}`)] }));
  const before = await rpc.info();
  await waitFor(async () => (await client(replica).info()).headerHash === before.headerHash, 15_000, 'replica in step');

  const freeDisk = fillDisk(disk.path);
  // Several submissions at once: the batch being written fails, the others are refused; every one is answered.
  const failed = Array.from({ length: 6 }, (_, i) => signer.sign({ nonce: nonce++, transactions: [bigTx(`during ${i}`)] }));
  const outcomes = await Promise.all(failed.map((s, i) => answeredWithin(rpc.append(s), 10_000, `submission ${i} on a full disk`)));
  for (const o of outcomes) {
    assert.equal(o.status, 'rejected');
    assert.equal(((o as PromiseRejectedResult).reason as RpcError).code, ErrorCode.StorageUnavailable);
  }
  const faulty = await rpc.info();
  assert.equal(typeof faulty.storageFault, 'string', 'sequencer_info reports the storage fault');
  assert.match(faulty.storageFault as string, /space/i);
  assert.equal(faulty.halted, null, 'a storage fault is not a permanent halt');
  assert.ok(captured.lines.some((l) => l.level === 'error' && /storage fault/.test(l.msg)), 'an error line is logged');
  await assert.rejects(rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('refused')] })), (e: RpcError) => e.code === ErrorCode.StorageUnavailable);
  assert.equal((await rpc.read(0, 10)).length, 3, 'the log is still served while the disk is full');

  await freeDisk();
  await waitFor(async () => (await rpc.info()).storageFault === null, 15_000, 'the primary to recover by itself');
  assert.ok(captured.lines.some((l) => l.level === 'warn' && /storage writable again/.test(l.msg)), 'recovery is logged');
  const after = await rpc.info();
  assert.ok(after.height >= before.height, 'the tip read back from the disk');
  // The next batch extends the tip actually on disk.
  const next = await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('after recovery')] }));
  assert.equal(next.header.height, after.height + 1);
  assert.equal(next.header.prevHeaderHash, after.headerHash);
  // Each refused submission, sent again unchanged, is now sequenced (or found, if its batch reached the disk after all).
  for (const s of failed) assert.equal((await rpc.append(s)).count, 1);

  // A replica that verifies every batch and every header follows without seeing two headers for one height.
  const final = await rpc.info();
  await waitFor(async () => (await client(replica).info()).headerHash === final.headerHash, 15_000, 'replica to catch up');
  const r = await client(replica).info();
  assert.equal(r.equivocations, 0);
  assert.equal(final.equivocations, 0);
  assert.equal(r.entries, final.entries);
  assert.deepEqual(await client(replica).read(0, 100), await rpc.read(0, 100));
});

/** A primary on an ordinary disk and a replica on a 4 MiB tmpfs, in step after one batch. */
async function replicaOnSmallDisk(t: TestContext) {
  const disk = await smallDisk(4);
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const captured = capturingLogger();
  const replica = await startSequencer(baseConfig(disk.path, { peers: primary.multiaddrs() }), captured.log);
  t.after(async () => { await replica.stop(); await primary.stop(); await disk.remove(); await dir.remove(); });
  const rpc = client(primary);
  await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('before')] }));
  await waitFor(async () => (await client(replica).info()).height === 0, 15_000, 'replica in step');
  return { disk, primary, replica, captured, rpc };
}

test('replica on a full disk reports the fault, then resumes by itself and catches up once space returns', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 60_000 }, async (t) => {
  const { disk, replica, captured, rpc } = await replicaOnSmallDisk(t);

  const freeDisk = fillDisk(disk.path);
  for (let i = 0; i < 3; i++) await rpc.append(signer.sign({ nonce: nonce++, transactions: [bigTx(`while full ${i}`)] }));
  await waitFor(async () => typeof (await client(replica).info()).storageFault === 'string', 15_000, 'the replica to report its fault');
  const faulty = await client(replica).info();
  assert.match(faulty.storageFault as string, /space/i);
  assert.equal(faulty.height, 0, 'nothing stored while the disk is full');
  assert.equal((await client(replica).read(0, 10)).length, 1, 'the log is still served while the disk is full');
  assert.ok(captured.lines.some((l) => l.level === 'error' && /storage fault/.test(l.msg)), 'an error line is logged');

  await freeDisk();
  const target = await rpc.info();
  await waitFor(async () => (await client(replica).info()).headerHash === target.headerHash, 20_000, 'the replica to resume and catch up');
  const r = await client(replica).info();
  assert.equal(r.storageFault, null);
  assert.equal(r.equivocations, 0);
  assert.deepEqual(await client(replica).read(0, 10), await rpc.read(0, 10));
  // And it keeps following live batches.
  await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('after')] }));
  const last = await rpc.info();
  await waitFor(async () => (await client(replica).info()).headerHash === last.headerHash, 15_000, 'the replica to follow on');
});

/** Whether `prlimit` can change this process's limits (util-linux; root not needed to lower a soft limit). */
function havePrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('primary out of file descriptors: the store fault is reported and refused, and sequencing resumes once descriptors are free', { skip: !havePrlimit() && 'needs prlimit', timeout: 60_000 }, async (t) => {
  const pid = String(process.pid);
  const [soft, hard] = execFileSync('prlimit', ['--pid', pid, '--nofile', '--output=SOFT,HARD', '--noheadings']).toString().trim().split(/\s+/);
  // A small soft limit, so that using every descriptor up is quick; restored at the end.
  execFileSync('prlimit', ['--pid', pid, '--nofile=512:' + hard]);
  const hog: number[] = [];
  const release = () => { while (hog.length > 0) closeSync(hog.pop()!); };
  t.after(() => {
    release();
    execFileSync('prlimit', ['--pid', pid, `--nofile=${soft}:${hard}`]);
  });
  const { store, primary } = await barePrimary(t); // registered after: its clean-up runs with descriptors free
  const bulky = (label: string) => Array.from({ length: 15 }, (_, i) => { const b = new Uint8Array(64 * 1024).fill(i); b.set(tx(label)); return b; });
  await primary.append(signer.sign({ nonce: nonce++, transactions: [tx('before')] }));

  // Something else (idle connections, say) holds every descriptor the process may open.
  try {
    for (;;) hog.push(openSync('/dev/null', 'r'));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'EMFILE');
  }
  // LevelDB needs a new file once its memtable (32 MiB, log-store.ts) is full: keep writing ~1 MiB batches until that fails.
  let refused: SequencerError | undefined;
  for (let i = 0; i < 48 && !refused; i++) {
    const outcome = await answeredWithin(primary.append(signer.sign({ nonce: nonce++, transactions: bulky(`bulk ${i}`) })), 10_000, `bulk ${i}`);
    if (outcome.status === 'rejected') refused = outcome.reason as SequencerError;
  }
  assert.ok(refused, 'a write failed once no descriptor was left');
  assert.equal(refused.code, ErrorCode.StorageUnavailable, refused.message);
  assert.match(store.fault ?? '', /too many open files/i);
  await assert.rejects(primary.append(signer.sign({ nonce: nonce++, transactions: [tx('refused')] })), (e: SequencerError) => e.code === ErrorCode.StorageUnavailable);
  assert.equal(primary.halted, undefined, 'not a permanent halt');

  release();
  await waitFor(() => store.fault === undefined, 15_000, 'the store to recover by itself');
  const tip = store.tip;
  const next = await primary.append(signer.sign({ nonce: nonce++, transactions: [tx('after')] }));
  assert.equal(next.header.height, tip.height + 1, 'the next batch extends the tip read back from the disk');
  assert.ok(equalBytes(next.header.prevHeaderHash, tip.headerHash));
  // The stored log is one unbroken chain of headers, each height once.
  let previous: Uint8Array | undefined;
  let height = 0;
  for await (const b of store.batchesFrom(0, 256, Number.MAX_SAFE_INTEGER)) {
    const { header } = peekSignedHeader(b.bytes);
    assert.equal(header.height, height++);
    if (previous) assert.ok(equalBytes(header.prevHeaderHash, previous), `height ${header.height} links to the one before`);
    previous = headerHash(SEPARATOR, header);
  }
  assert.equal(height, store.tip.height + 1);
});

test('a store closed while it recovers from a fault closes promptly and stays consistent on disk', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 30_000 }, async (t) => {
  const disk = await smallDisk(4);
  t.after(() => disk.remove());
  const store = await LogStore.open(join(disk.path, 'db'), 'storage-faults test');
  await store.putRecord(tx('kept'), tx('value'));
  const freeDisk = fillDisk(disk.path);
  await assert.rejects(store.putRecord(tx('lost'), new Uint8Array(32 * 1024)), (e: Error) => e.name === 'StoreFaultError' && /space/i.test(e.message));
  assert.match(store.fault ?? '', /space/i);
  await assert.rejects(store.putRecord(tx('refused'), tx('x')), (e: Error) => e.name === 'StoreFaultError');
  // Let a few recovery attempts fail first (backoff grows past a second), then close.
  await waitFor(() => !/^IO error/.test(store.fault ?? ''), 5_000, 'a failed recovery attempt');
  await new Promise((r) => setTimeout(r, 1_000));
  const started = Date.now();
  await store.close();
  assert.ok(Date.now() - started < 500, `close took ${Date.now() - started} ms`);
  await freeDisk();
  const reopened = await LogStore.open(join(disk.path, 'db'), 'storage-faults test');
  const records: string[] = [];
  for await (const [name] of reopened.records()) records.push(new TextDecoder().decode(name));
  await reopened.close();
  assert.deepEqual(records, ['kept']);
});

test('a replica on a full disk still answers a forwarded append the primary sequenced with its checked receipt, and logs why it could not remember it', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 60_000 }, async (t) => {
  const { disk, replica, captured, rpc } = await replicaOnSmallDisk(t);

  const freeDisk = fillDisk(disk.path);
  await rpc.append(signer.sign({ nonce: nonce++, transactions: [bigTx('fills the replica')] }));
  await waitFor(async () => typeof (await client(replica).info()).storageFault === 'string', 15_000, 'the replica in a storage fault');
  // Forwarded through the replica, sequenced by the primary: the client gets the receipt, not an internal error.
  const receipt = await client(replica).append(signer.sign({ nonce: nonce++, transactions: [tx('via the full replica')] }));
  assert.equal(receipt.count, 1);
  assert.equal(receipt.headerHash, (await rpc.info()).headerHash, 'the primary\'s receipt');
  assert.ok(captured.lines.some((l) => l.level === 'warn' && /storage fault/.test(l.msg) && /record kept in memory|without being judged/.test(l.msg)), 'the lost write is logged');
  // A receipt for a height it does not hold yet is still checked (and its header kept): pending, not an error.
  const ahead = receiptOf(batchOnTip({ ...GENESIS_TIP, height: 40, nextSeq: 1000 }, 'far ahead'), new Uint8Array(32));
  assert.equal((await client(replica).call<{ status: string }>('sequencer_verifyReceipt', [ahead])).status, 'pending');
  // Its header is still judged once the replica stores that height.
  await freeDisk();
  await waitFor(async () => (await client(replica).info()).headerHash === receipt.headerHash, 20_000, 'the replica to catch up');
  assert.equal((await client(replica).info()).equivocations, 0);
});

test('the node API answers a failed store read with -32012 storage unavailable, not an internal error', async (t) => {
  const dir = await tempDir();
  const node = await startPrimary(join(dir.path, 'p'));
  t.after(() => dir.remove());
  const receipt = await client(node).append(signer.sign({ nonce: nonce++, transactions: [tx('stored')] }));
  const parsedReceipt = parseReceipt(receipt);
  // The store is closed under the node (as while it reopens to recover from a fault): every read fails.
  await node.stop();
  for (const [what, call] of [
    ['entries', () => node.entries(0, 1)],
    ['batch', () => node.batch(0)],
    ['proof', () => node.proof(0)],
    ['verifyReceipt', () => node.verifyReceipt(parsedReceipt)],
  ] as const) {
    await assert.rejects(call(), (e: SequencerError) => e.code === ErrorCode.StorageUnavailable && /retry later/.test(e.message), what);
  }
});

/** Proof records in the store (keys 'P' + proof id). */
async function storedProofCount(store: LogStore): Promise<number> {
  let n = 0;
  for await (const [name] of store.records()) if (name[0] === 0x50) n++;
  return n;
}

test('equivocation evidence outlives a storage fault: proofs found meanwhile are held, acted on and published at once, and written once the store recovers', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 60_000 }, async (t) => {
  const disk = await smallDisk(4);
  t.after(() => disk.remove());
  const path = join(disk.path, 'db');
  let store = await LogStore.open(path, 'storage-faults test');
  const watch = await HeaderWatch.open({ store, rules: RULES, chainId: CHAIN_ID, log });
  const noPeers = { peers: () => [], fetch: async function* () {} };
  const replica = new Replica({ store, rules: RULES, source: noPeers, watch, log });
  t.after(async () => { await replica.stop(); watch.close(); await store.close(); });
  const published: EquivocationProof[] = [];
  watch.onEquivocation((p) => published.push(p));

  const b0 = batchOnTip(GENESIS_TIP, 'genuine 0', 1_700_000_000_000);
  assert.deepEqual(await replica.handle(b0, 'gossip'), { verdict: 'accept', stored: true });
  const tip0 = store.tip;
  // A header for height 1 is remembered; then height 1 is written with another header, and the disk fills
  // before the watch is told (the write race of a primary's own batch, or a replica's).
  const remembered = decodeBatch(batchOnTip(tip0, 'remembered 1', 1_700_000_000_001));
  await watch.remember(remembered);
  const b1 = batchOnTip(tip0, 'stored 1', 1_700_000_000_002);
  const h1 = decodeBatch(b1).header;
  await store.append({ bytes: b1, prevTip: tip0, nonceKeys: [], tip: { height: 1, headerHash: headerHash(SEPARATOR, h1), nextSeq: h1.firstSeq + h1.count, headHash: h1.headHash, timestamp: h1.timestamp } });
  const freeDisk = fillDisk(disk.path);
  await assert.rejects(store.putRecord(tx('fills'), new Uint8Array(32 * 1024)), (e: Error) => e.name === 'StoreFaultError');
  assert.ok(store.fault, 'the store is in a storage fault');

  // Gossip brings another header for the stored height 0: judged although nothing can be stored now.
  const other0 = batchOnTip(GENESIS_TIP, 'conflicting 0', 1_700_000_000_003);
  assert.deepEqual(await replica.handle(other0, 'gossip during the fault'), { verdict: 'accept', stored: false }, 'evidence is judged and spread');
  assert.equal(watch.proofs.length, 1, 'the proof is held although its write failed');
  assert.equal(watch.equivocated, true, 'and acted on: nothing more is followed');
  // The remembered header is judged before its record is deleted, whose write fails too.
  await watch.stored(decodeBatch(b1), 'own batch');
  assert.equal(watch.proofs.length, 2);
  assert.deepEqual(published.map((p) => p.kind), ['conflict', 'conflict'], 'both published at once');

  await freeDisk();
  await waitFor(async () => store.fault === undefined && (await storedProofCount(store)) === 2, 15_000, 'the proofs written once the store recovers');
  await replica.stop();
  watch.close();
  await store.close();
  store = await LogStore.open(path, 'storage-faults test');
  const reopened = await HeaderWatch.open({ store, rules: RULES, chainId: CHAIN_ID, log });
  assert.equal(reopened.proofs.length, 2, 'both proofs survive a restart');
  reopened.close();
});
