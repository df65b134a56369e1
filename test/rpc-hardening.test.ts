/**
 * The JSON-RPC server against hostile clients (issue 6 §1): malformed batch arrays, response amplification,
 * connection floods, slow clients and oversized bodies. Each attack is followed by a normal request that must
 * be answered. Raw `node:net` sockets are used where an HTTP client would hide the behaviour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TypedDataEncoder, verifyTypedData } from 'ethers';
import { ErrorCode } from '../src/core/errors.ts';
import { toHex } from '../src/core/bytes.ts';
import { MAX_TX_BYTES } from '../src/core/limits.ts';
import { submissionToJson } from '../src/wire/json.ts';
import { createMethods } from '../src/rpc/methods.ts';
import { nodeApiOf } from './helpers/node-api.ts';
import { encodeSlashCalldata } from '../src/chain/bond-contract.ts';
import { encodeVoteSlashCalldata } from '../src/chain/vote-slashing.ts';
import { DEFAULT_RPC_LIMITS, startRpcServer, type RpcLimits, type RpcServer } from '../src/rpc/server.ts';
import { RpcClient } from '../src/client/rpc-client.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { cliEnv, freePorts, startNode } from './helpers/cli.ts';
import { CHAIN_ID, LOG_ID, PRIMARY_KEY, client, clientSigner, log, startPrimary, tempDir, waitFor } from './helpers/network.ts';

let node: SequencerNode;
let dir: Awaited<ReturnType<typeof tempDir>>;
const signer = clientSigner();
let nonce = 1n;
const utf8 = (s: string) => new TextEncoder().encode(s);
/** Heights of batches full of 64 KiB entries, and the sequence number of their first entry. */
let bigHeights: number[] = [];
let bigFirstSeq = 0;
let bigCount = 0;
/** Receipts of the big appends (JSON form), the first of the fullest batch first. */
let bigReceipts: unknown[] = [];

before(async () => {
  dir = await tempDir();
  node = await startPrimary(dir.path);
  // ~600 entries of 64 KiB (about 40 MB of log): one sequencer_read of 1000 would answer ~80 MB of JSON.
  const c = client(node);
  const heights = new Set<number>();
  const receipts = await Promise.all(Array.from({ length: 40 }, () => {
    const txs = Array.from({ length: 15 }, (_, i) => new Uint8Array(MAX_TX_BYTES).fill(i + 1));
    return c.append(signer.sign({ nonce: nonce++, transactions: txs }));
  }));
  for (const r of receipts) heights.add(r.height);
  bigHeights = [...heights].sort((a, b) => a - b);
  bigFirstSeq = Math.min(...receipts.map((r) => r.firstSeq));
  bigCount = receipts.reduce((n, r) => n + r.count, 0);
  bigReceipts = [...receipts].sort((a, b) => b.header.count - a.header.count);
});
after(async () => {
  await node.stop();
  await dir.remove();
});

/** A server over the same node with other limits (small timeouts, small budgets). */
async function serverWith(limits: Partial<RpcLimits>): Promise<RpcServer> {
  return startRpcServer({ methods: createMethods(node, { slashCalldata: encodeSlashCalldata, voteSlashCalldata: encodeVoteSlashCalldata }), host: '127.0.0.1', port: 0, limits, log });
}

async function post(url: string, body: string, timeoutMs = 10_000): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

const call = (id: number | string | null, method: string, params: unknown = []) => ({ jsonrpc: '2.0', id, method, params });

async function stillServes(url = node.rpcUrl): Promise<void> {
  const res = await post(url, JSON.stringify(call(1, 'sequencer_info')));
  assert.equal(res.json.result.mode, 'primary');
}

test('every element of a batch array that is not a request object gets its own -32600; nothing hangs', async () => {
  const invalid = (r: any) => r.error?.code === -32600 && r.id === null;
  for (const [body, n] of [['[[]]', 1], ['[[],[]]', 2], ['[[1]]', 1], ['[1,"x",null]', 3], ['[{}]', 1], ['[true,{"a":1}]', 2]] as const) {
    const res = await post(node.rpcUrl, body, 5_000);
    assert.equal(res.status, 200, body);
    assert.ok(Array.isArray(res.json), `${body}: an array of answers`);
    assert.equal(res.json.length, n, `${body}: one answer per element`);
    assert.ok(res.json.every(invalid), `${body}: ${res.text.slice(0, 300)}`);
  }
  const mixed = await post(node.rpcUrl, JSON.stringify([call(7, 'sequencer_info'), [], call(8, 'sequencer_nope')]), 5_000);
  assert.equal(mixed.json.length, 3);
  assert.equal(mixed.json[0].id, 7);
  assert.equal(mixed.json[0].result.mode, 'primary');
  assert.ok(invalid(mixed.json[1]));
  assert.deepEqual([mixed.json[2].id, mixed.json[2].error.code], [8, -32601]);
  await stillServes();
});

