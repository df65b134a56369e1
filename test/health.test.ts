/**
 * GET /livez and GET /readyz (docs/metrics.md §Health) on real nodes: ready when healthy; not ready, with the
 * reason, for a primary recovering at start-up, a node that caught its primary equivocating (halted), and a node
 * on a full disk.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { GENESIS_TIP } from '../src/core/batch.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { READY_MAX_LAG, type SequencerNode } from '../src/node/sequencer-node.ts';
import { batchOnTip, receiptOf } from './helpers/equivocator.ts';
import { client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

interface ReadyBody { ready: boolean; reasons: { code: string; message: string }[]; height: number; highestSeenHeight: number }

async function probe(node: SequencerNode, path: '/livez' | '/readyz'): Promise<{ status: number; body: ReadyBody }> {
  const res = await fetch(`${node.rpcUrl}${path}`);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: (await res.json()) as ReadyBody };
}

const signer = clientSigner();
const tx = (s: string) => new TextEncoder().encode(s);
const isRoot = process.getuid?.() === 0;

/** A primary and a replica that holds the primary's first batch; both stopped after the test. */
async function replicatedPair(t: TestContext): Promise<{ primary: SequencerNode; replica: SequencerNode }> {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await replica.stop(); await primary.stop(); await dir.remove(); });
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('one')] }));
  await waitFor(async () => (await client(replica).info()).height === 0, 15_000, 'replicated');
  return { primary, replica };
}

test('a healthy primary and replica are live and ready', async (t) => {
  const { primary, replica } = await replicatedPair(t);
  for (const node of [primary, replica]) {
    const live = await probe(node, '/livez');
    assert.equal(live.status, 200);
    await waitFor(async () => (await probe(node, '/readyz')).status === 200, 10_000, 'ready');
    const ready = await probe(node, '/readyz');
    assert.deepEqual(ready.body.reasons, []);
    assert.equal(ready.body.height, 0);
  }
});

test('a primary waiting for its peers at start-up is live but not ready (recovering, no peers)', async (t) => {
  const dir = await tempDir();
  // A configured peer that never comes: the primary keeps waiting for its status.
  const absent = peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir.path, 'absent'))).toString();
  const primary = await startPrimary(join(dir.path, 'p'), { peers: [`/ip4/127.0.0.1/tcp/9/p2p/${absent}`] });
  t.after(async () => { await primary.stop(); await dir.remove(); });
  assert.equal((await probe(primary, '/livez')).status, 200);
  const { status, body } = await probe(primary, '/readyz');
  assert.equal(status, 503);
  assert.equal(body.ready, false);
  assert.deepEqual(body.reasons.map((r) => r.code).sort(), ['no_peers', 'recovering']);
  assert.match(body.reasons.find((r) => r.code === 'recovering')!.message, /waiting for the status/);
});

test('a replica that caught its primary equivocating is halted: not ready, and sequencer_halted says why', async (t) => {
  const { replica } = await replicatedPair(t);
  await waitFor(async () => (await probe(replica, '/readyz')).status === 200, 10_000, 'ready');

  // A second header for height 0 signed with the primary's key, shown to the replica as a receipt.
  const conflicting = receiptOf(batchOnTip(GENESIS_TIP, 'conflicting height 0'), new Uint8Array(32));
  const verdict = await client(replica).call<{ status: string }>('sequencer_verifyReceipt', [conflicting]);
  assert.equal(verdict.status, 'conflict');
  const { status, body } = await probe(replica, '/readyz');
  assert.equal(status, 503);
  assert.deepEqual(body.reasons.map((r) => r.code), ['halted']);
  const metrics = await (await fetch(`${replica.rpcUrl}/metrics`)).text();
  assert.match(metrics, /^sequencer_halted\{reason="equivocation"\} 1$/m);
  assert.match(metrics, /^sequencer_halted\{reason="bond"\} 0$/m);
  assert.match(metrics, /^sequencer_equivocations 1$/m);
  assert.match(metrics, /^sequencer_ready 0$/m);
});

test(`a replica more than READY_MAX_LAG (${READY_MAX_LAG}) heights behind the highest header it has met is not ready`, async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });
  const receipts = [];
  for (let i = 0; i <= READY_MAX_LAG + 2; i++) receipts.push(await client(primary).append(signer.sign({ nonce: BigInt(i + 1), transactions: [tx(`h${i}`)] })));
  // A replica with no peers holds nothing; receipts show it headers the primary signed, which it keeps.
  const replica = await startReplica(join(dir.path, 'r'), []);
  t.after(() => replica.stop());
  assert.equal((await probe(replica, '/readyz')).status, 200, 'nothing seen, nothing to be behind');
  assert.equal((await client(replica).verifyReceipt(receipts[READY_MAX_LAG - 1])).status, 'pending');
  assert.equal((await probe(replica, '/readyz')).status, 200, `${READY_MAX_LAG} heights behind is within the bound`);
  assert.equal((await client(replica).verifyReceipt(receipts[READY_MAX_LAG])).status, 'pending');
  const { status, body } = await probe(replica, '/readyz');
  assert.equal(status, 503);
  assert.deepEqual(body.reasons.map((r) => r.code), ['behind']);
  assert.equal(body.highestSeenHeight, READY_MAX_LAG);
  assert.equal(body.height, -1);
});

test('a primary on a full disk is not ready (storage fault) until space returns', { skip: !isRoot && 'needs root to mount a tmpfs', timeout: 60_000 }, async (t) => {
  const dir = await tempDir();
  const disk = join(dir.path, 'disk');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
  const primary = await startPrimary(disk);
  t.after(async () => { await primary.stop(); execFileSync('umount', ['-l', disk]); await dir.remove(); });
  const rpc = client(primary);
  let nonce = 1n;
  await rpc.append(signer.sign({ nonce: nonce++, transactions: [tx('before')] }));
  assert.equal((await probe(primary, '/readyz')).status, 200);

  // Fill the disk to the last byte, then make the primary write.
  const filler = join(disk, 'filler');
  const fd = openSync(filler, 'w');
  for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
    const chunk = Buffer.alloc(size, 0xaa);
    try { for (;;) writeSync(fd, chunk); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e; }
  }
  closeSync(fd);
  const big = new Uint8Array(32 * 1024).fill(0x61);
  await assert.rejects(rpc.append(signer.sign({ nonce: nonce++, transactions: [big] })));
  const { status, body } = await probe(primary, '/readyz');
  assert.equal(status, 503);
  assert.deepEqual(body.reasons.map((r) => r.code), ['storage_fault']);
  assert.match(await (await fetch(`${primary.rpcUrl}/metrics`)).text(), /^sequencer_storage_fault 1$/m);

  await rm(filler);
  await waitFor(async () => (await probe(primary, '/readyz')).status === 200, 20_000, 'ready again once the store recovered');
});
