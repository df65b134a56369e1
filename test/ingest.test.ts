/**
 * The binary ingest path (docs/protocol.md §Binary ingest): pipelined submissions over one WebSocket answered by
 * receipts that check, answers matched by request id in any order, idempotent resends, bad frames refused without
 * harm, back-pressure against clients that flood or never read, the connection caps, and a replica's forwarding.
 * Real nodes (in this process, real LevelDB and libp2p), or the real server over a scripted node where the test
 * needs to control when appends finish; raw sockets where a WebSocket client would hide the behaviour.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCode, InvalidParamsError, NonceReplayedError, type SequencerError } from '../src/core/errors.ts';
import type { Receipt } from '../src/core/receipt.ts';
import { encodeSubmission, type Submission } from '../src/core/submission.ts';
import { IngestClient, IngestConnectionError } from '../src/client/ingest-client.ts';
import { decodeIngestAnswer, encodeIngestRequest, MAX_INGEST_REQUEST_BYTES } from '../src/wire/ingest-frames.ts';
import { ingestRoute, type IngestLimits, type IngestNode } from '../src/rpc/ingest.ts';
import { startRpcServer, type RpcLimits, type RpcServer } from '../src/rpc/server.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { LOG_ID, PRIMARY_KEY, SEPARATOR, clientSigner, log, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';

const signer = clientSigner();
let nonce = BigInt(Date.now()) * 1000n;
const rules = { logId: LOG_ID, separator: SEPARATOR, primary: addressFromPrivateKey(PRIMARY_KEY) };
const submission = (txs = 1, bytes = 32): Submission =>
  signer.sign({ nonce: nonce++, transactions: Array.from({ length: txs }, () => new Uint8Array(randomBytes(bytes))) });

let primary: SequencerNode;
let replica: SequencerNode;
let dir: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  dir = await tempDir();
  primary = await startPrimary(join(dir.path, 'p'));
  replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
});
after(async () => {
  await Promise.all([replica.stop(), primary.stop()]);
  await dir.remove();
});

/** The real RPC server's ingest route over a scripted node. */
async function scriptedServer(node: IngestNode, ingest: Partial<IngestLimits>, limits: Partial<RpcLimits> = {}): Promise<RpcServer> {
  return startRpcServer({ methods: {}, host: '127.0.0.1', port: 0, log, limits, upgradeRoutes: { '/ingest': ingestRoute(node, ingest) } });
}

/** A receipt that names `s` (not a valid one: the scripted node signs nothing). */
function fakeReceipt(s: Submission, entries = 1): Receipt {
  const zero = new Uint8Array(32);
  return {
    header: { logId: LOG_ID, height: 0, view: 0, firstSeq: 0, count: entries, prevHeaderHash: zero, headHash: zero, entriesRoot: zero, timestamp: 0 },
    signature: new Uint8Array(65), submissionDigest: zero, sender: s.sender, nonce: s.nonce, firstSeq: 0,
    entryHashes: Array.from({ length: entries }, () => zero), prevEntryHash: zero, proof: [],
  };
}