test('single requests are validated fully: jsonrpc, method, params, id; notifications get no answer', async () => {
  const code = async (body: unknown) => (await post(node.rpcUrl, JSON.stringify(body), 5_000)).json;
  // An invalid request echoes its id when the id itself is valid.
  assert.deepEqual(await code({ jsonrpc: '1.0', id: 1, method: 'sequencer_info' }).then((r) => [r.id, r.error.code]), [1, -32600]);
  assert.deepEqual(await code({ id: 2, method: 'sequencer_info' }).then((r) => [r.id, r.error.code]), [2, -32600]);
  assert.deepEqual(await code({ jsonrpc: '2.0', id: 3, method: 5 }).then((r) => [r.id, r.error.code]), [3, -32600]);
  assert.deepEqual(await code({ jsonrpc: '2.0', id: 4, method: 'sequencer_info', params: 'x' }).then((r) => [r.id, r.error.code]), [4, -32600]);
  assert.deepEqual(await code({ jsonrpc: '2.0', id: 5, method: 'sequencer_info', params: null }).then((r) => [r.id, r.error.code]), [5, -32600]);
  assert.deepEqual(await code({ jsonrpc: '2.0', id: { a: 1 }, method: 'sequencer_info' }).then((r) => [r.id, r.error.code]), [null, -32600]);
  assert.deepEqual(await code({ jsonrpc: '2.0', id: [1], method: 'sequencer_info' }).then((r) => [r.id, r.error.code]), [null, -32600]);
  // Inherited object members are not methods.
  for (const method of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
    assert.equal((await code(call(6, method))).error.code, -32601, method);
  }
  // Ids of every valid kind come back unchanged; params may be absent, an array or an object.
  assert.equal((await code(call('abc', 'sequencer_info'))).id, 'abc');
  assert.equal((await code(call(null, 'sequencer_info'))).result.mode, 'primary');
  assert.equal((await code({ jsonrpc: '2.0', id: 9, method: 'sequencer_info' })).result.mode, 'primary');
  assert.equal((await code(call(10, 'sequencer_getBatch', { height: bigHeights[0] }))).result.header.height, bigHeights[0]);
  // Notifications (no id member): run, never answered; a batch of notifications only gets an empty HTTP answer.
  const note = await post(node.rpcUrl, JSON.stringify({ jsonrpc: '2.0', method: 'sequencer_info' }));
  assert.deepEqual([note.status, note.text], [204, '']);
  const notes = await post(node.rpcUrl, JSON.stringify([{ jsonrpc: '2.0', method: 'sequencer_info' }, { jsonrpc: '2.0', method: 'nope' }]));
  assert.deepEqual([notes.status, notes.text], [204, '']);
  const some = await post(node.rpcUrl, JSON.stringify([{ jsonrpc: '2.0', method: 'sequencer_info' }, call(11, 'sequencer_info')]));
  assert.deepEqual(some.json.map((r: any) => r.id), [11]);
});

test('a batch array over the length limit answers one documented -32600 naming the limit', async () => {
  const body = JSON.stringify(Array.from({ length: DEFAULT_RPC_LIMITS.maxBatchLength + 1 }, (_, i) => call(i, 'sequencer_info')));
  const res = await post(node.rpcUrl, body);
  assert.equal(res.json.error.code, -32600);
  assert.deepEqual(res.json.error.data, { limit: DEFAULT_RPC_LIMITS.maxBatchLength });
  assert.equal(res.json.id, null);
  await stillServes();
});

test('HTTP: GET /health, other GETs, other verbs, malformed JSON', async () => {
  const get = (path: string, method = 'GET') => fetch(node.rpcUrl + path, { method, signal: AbortSignal.timeout(5_000) });
  const health = await get('/health');
  assert.deepEqual([health.status, await health.json()], [200, { ok: true }]);
  assert.equal((await get('/health?x=1')).status, 200);
  const other = await get('/nope');
  assert.equal(other.status, 404);
  assert.equal(((await other.json()) as any).error.code, -32600);
  const root = await get('/');
  assert.equal(root.status, 405);
  assert.equal(root.headers.get('allow'), 'POST');
  await root.body?.cancel();
  const put = await get('/', 'PUT');
  assert.equal(put.status, 405);
  await put.body?.cancel();
  for (const bad of ['{"jsonrpc":"2.0", nope', '', '[', '\u0000']) {
    const res = await post(node.rpcUrl, bad, 5_000);
    assert.deepEqual([res.status, res.json.id, res.json.error.code], [200, null, -32700], JSON.stringify(bad));
  }
  await stillServes();
});

test('response amplification: hundreds of sequencer_read of 1000 big entries answer within the response budget', async () => {
  const reads = Array.from({ length: 300 }, (_, i) => call(i, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 1000 }]));
  const res = await post(node.rpcUrl, JSON.stringify(reads), 60_000);
  assert.equal(res.status, 200);
  assert.ok(res.text.length <= DEFAULT_RPC_LIMITS.maxResponseBytes + 300 * 400, `response of ${res.text.length} bytes`);
  const [first, ...rest] = res.json as any[];
  // The first read gets what fits, in order from fromSeq (fewer than asked: the log holds ~80 MB of it).
  assert.ok(first.result.length > 0 && first.result.length < bigCount, `first read: ${first.result?.length} entries`);
  assert.deepEqual(first.result.map((e: any) => e.seq), first.result.map((_: unknown, i: number) => bigFirstSeq + i));
  // Calls past the budget get the documented error, each with its own id.
  assert.ok(rest.every((r, i) => r.id === i + 1 && r.error?.code === ErrorCode.BudgetExceeded), JSON.stringify(rest[0]));
  assert.deepEqual(rest[0].error.data, { limit: DEFAULT_RPC_LIMITS.maxResponseBytes });
  await stillServes();
});

test('response amplification: hundreds of sequencer_getBatch of 3 MB batches answer within the response budget', async () => {
  const gets = Array.from({ length: 300 }, (_, i) => call(i, 'sequencer_getBatch', [bigHeights[i % bigHeights.length]]));
  const res = await post(node.rpcUrl, JSON.stringify(gets), 60_000);
  assert.ok(res.text.length <= DEFAULT_RPC_LIMITS.maxResponseBytes + 300 * 400, `response of ${res.text.length} bytes`);
  const answered = (res.json as any[]).filter((r) => r.result);
  assert.ok(answered.length >= 1, 'the calls within the budget are answered');
  // In array order: the answered ones first, then only budget errors.
  assert.ok((res.json as any[]).slice(0, answered.length).every((r, i) => r.id === i && r.result.header.height === bigHeights[i % bigHeights.length]));
  assert.ok((res.json as any[]).slice(answered.length).every((r) => r.error?.code === ErrorCode.BudgetExceeded));
  await stillServes();
});

test('the entry budget is shared by a batch array in order; the in-flight pool is released after each answer', async () => {
  const server = await serverWith({ maxResponseEntries: 25, maxResponseBytesInFlight: 1024 * 1024 });
  try {
    const c = client(node);
    const r = await c.append(signer.sign({ nonce: nonce++, transactions: Array.from({ length: 10 }, (_, i) => utf8(`small ${i}`)) }));
    const reads = Array.from({ length: 4 }, (_, i) => call(i, 'sequencer_read', [{ fromSeq: r.firstSeq, limit: 10 }]));
    const out = (await post(server.url, JSON.stringify(reads))).json as any[];
    assert.deepEqual(out.map((x) => x.result?.length ?? x.error.code), [10, 10, 5, ErrorCode.BudgetExceeded]);
    assert.deepEqual(out[3].error.data, { limit: 25 });
    // 1 MiB in flight holds a few 64 KiB entries: the read is cut short, the next call is told to retry later...
    const big = (await post(server.url, JSON.stringify([call(1, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 20 }]), call(2, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 1 }])]))).json as any[];
    assert.ok(big[0].result.length >= 1 && big[0].result.length < 10, `${big[0].result?.length} entries`);
    assert.equal(big[1].error.code, ErrorCode.Overloaded);
    // ...and once that answer is sent, the pool is free again.
    const again = (await post(server.url, JSON.stringify(call(3, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 2 }])))).json;
    assert.equal(again.result.length, 2);
  } finally {
    await server.close();
  }
});

/** Opens a raw TCP connection; resolves once connected. */
function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: net.Socket): boolean {
  return s.destroyed || s.readableEnded;
}