/** A raw WebSocket client on a net socket: sends masked frames as it is told, reads only when asked. */
async function rawIngest(url: string): Promise<{ socket: net.Socket; send: (payload: Uint8Array, opcode?: number) => boolean; closed: Promise<number | undefined> }> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(`GET /ingest HTTP/1.1\r\nhost: ${u.host}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
  let head = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.includes('\r\n\r\n')) {
        socket.off('data', onData);
        if (!head.toString().startsWith('HTTP/1.1 101')) reject(new Error(head.toString()));
        socket.pause();
        resolve();
      }
    };
    socket.on('data', onData);
  });
  // The close code of the node's close frame, if one arrives before the socket closes (read only once paused reading ends).
  const closed = new Promise<number | undefined>((resolve) => {
    let code: number | undefined;
    let rest = head.subarray(head.indexOf('\r\n\r\n') + 4);
    socket.on('data', (chunk: Buffer) => {
      rest = Buffer.concat([rest, chunk]);
      const i = rest.indexOf(0x88);
      if (i >= 0 && rest.length >= i + 4) code ??= rest.readUInt16BE(i + 2);
    });
    socket.on('error', () => {});
    socket.once('close', () => resolve(code));
  });
  const send = (payload: Uint8Array, opcode = 0x2): boolean => {
    const len = payload.byteLength;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
    const mask = randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    return socket.write(Buffer.concat([head, mask, body]));
  };
  return { socket, send, closed };
}

/** A global-WebSocket connection that collects decoded answers and its close code. */
async function openSocket(url: string) {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ingest');
  ws.binaryType = 'arraybuffer';
  const answers: ReturnType<typeof decodeIngestAnswer>[] = [];
  let waiters: (() => void)[] = [];
  ws.onmessage = (ev) => { answers.push(decodeIngestAnswer(new Uint8Array(ev.data as ArrayBuffer))); waiters.forEach((w) => w()); waiters = []; };
  const closed = new Promise<number>((resolve) => { ws.onclose = (ev) => resolve(ev.code); });
  await new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = () => reject(new Error('cannot open')); });
  const answer = async (n: number) => { while (answers.length < n) await new Promise<void>((r) => waiters.push(r)); return answers[n - 1]; };
  return { ws, answer, closed };
}

test('pipelined submissions over one connection get receipts that check, and they are in the log', { timeout: 30_000 }, async () => {
  const client = await IngestClient.connect({ url: primary.rpcUrl, rules });
  try {
    const subs = Array.from({ length: 300 }, (_, i) => submission(1 + (i % 3)));
    let peak = 0;
    const receipts = await Promise.all(subs.map((s) => {
      const p = client.submit(s); // checks the receipt against the payloads, the primary's signature and the digest
      peak = Math.max(peak, client.inFlight);
      return p;
    }));
    assert.ok(peak > 100, `pipelined: ${peak} in flight at once`);
    assert.equal(new Set(receipts.map((r) => r.firstSeq)).size, subs.length);
    for (const [i, r] of receipts.entries()) assert.equal(r.nonce, subs[i].nonce);
    // Several submissions shared a batch (one group commit), which only pipelining gives.
    assert.ok(new Set(receipts.map((r) => r.header.height)).size < subs.length / 2);
  } finally {
    client.close();
  }
});

test('answers that come out of order are matched to their requests by id', { timeout: 30_000 }, async () => {
  const held: { s: Submission; resolve: (r: Receipt) => void }[] = [];
  const server = await scriptedServer({ append: (s) => new Promise<Receipt>((resolve) => held.push({ s, resolve })) }, {});
  try {
    const client = await IngestClient.connect({ url: server.url, rules });
    const subs = Array.from({ length: 20 }, () => submission());
    const answers = subs.map((s) => client.submitEncoded(encodeSubmission(s)));
    await waitFor(() => held.length === subs.length, 5000, 'every append');
    for (const h of [...held].reverse()) h.resolve(fakeReceipt(h.s)); // last first
    const receipts = await Promise.all(answers);
    for (const [i, r] of receipts.entries()) assert.equal(r.nonce, subs[i].nonce);
    client.close();
  } finally {
    await server.close();
  }
});

test('the same signed submission sent again is answered with its original receipt', { timeout: 30_000 }, async () => {
  const client = await IngestClient.connect({ url: primary.rpcUrl, rules });
  try {
    const s = submission(2);
    const first = await client.submit(s);
    const again = await client.submit(s);
    assert.equal(again.firstSeq, first.firstSeq);
    assert.equal(again.header.height, first.header.height);
    assert.deepEqual(again.entryHashes, first.entryHashes);
    // Both at once, too: they share one receipt.
    const s2 = submission();
    const [a, b] = await Promise.all([client.submit(s2), client.submit(s2)]);
    assert.equal(a.firstSeq, b.firstSeq);
    // Another submission with a used nonce: -32003 with its data, as over JSON-RPC.
    const other = signer.sign({ nonce: s.nonce, transactions: [new Uint8Array([9])] });
    await assert.rejects(client.submit(other), (e: SequencerError) =>
      e instanceof NonceReplayedError && e.code === ErrorCode.NonceReplayed && (e.data as { nonce: string }).nonce === String(s.nonce));
  } finally {
    client.close();
  }
});

test('bad frames get the documented error or close, change nothing, and good submissions still work', { timeout: 30_000 }, async () => {
  const { ws, answer, closed } = await openSocket(primary.rpcUrl);
  const before = primary.info().entries;
  // A truncated submission and garbage: -32602 with their request id; the connection stays.
  const good = encodeIngestRequest(7, submission());
  ws.send(good.subarray(0, 60));
  let a = await answer(1);
  assert.ok('error' in a && a.requestId === 7 && a.error.code === ErrorCode.InvalidParams, JSON.stringify(a));
  const garbage = randomBytes(300);
  garbage.writeUInt32BE(8, 0);
  ws.send(garbage);
  a = await answer(2);
  assert.ok('error' in a && a.requestId === 8 && a.error.code === ErrorCode.InvalidParams);
  // A submission with trailing bytes is not a submission either.
  ws.send(Buffer.concat([encodeIngestRequest(9, submission()), Buffer.from([0])]));
  a = await answer(3);
  assert.ok('error' in a && a.requestId === 9 && a.error.code === ErrorCode.InvalidParams);
  assert.equal(primary.info().entries, before, 'nothing was sequenced');
  ws.send(good);
  a = await answer(4);
  assert.ok('receipt' in a && a.requestId === 7, 'a good submission on the same connection is sequenced');
  // Shorter than a request id: closed with 1007. A text message: 1003. Oversized: 1009.
  ws.send(new Uint8Array([1, 2]));
  assert.equal(await closed, 1007);
  const text = await openSocket(primary.rpcUrl);
  text.ws.send('{"jsonrpc":"2.0"}');
  assert.equal(await text.closed, 1003);
  const big = await openSocket(primary.rpcUrl);
  big.ws.send(new Uint8Array(MAX_INGEST_REQUEST_BYTES + 1));
  assert.equal(await big.closed, 1009);
  // A new connection works.
  const client = await IngestClient.connect({ url: primary.rpcUrl, rules });
  await client.submit(submission());
  client.close();
  // The node's error arrives as its class.
  const c2 = await IngestClient.connect({ url: primary.rpcUrl, rules });
  const bad = encodeSubmission(submission());
  await assert.rejects(c2.submitEncoded(bad.subarray(0, 50)), (e: SequencerError) => e instanceof InvalidParamsError);
  c2.close();
});

test('a client flooding requests has at most maxInFlight of them sequenced at once (its socket is not read beyond)', { timeout: 30_000 }, async () => {
  const held: { s: Submission; resolve: (r: Receipt) => void }[] = [];
  let peak = 0;
  const server = await scriptedServer({
    append: (s) => new Promise<Receipt>((resolve) => { held.push({ s, resolve }); peak = Math.max(peak, held.length); }),
  }, { maxInFlight: 8 });
  try {
    const client = await IngestClient.connect({ url: server.url, rules, maxInFlight: 1000 });
    const answers = Array.from({ length: 100 }, () => client.submitEncoded(encodeSubmission(submission())));
    let answered = 0;
    while (answered < 100) {
      await waitFor(() => held.length > 0, 5000, 'an append');
      // Each round, let the node finish what it holds; the next requests are read only then.
      for (const h of held.splice(0)) { h.resolve(fakeReceipt(h.s)); answered++; }
    }
    await Promise.all(answers);
    assert.equal(peak, 8, `at most 8 appends at once (saw ${peak})`);
    client.close();
  } finally {
    await server.close();
  }
});

test('a client that never reads its answers is cut off and cannot make the node take its requests without bound', { timeout: 30_000 }, async () => {
  let appends = 0;
  // Each answer is a receipt of 1024 entry hashes (~33 KB): the unread answers pile up on the node's side.
  const server = await scriptedServer({ append: async (s) => { appends++; return fakeReceipt(s, 1024); } }, { maxInFlight: 64, maxUnsentBytes: 256 * 1024 }, { responseTimeoutMs: 500 });
  try {
    const raw = await rawIngest(server.url);
    const total = 3000; // ~100 MB of answers if all were taken
    for (let i = 0; i < total; i++) raw.send(encodeIngestRequest(i, submission()));
    // The client keeps pinging (it still sends, it only never reads) until the node cuts the connection, a slow
    // reader past the response timeout: its writes then fail and the socket closes.
    const pinging = setInterval(() => raw.send(new Uint8Array(0), 0x9), 100);
    await raw.closed;
    clearInterval(pinging);
    assert.ok(appends < total / 2, `the node took ${appends} of ${total} requests`);
    // And serves others afterwards.
    const client = await IngestClient.connect({ url: server.url, rules });
    await client.submitEncoded(encodeSubmission(submission()));
    client.close();
  } finally {
    await server.close();
  }
});

/** A masked client frame with the FIN bit as given (rawIngest's `send` always sets it); the mask is zero, which is valid. */
function clientFrame(opcode: number, fin: boolean, payload: Uint8Array = new Uint8Array(0)): Buffer {
  assert.ok(payload.byteLength < 126);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.byteLength, 0, 0, 0, 0]), payload]);
}

test('a message sent in more fragments than the bound, empty fragments included, is closed with 1009', { timeout: 20_000 }, async () => {
  const raw = await rawIngest(primary.rpcUrl);
  raw.socket.resume();
  // Empty fragments add nothing to the size bound: without a bound on their number this would grow forever.
  const frames = [clientFrame(0x2, false), ...Array.from({ length: 2000 }, () => clientFrame(0x0, false))];
  raw.socket.write(Buffer.concat(frames));
  assert.equal(await raw.closed, 1009);
  const client = await IngestClient.connect({ url: primary.rpcUrl, rules });
  await client.submit(submission());
  client.close();
});

test('ingest connections count against the connection cap; a busy one is not evicted, an idle one is', { timeout: 30_000 }, async () => {
  const held: (() => void)[] = [];
  const server = await scriptedServer({ append: (s) => new Promise<Receipt>((resolve) => held.push(() => resolve(fakeReceipt(s)))) }, {}, { maxConnections: 4, reservedConnections: 0 });
  try {
    const clients = await Promise.all(Array.from({ length: 4 }, () => IngestClient.connect({ url: server.url, rules })));
    const pending = clients.map((c) => c.submitEncoded(encodeSubmission(submission())));
    await waitFor(() => held.length === 4, 5000, 'four appends in flight');
    // Every slot is busy: a fifth connection is refused.
    await assert.rejects(IngestClient.connect({ url: server.url, rules }), IngestConnectionError);
    // Once their work is answered they are idle: a new connection evicts one of them.
    for (const go of held.splice(0)) go();
    await Promise.all(pending);
    const fifth = await IngestClient.connect({ url: server.url, rules });
    const p = fifth.submitEncoded(encodeSubmission(submission()));
    await waitFor(() => held.length === 1, 5000, 'the fifth connection\'s append');
    held[0]();
    await p;
    fifth.close();
    for (const c of clients) c.close();
  } finally {
    await server.close();
  }
});

test('on a replica, a submission is forwarded to the primary and its checked receipt returned', { timeout: 30_000 }, async () => {
  await waitFor(async () => {
    try { await (await IngestClient.connect({ url: replica.rpcUrl, rules })).submit(submission()); return true; } catch { return false; }
  }, 15_000, 'the replica to know the primary');
  const client = await IngestClient.connect({ url: replica.rpcUrl, rules });
  try {
    const receipts = await Promise.all(Array.from({ length: 20 }, () => client.submit(submission())));
    assert.equal(receipts.length, 20);
  } finally {
    client.close();
  }
});



test('an ingest connection in use outlives the HTTP request timeouts; a silent one is closed after the idle timeout', { timeout: 30_000 }, async () => {
  const server = await scriptedServer({ append: async (s) => fakeReceipt(s) }, {}, { headersTimeoutMs: 300, requestTimeoutMs: 300, keepAliveTimeoutMs: 300, idleTimeoutMs: 800 });
  try {
    const silent = await openSocket(server.url);
    const silentSince = Date.now();
    let silentClosedAfter = 0;
    void silent.closed.then(() => { silentClosedAfter = Date.now() - silentSince; });
    const client = await IngestClient.connect({ url: server.url, rules });
    const started = Date.now();
    while (Date.now() - started < 1500) {
      await client.submitEncoded(encodeSubmission(submission())); // still answered long after the HTTP timeouts
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await silent.closed, 1006); // cut without a close frame
    assert.ok(silentClosedAfter >= 700 && silentClosedAfter < 1500, `the silent one closed after ${silentClosedAfter} ms`);
    client.close();
  } finally {
    await server.close();
  }
});