test('connection flood: more idle sockets than the cap never lock clients out; the store keeps working', async () => {
  const cap = DEFAULT_RPC_LIMITS.maxConnections;
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < 1100; i++) {
      const s = await connect(node.rpcUrl);
      s.on('error', () => {});
      s.on('end', () => s.destroy());
      s.resume();
      sockets.push(s);
    }
    // The server holds at most `cap` of them open.
    await waitFor(() => sockets.filter((s) => !closed(s)).length <= cap, 10_000, 'the server to close the sockets over its cap');
    // A normal client still gets in (it evicts the oldest silent socket), and the log still takes appends.
    await stillServes();
    const r = await client(node).append(signer.sign({ nonce: nonce++, transactions: [utf8('after the flood')] }));
    assert.equal(r.count, 1);
  } finally {
    for (const s of sockets) s.destroy();
  }
});

test('a node process with 600 file descriptors: 1,100 connections cannot starve its store', { timeout: 90_000 }, async (t) => {
  if (spawnSync('prlimit', ['--version']).error) return t.skip('needs prlimit(1) (util-linux)');
  const pdir = await tempDir();
  t.after(() => pdir.remove());
  const [rpcPort, p2pPort] = await freePorts(2);
  const primary = await startNode(t, [
    '--mode', 'primary', '--db', join(pdir.path, 'p'), '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort),
    '--allow', toHex(signer.address), '--log-id', toHex(LOG_ID), '--chain-id', String(CHAIN_ID), '--rpc-max-connections', '200',
  ], { env: cliEnv({ PRIVATE_KEY: toHex(PRIMARY_KEY) }) });
  // What a default `ulimit -n` of 1024 leaves, roughly, once LevelDB and libp2p have taken theirs.
  execFileSync('prlimit', ['--pid', String(primary.child.pid), '--nofile=600:600']);
  const sockets: net.Socket[] = [];
  t.after(() => { for (const s of sockets) s.destroy(); });
  for (let i = 0; i < 1100; i++) {
    const s = await connect(primary.started.rpc);
    s.on('error', () => {});
    s.on('end', () => s.destroy());
    s.resume();
    sockets.push(s);
  }
  await waitFor(() => sockets.filter((s) => !closed(s)).length <= 200, 20_000, 'the node to hold at most 200 of the connections');
  // ~40 MB of appends: LevelDB flushes its memtable (32 MiB, log-store.ts) and opens new files, which needs free descriptors.
  const c = new RpcClient(primary.started.rpc);
  for (let i = 0; i < 40; i++) {
    const r = await c.append(signer.sign({ nonce: nonce++, transactions: Array.from({ length: 15 }, () => new Uint8Array(MAX_TX_BYTES).fill(i)) }));
    assert.equal(r.count, 15);
  }
  const info = await c.info();
  assert.equal(info.halted, null);
  assert.equal(info.entries, 40 * 15);
  assert.doesNotMatch(primary.stderr(), /EMFILE|too many open files/i);
});

test('slow clients: silent, header-trickling and body-trickling connections are closed after their timeouts', async () => {
  const server = await serverWith({ headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 300, idleTimeoutMs: 1000 });
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const open = async (first: string, drip: string) => {
      const s = await connect(server.url);
      s.on('error', () => {});
      s.on('data', () => {});
      s.on('end', () => s.destroy());
      if (first) s.write(first);
      if (drip) timers.push(setInterval(() => s.writable && s.write(drip), 100));
      sockets.push(s);
    };
    for (let i = 0; i < 5; i++) await open('', ''); // connects and says nothing
    for (let i = 0; i < 5; i++) await open('POST / HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n'); // headers that never end
    for (let i = 0; i < 5; i++) await open('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', ' '); // a body that never ends
    const kept = await connect(server.url); // a keep-alive client that made one request and then went quiet
    kept.on('error', () => {});
    kept.on('data', () => {});
    kept.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${JSON.stringify(call(1, 'sequencer_info')).length}\r\n\r\n${JSON.stringify(call(1, 'sequencer_info'))}`);
    sockets.push(kept);
    await waitFor(() => sockets.every(closed), 5_000, 'the server to close every slow connection');
    await stillServes(server.url);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await server.close();
  }
});

/** Sends a raw HTTP request and reads the whole answer; rejects on a connection error (e.g. ECONNRESET). */
function rawExchange(url: string, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const s = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    s.write(head);
    s.write(body, () => s.end());
  });
}

test('an oversized body gets its 413 / -32005 answer (read by the client, not reset), then the connection closes', async () => {
  const size = 9 * 1024 * 1024;
  const body = Buffer.alloc(size, 0x20);
  for (let i = 0; i < 3; i++) {
    const declared = await rawExchange(node.rpcUrl, `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`, body);
    assert.match(declared, /^HTTP\/1\.1 413 /);
    assert.match(declared, /connection: close/i);
    assert.equal(JSON.parse(declared.slice(declared.indexOf('\r\n\r\n') + 4)).error.code, ErrorCode.TooLarge);
    // Chunked: the cap is found while reading.
    const chunked = Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const streamed = await rawExchange(node.rpcUrl, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', chunked);
    assert.match(streamed, /^HTTP\/1\.1 413 /);
    assert.equal(JSON.parse(streamed.slice(streamed.indexOf('\r\n\r\n') + 4)).error.code, ErrorCode.TooLarge);
  }
  // Announced with `Expect: 100-continue`: refused before the client sends the body.
  const announced = await rawExchange(node.rpcUrl, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`, Buffer.alloc(0));
  assert.match(announced, /^HTTP\/1\.1 413 /);
  const continued = await rawExchange(node.rpcUrl, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`, Buffer.from('[]'));
  assert.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  await stillServes();
});

test('request bodies in flight share a bounded pool: past it, 503 / -32006 (retry later), and the pool frees up', async () => {
  const server = await serverWith({ maxBodyBytesInFlight: 1024 * 1024 });
  const padded = (n: number) => JSON.stringify(call(1, 'sequencer_info')) + ' '.repeat(n);
  try {
    // A client that sends 900 kB of a 1 MB body and then stalls: the server holds those bytes.
    const staller = await connect(server.url);
    staller.on('error', () => {});
    staller.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`);
    staller.write(Buffer.alloc(900_000, 0x20));
    let refused: Awaited<ReturnType<typeof post>> | undefined;
    await waitFor(async () => {
      refused = await post(server.url, padded(500_000));
      return refused.status === 503;
    }, 5_000, 'a body that does not fit in the pool to be refused');
    assert.equal(refused!.json.error.code, ErrorCode.Overloaded);
    // Once the stalled request is gone, its bytes are given back.
    staller.destroy();
    await waitFor(async () => (await post(server.url, padded(500_000))).status === 200, 5_000, 'the pool to be free again');
  } finally {
    await server.close();
  }
});

/** Re-verification from the JSON alone, with ethers and node:crypto only (docs/protocol.md), not the project's core. */
const DOMAIN = { name: 'Sequencer', version: '1', chainId: CHAIN_ID, salt: toHex(LOG_ID) };
const SUBMISSION_TYPES = {
  Submission: [
    { name: 'sender', type: 'address' }, { name: 'nonce', type: 'uint64' },
    { name: 'expiry', type: 'uint64' }, { name: 'transactionsHash', type: 'bytes32' },
  ],
};
const sha256 = (b: Buffer) => '0x' + createHash('sha256').update(b).digest('hex');
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(n); return b; };
const bytes = (hex: string) => Buffer.from(hex.slice(2), 'hex');
function txListHash(payloads: readonly string[]): string {
  return sha256(Buffer.concat([u32(payloads.length), ...payloads.flatMap((p) => [u32(bytes(p).length), bytes(p)])]));
}
/** The signer of a submission's JSON fields, and its digest (EIP-712 via ethers). */
function recover(s: { sender: string; nonce: string; expiry: number; transactionsHash: string; signature: string }): { signer: string; digest: string } {
  const value = { sender: s.sender, nonce: s.nonce, expiry: s.expiry, transactionsHash: s.transactionsHash };
  return { signer: verifyTypedData(DOMAIN, SUBMISSION_TYPES, value, s.signature).toLowerCase(), digest: TypedDataEncoder.hash(DOMAIN, SUBMISSION_TYPES, value) };
}
function entryHash(prev: string, e: { seq: number; sender: string; submissionDigest: string; payload: string }): string {
  return sha256(Buffer.concat([Buffer.from([0]), bytes(prev), u64(BigInt(e.seq)), bytes(e.sender), bytes(e.submissionDigest), bytes(e.payload)]));
}

test('a JSON-RPC reader re-verifies submissions from sequencer_read and sequencer_getBatch alone', async () => {
  const c = client(node);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const r = await c.append(signer.sign({ nonce: nonce++, expiry, transactions: [utf8('verify'), utf8('me'), new Uint8Array(0)] }));

  // sequencer_read: each entry carries expiry, transactionsHash and signature.
  const read = await c.read(r.firstSeq, 3);
  const payloads = read.map((e) => e.payload);
  for (const e of read) {
    assert.equal(e.expiry, expiry);
    assert.equal(e.transactionsHash, txListHash(payloads), 'transactionsHash recomputes from the entries of the submission');
    const { signer: who, digest } = recover(e as any);
    assert.equal(who, e.sender, 'the signature recovers to the sender');
    assert.equal(digest, e.submissionDigest, 'the digest recomputes from sender, nonce, expiry, transactionsHash');
  }
  // A tampered expiry no longer matches: the fields are what was signed.
  assert.notEqual(recover({ ...(read[0] as any), expiry: expiry + 1 }).signer, read[0].sender);

  // sequencer_getBatch: the submissions in full; every entry, the chain head and each signature recompute from them.
  const b = await c.getBatch(r.height);
  assert.ok(Array.isArray(b.submissions) && b.submissions.length >= 1);
  let prev: string = b.prevEntryHash;
  let seq: number = b.header.firstSeq;
  let i = 0;
  for (const s of b.submissions as any[]) {
    const transactionsHash = txListHash(s.transactions);
    const { signer: who, digest } = recover({ ...s, transactionsHash });
    assert.equal(who, s.sender);
    for (const payload of s.transactions) {
      const e = b.entries[i++];
      assert.deepEqual([e.seq, e.sender, e.nonce, e.expiry, e.signature, e.transactionsHash, e.submissionDigest, e.payload], [seq, s.sender, s.nonce, s.expiry, s.signature, transactionsHash, digest, payload]);
      prev = entryHash(prev, { seq: seq++, sender: s.sender, submissionDigest: digest, payload });
      assert.equal(e.entryHash, prev);
    }
  }
  assert.equal(i, b.entries.length);
  assert.equal(prev, b.header.headHash, 'the chain head recomputes from the submissions');
  assert.ok(b.submissions.some((s: any) => s.nonce === (nonce - 1n).toString() && s.expiry === expiry));
  assert.deepEqual(submissionToJson(signer.sign({ nonce: nonce - 1n, expiry, transactions: [utf8('verify'), utf8('me'), new Uint8Array(0)] })),
    b.submissions.find((s: any) => s.nonce === (nonce - 1n).toString()));
});

test('named parameters: each method takes its documented names and refuses unknown ones', async () => {
  const c = client(node);
  const s = signer.sign({ nonce: nonce++, transactions: [utf8('named')] });
  // Final first, so that the retries below (answered with the original receipt) carry the same certificate.
  const byName = await c.call<any>('sequencer_append', { submission: submissionToJson(s), wait: 'final' });
  assert.equal(byName.finality, 'final');
  assert.deepEqual(await c.call('sequencer_append', submissionToJson(s)), byName, 'the submission object itself');
  assert.deepEqual(await c.call('sequencer_append', [{ submission: submissionToJson(s) }]), byName);
  assert.equal((await c.call<any[]>('sequencer_read', { fromSeq: byName.firstSeq, limit: 1 }))[0].entryHash, byName.entryHashes[0]);
  assert.equal((await c.call<any>('sequencer_getBatch', { height: byName.height })).headerHash, byName.headerHash);
  assert.equal((await c.call<any>('sequencer_getProof', { seq: byName.firstSeq })).entry.entryHash, byName.entryHashes[0]);
  const receipt = { ...byName };
  assert.equal((await c.call<any>('sequencer_verifyReceipt', { receipt })).valid, true);
  const refused = async (method: string, params: unknown) => {
    const res = await post(node.rpcUrl, JSON.stringify(call(1, method, params)));
    assert.equal(res.json.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${res.text.slice(0, 300)}`);
  };
  await refused('sequencer_read', { fromSeq: 0, limt: 5 });
  await refused('sequencer_getBatch', { heigth: 0 });
  await refused('sequencer_getProof', { seq: 0, extra: 1 });
  await refused('sequencer_info', [1]);
  await refused('sequencer_getEquivocations', { all: true });
  await refused('sequencer_append', { submission: submissionToJson(s), wiat: 'final' });
  await refused('sequencer_getCertificate', { heigth: byName.height });
  assert.deepEqual(await c.call('sequencer_getCertificate', { height: byName.height }), byName.certificate);
});

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A second loopback address: what a client on another host looks like to the per-address caps. */
const OTHER_HOST = '127.0.0.2';

/** Opens a raw TCP connection from `localAddress`; resolves once connected. */
function connectFrom(url: string, localAddress: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: Number(port), host: hostname, localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/** POSTs a JSON-RPC body from `localAddress` (fetch cannot choose its source address). */
function postFrom(url: string, localAddress: string, body: string, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const rawPost = (body: string) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

test('a client that aborts mid-batch, again and again, leaks nothing: info, read and append then answer normally', async () => {
  const server = await serverWith({ maxResponseBytesInFlight: 64 * MiB });
  try {
    // Reads of big entries: the dispatch is still building results when the client goes away.
    const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => call(i, 'sequencer_read', [{ fromSeq: bigFirstSeq + (i % 8) * 60, limit: 1000 }])));
    for (let i = 0; i < 8; i++) {
      const s = await connect(server.url);
      s.on('error', () => {});
      s.write(rawPost(body));
      await sleep(20 + i * 15);
      s.destroy();
    }
    // The aborted dispatches end soon (nothing more is built for a client that is gone) and give their bytes back.
    let info: any;
    await waitFor(async () => (info = (await post(server.url, JSON.stringify(call('info-after-aborts', 'sequencer_info')))).json).result !== undefined, 5_000, 'info to be answered');
    assert.equal(info.result.mode, 'primary');
    // The whole pool is back: a read as large as the pool allows (a third of it, in result bytes) is answered.
    const read = (await post(server.url, JSON.stringify(call(2, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 1000 }])), 20_000)).json;
    assert.ok(read.result?.length >= 100, `read after the aborts: ${read.result?.length ?? JSON.stringify(read.error)}`);
    const s = signer.sign({ nonce: nonce++, transactions: [utf8('after aborted batches')] });
    const appended = (await post(server.url, JSON.stringify(call(3, 'sequencer_append', [submissionToJson(s)])))).json;
    assert.equal(appended.result?.count, 1, JSON.stringify(appended.error));
  } finally {
    await server.close();
  }
});

test('a batch of many verifyReceipt calls for a 3 MiB batch runs a few at a time, keeps memory bounded and is answered', async () => {
  let running = 0;
  let most = 0;
  // The real node, with its verifyReceipt counted (how many run at once).
  const counted = nodeApiOf(node, {
    verifyReceipt: async (r) => {
      most = Math.max(most, ++running);
      try {
        return await node.verifyReceipt(r);
      } finally {
        running--;
      }
    },
  });

  const server = await startRpcServer({ methods: createMethods(counted, { slashCalldata: encodeSlashCalldata, voteSlashCalldata: encodeVoteSlashCalldata }), host: '127.0.0.1', port: 0, limits: { maxChecksInFlight: 2 }, log });
  try {
    const receipt = bigReceipts[0] as { header: { count: number } };
    assert.ok(receipt.header.count >= 30, `a receipt from a batch of ${receipt.header.count} entries of 64 KiB`);
    const body = JSON.stringify(Array.from({ length: 80 }, (_, i) => call(i, 'sequencer_verifyReceipt', [receipt])));
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); }, 5);
    const answers = await Promise.all([post(server.url, body, 60_000), post(server.url, body, 60_000)]).finally(() => clearInterval(sampler));
    for (const a of answers) {
      assert.equal(a.json.length, 80);
      assert.ok(a.json.every((r: any) => r.result?.status === 'consistent'), JSON.stringify(a.json.find((r: any) => r.result?.status !== 'consistent')));
    }
    assert.ok(most <= 2, `${most} verifyReceipt calls ran at once`);
    assert.ok(rssPeak - rssBefore < 200 * MiB, `memory grew by ${Math.round((rssPeak - rssBefore) / MiB)} MiB`);
    await stillServes(server.url);
  } finally {
    await server.close();
  }
});

test('slow readers that never drain: appends are served at once, other clients read, and the readers are cut after the send deadline', async () => {
  const attack = JSON.stringify([call(0, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 1000 }]), ...Array.from({ length: 999 }, (_, i) => call(i + 1, 'sequencer_getEquivocations'))]);
  const server = await serverWith({
    maxResponseBytes: 16 * MiB, maxResponseBytesInFlight: 104 * MiB, maxResponseBytesPerAddress: 48 * MiB,
    responseTimeoutMs: 1_000, minResponseBytesPerSecond: 16 * MiB, idleTimeoutMs: 30_000,
  });
  const readers: net.Socket[] = [];
  try {
    // Each asks for a big read and fills what is left of its budget, or of the pool, with tiny calls (the pool holds
    // six and a half budgets); none reads its answer.
    for (let i = 0; i < 7; i++) {
      const s = await connectFrom(server.url, OTHER_HOST);
      s.on('error', () => {});
      s.pause();
      s.write(rawPost(attack));
      readers.push(s);
    }
    await waitFor(() => readers.every((s) => s.readableLength > 0 || closed(s)), 10_000, 'every slow reader to be answered');
    // An append, even from the readers' own address, is never refused for the memory readers hold.
    const s = signer.sign({ nonce: nonce++, transactions: [utf8('while readers stall')] });
    const appended = await postFrom(server.url, OTHER_HOST, JSON.stringify(call('append-while-readers-stall', 'sequencer_append', [submissionToJson(s)])));
    assert.equal(appended.result?.count, 1, JSON.stringify(appended.error));
    // Another client reads: one address holds at most its share of the pool.
    const read = (await post(server.url, JSON.stringify(call('read-while-readers-stall', 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 10 }])))).json;
    assert.equal(read.result?.length, 10, JSON.stringify(read.error));
    // Their address's share is taken until the reader misses its deadline (1 s + 16 MiB at 16 MiB/s): then its
    // connection is cut and the bytes come back.
    const readAgain = () => postFrom(server.url, OTHER_HOST, JSON.stringify(call('read-after-deadline', 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 10 }])));
    let again: any;
    await waitFor(async () => (again = await readAgain()).result !== undefined, 8_000, "a read from the readers' address to be answered");
    assert.equal(again.result.length, 10);
  } finally {
    for (const s of readers) s.destroy();
    await server.close();
  }
});

test('connections trickling a request body cannot lock clients out: a per-address cap, and slow bodies are evicted', async () => {
  const trickle = async (server: RpcServer, from: string, n: number, sockets: net.Socket[], timers: NodeJS.Timeout[]) => {
    for (let i = 0; i < n; i++) {
      const s = await connectFrom(server.url, from);
      s.on('error', () => {});
      s.on('data', () => {});
      s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n');
      timers.push(setInterval(() => s.writable && s.write(' '), 100));
      sockets.push(s);
    }
  };
  const health = async (url: string) => {
    const res = await fetch(url + '/health', { signal: AbortSignal.timeout(5_000) });
    assert.deepEqual([res.status, await res.json()], [200, { ok: true }]);
  };
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  // One address cannot take every slot, and the last slots are kept for addresses that hold none (slow bodies are
  // not evictable yet here: their grace outlasts the test).
  const capped = await serverWith({ maxConnections: 20, maxConnectionsPerAddress: 8, reservedConnections: 4, bodyGraceMs: 60_000, requestTimeoutMs: 60_000 });
  // One address may take every slot, but a body slower than the minimum rate gives its slot to a new client.
  const evicting = await serverWith({ maxConnections: 20, maxConnectionsPerAddress: 20, reservedConnections: 0, bodyGraceMs: 300, minBodyBytesPerSecond: 1024, requestTimeoutMs: 60_000 });
  try {
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) await trickle(capped, from, 10, sockets, timers);
    await trickle(evicting, '127.0.0.1', 20, sockets, timers);
    await sleep(500);
    for (const server of [capped, evicting]) {
      await health(server.url);
      await stillServes(server.url);
    }
    // capped: 8 + 8 from two addresses, then one from the third (a reserved slot), nothing more.
    assert.ok(sockets.filter((s) => !closed(s)).length <= 17 + 20, 'the caps closed the connections over them');
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await capped.close();
    await evicting.close();
  }
});

test('the response pool counts what results really hold: three times their bytes, and memory stays within the pool', async () => {
  const small = await serverWith({ maxResponseBytesInFlight: 3 * MiB });
  try {
    const res = await post(small.url, JSON.stringify(call(1, 'sequencer_read', [{ fromSeq: bigFirstSeq, limit: 1000 }])));
    assert.ok(res.json.result.length >= 1, JSON.stringify(res.json.error));
    assert.ok(res.text.length <= MiB + 1000, `a 3 MiB pool let one response hold ${res.text.length} result bytes`);
  } finally {
    await small.close();
  }
  // Eight clients that never read a 16 MiB answer: what the process holds for them stays within the 96 MiB pool.
  const pool = 96 * MiB;
  const server = await serverWith({ maxResponseBytes: 16 * MiB, maxResponseBytesInFlight: pool, maxResponseBytesPerAddress: pool, responseTimeoutMs: 30_000 });
  const readers: net.Socket[] = [];
  try {
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); }, 5);
    for (let i = 0; i < 8; i++) {
      const s = await connect(server.url);
      s.on('error', () => {});
      s.pause();
      s.write(rawPost(JSON.stringify(call(i, 'sequencer_read', [{ fromSeq: bigFirstSeq + i * 20, limit: 1000 }]))));
      readers.push(s);
    }
    await waitFor(() => readers.every((s) => s.readableLength > 0), 10_000, 'every reader to be answered');
    await sleep(300);
    clearInterval(sampler);
    // Measured: a stalled answer holds ~3 times its result bytes; 96 MiB of results would take ~300 MiB.
    assert.ok(rssPeak - rssBefore < 2 * pool, `memory grew by ${Math.round((rssPeak - rssBefore) / MiB)} MiB for a ${pool / MiB} MiB pool`);
    await stillServes(server.url);
  } finally {
    for (const s of readers) s.destroy();
    await server.close();
  }
});
