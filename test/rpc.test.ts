/** JSON-RPC surface of a primary: every rejection path answers with its documented code and changes nothing. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BadSignatureError, BaseError, ErrorCode, ExpiredError, InvalidParamsError, NonceReplayedError, NotAllowedError,
  NotFoundError, SequencerError, TooLargeError,
} from '../src/core/errors.ts';
import { toHex } from '../src/core/bytes.ts';
import { submissionToJson } from '../src/wire/json.ts';
import { MAX_TX_BYTES } from '../src/core/limits.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { client, clientSigner, OUTSIDER_KEY, startPrimary, tempDir } from './helpers/network.ts';

let node: SequencerNode;
let dir: Awaited<ReturnType<typeof tempDir>>;
const signer = clientSigner();
let nonce = 1000n;
const tx = (s: string) => new TextEncoder().encode(s);

before(async () => {
  dir = await tempDir();
  node = await startPrimary(dir.path);
});
after(async () => {
  await node.stop();
  await dir.remove();
});

async function post(body: string | Buffer): Promise<{ status: number; json: any }> {
  const res = await fetch(node.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function rpcError(fn: () => Promise<unknown>): Promise<RpcError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected RpcError, got ${e}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

async function entries(): Promise<number> {
  return (await client(node).info()).entries as number;
}

test('a valid submission gets a receipt naming its sequence numbers and signed header', async () => {
  const before = await entries();
  const r = await client(node).append(signer.sign({ nonce: nonce++, transactions: [tx('a'), tx('b')] }));
  assert.equal(r.firstSeq, before);
  assert.equal(r.count, 2);
  assert.equal(r.entryHashes.length, 2);
  assert.equal(r.header.count >= 2, true);
  assert.match(r.signature, /^0x[0-9a-f]{130}$/);
  assert.equal(await entries(), before + 2);
});

test('standard JSON-RPC errors: parse error, invalid request, unknown method, invalid params', async () => {
  assert.equal((await post('{"jsonrpc":"2.0", nope')).json.error.code, -32700);
  assert.equal((await post('{"foo":1}')).json.error.code, -32600);
  assert.equal((await post('[]')).json.error.code, -32600);
  assert.equal((await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'sequencer_nope', params: [] }))).json.error.code, -32601);
  const c = client(node);
  assert.equal((await rpcError(() => c.call('sequencer_append', ['not an object']))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_append', [{ ...submissionToJson(signer.sign({ nonce: 1n, transactions: [tx('x')] })), sender: '0x1234' }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_append', [{ ...submissionToJson(signer.sign({ nonce: 1n, transactions: [tx('x')] })), nonce: -1 }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_append', [{ ...submissionToJson(signer.sign({ nonce: 1n, transactions: [tx('x')] })), transactions: ['0xzz'] }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_append', [{ ...submissionToJson(signer.sign({ nonce: 1n, transactions: [tx('x')] })), transactions: [] }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_read', [{ fromSeq: 'zero' }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_read', [{ fromSeq: 0, limit: 100000 }]))).code, -32602);
  assert.equal((await rpcError(() => c.call('sequencer_getBatch', ['x']))).code, -32602);
});

test('application errors: bad signature, not allowed, replayed nonce, expired, too large, not found', async () => {
  const c = client(node);
  const before = await entries();
  const good = signer.sign({ nonce: nonce++, transactions: [tx('sig')] });
  const forged = { ...good, transactions: [tx('other')] };
  assert.equal((await rpcError(() => c.append(forged))).code, ErrorCode.BadSignature);
  const flippedV = { ...good, signature: Uint8Array.from(good.signature, (b, i) => (i === 64 ? 99 : b)) };
  assert.equal((await rpcError(() => c.append(flippedV))).code, ErrorCode.BadSignature);

  const outsider = clientSigner(OUTSIDER_KEY);
  const e = await rpcError(() => c.append(outsider.sign({ nonce: 1n, transactions: [tx('x')] })));
  assert.equal(e.code, ErrorCode.NotAllowed);
  assert.deepEqual(e.data, { sender: toHex(outsider.address) });

  const first = await c.append(good);
  // The very same submission again (a client retry) gets its receipt again; nothing is sequenced twice. (Its
  // finality may have moved on in between: the primary alone finalises each batch right after storing it.)
  const { finality: _f1, certificate: _c1, ...again } = await c.append(good);
  const { finality: _f0, certificate: _c0, ...original } = first;
  assert.deepEqual(again, original);
  const sameNonceOtherTx = signer.sign({ nonce: good.nonce, transactions: [tx('different')] });
  const replay = await rpcError(() => c.append(sameNonceOtherTx));
  assert.equal(replay.code, ErrorCode.NonceReplayed);
  assert.deepEqual(replay.data, { sender: toHex(signer.address), nonce: good.nonce.toString() });

  const expired = signer.sign({ nonce: nonce++, expiry: Math.floor(Date.now() / 1000) - 10, transactions: [tx('late')] });
  assert.equal((await rpcError(() => c.append(expired))).code, ErrorCode.Expired);
  const future = signer.sign({ nonce: nonce++, expiry: Math.floor(Date.now() / 1000) + 600, transactions: [tx('in time')] });
  await c.append(future);

  const big = signer.sign({ nonce: nonce++, transactions: [new Uint8Array(MAX_TX_BYTES + 1)] });
  assert.equal((await rpcError(() => c.append(big))).code, ErrorCode.TooLarge);

  assert.equal((await rpcError(() => c.getBatch(10_000))).code, ErrorCode.NotFound);
  assert.equal((await rpcError(() => c.getProof(10_000))).code, ErrorCode.NotFound);
  assert.equal(await entries(), before + 2, 'only the two valid submissions were sequenced');
});

test('concurrent submissions with one nonce: exactly one is sequenced', async () => {
  const c = client(node);
  const n = nonce++;
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => c.append(signer.sign({ nonce: n, transactions: [tx(`race ${i}`)] }))));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as RpcError).code, ErrorCode.NonceReplayed);
});

test('JSON-RPC batch arrays: each call answered in order, errors per call; a duplicate in flight shares the receipt', async () => {
  const c = client(node);
  const subs = [signer.sign({ nonce: nonce++, transactions: [tx('b1')] }), signer.sign({ nonce: nonce++, transactions: [tx('b2')] })];
  const out = await c.callBatch([
    { method: 'sequencer_append', params: [submissionToJson(subs[0])] },
    { method: 'sequencer_append', params: [submissionToJson(subs[0])] },
    { method: 'sequencer_append', params: [submissionToJson(subs[1])] },
    { method: 'sequencer_info', params: [] },
  ]);
  assert.equal((out[0] as any).count, 1);
  assert.deepEqual(out[1], out[0], 'the same submission twice in flight: one entry, one receipt');
  assert.equal((out[2] as any).firstSeq, (out[0] as any).firstSeq + 1);
  assert.equal((out[3] as any).mode, 'primary');
});

test('oversized bodies are refused before parsing and the node keeps serving', async () => {
  const res = await post(Buffer.alloc(9 * 1024 * 1024, 0x20));
  assert.equal(res.status, 413);
  assert.equal(res.json.error.code, ErrorCode.TooLarge);
  assert.equal((await client(node).info()).mode, 'primary');
});

test('read, getBatch and getProof agree with the receipts', async () => {
  const c = client(node);
  const r = await c.append(signer.sign({ nonce: nonce++, transactions: [tx('p1'), tx('p2'), tx('p3')] }));
  const read = await c.read(r.firstSeq, 3);
  assert.deepEqual(read.map((e) => e.entryHash), r.entryHashes);
  assert.deepEqual(read.map((e) => e.payload), ['0x7031', '0x7032', '0x7033']);
  const batch = await c.getBatch(r.height);
  assert.equal(batch.headerHash, r.headerHash);
  assert.deepEqual(batch.header, r.header);
  const proof = await c.getProof(r.firstSeq + 1);
  assert.equal(proof.entry.entryHash, r.entryHashes[1]);
  assert.equal(proof.signature, r.signature);
});

test('random and malformed requests never crash the node nor change the store', async () => {
  const before = await entries();
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x1_0000_0000);
  const values: unknown[] = [null, true, 0, -1, 1e308, '', 'x', [], {}, [[]], { a: 1 }, '0x', '0xzz', 2 ** 64, -0.5];
  const pick = () => values[Math.floor(rnd() * values.length)];
  const methods = ['sequencer_append', 'sequencer_read', 'sequencer_getBatch', 'sequencer_getProof', 'sequencer_verifyReceipt', 'sequencer_info', 'nope'];
  const good = submissionToJson(signer.sign({ nonce: 1n, transactions: [tx('x')] }));
  for (let i = 0; i < 300; i++) {
    const method = methods[Math.floor(rnd() * methods.length)];
    const field = Object.keys(good)[Math.floor(rnd() * Object.keys(good).length)];
    const params = rnd() < 0.5 ? [pick()] : [{ ...good, [field]: pick() }];
    const body = rnd() < 0.1 ? JSON.stringify({ jsonrpc: '2.0', id: i, method, params }).slice(0, Math.floor(rnd() * 60)) : JSON.stringify({ jsonrpc: rnd() < 0.9 ? '2.0' : '1.0', id: i, method, params });
    const res = await post(body);
    assert.equal(res.status, 200);
    if (res.json.error) assert.equal(typeof res.json.error.code, 'number');
  }
  assert.equal(await entries(), before, 'nothing malformed was sequenced');
  assert.equal((await client(node).info()).mode, 'primary');
});

/** The rejection of `p`, checked to be an instance of `cls` and of the project's roots (the SDK's error mapping). */
async function rejection<T extends SequencerError>(p: Promise<unknown>, cls: abstract new (...args: never[]) => T): Promise<T> {
  const e = await p.then(() => assert.fail('expected the call to fail'), (err: unknown) => err);
  assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
  assert.ok(e instanceof SequencerError && e instanceof RpcError && e instanceof BaseError && e instanceof Error);
  return e;
}

test('the client throws a replayed nonce as a NonceReplayedError with the node\'s code, message and data', async () => {
  const c = client(node);
  const first = signer.sign({ nonce: nonce++, transactions: [tx('first')] });
  await c.append(first);
  const e = await rejection(c.append(signer.sign({ nonce: first.nonce, transactions: [tx('other')] })), NonceReplayedError);
  assert.equal(e.name, 'NonceReplayedError');
  assert.equal(e.code, ErrorCode.NonceReplayed);
  assert.equal(e.message, `nonce ${first.nonce} was already used by ${toHex(signer.address)}`);
  assert.deepEqual(e.data, { sender: toHex(signer.address), nonce: first.nonce.toString() });
  assert.deepEqual(e.details, e.data);
  assert.match(String(e), /^NonceReplayedError: nonce /);
});

test('the client throws each application code as its class: bad signature, not allowed, expired, too large, not found, invalid params', async () => {
  const c = client(node);
  const good = signer.sign({ nonce: nonce++, transactions: [tx('sig')] });
  await rejection(c.append({ ...good, transactions: [tx('forged')] }), BadSignatureError);
  const outsider = clientSigner(OUTSIDER_KEY);
  const notAllowed = await rejection(c.append(outsider.sign({ nonce: 1n, transactions: [tx('x')] })), NotAllowedError);
  assert.deepEqual(notAllowed.data, { sender: toHex(outsider.address) });
  await rejection(c.append(signer.sign({ nonce: nonce++, expiry: Math.floor(Date.now() / 1000) - 10, transactions: [tx('late')] })), ExpiredError);
  const tooLarge = await rejection(c.append(signer.sign({ nonce: nonce++, transactions: [new Uint8Array(MAX_TX_BYTES + 1)] })), TooLargeError);
  assert.deepEqual(tooLarge.data, { limit: MAX_TX_BYTES });
  await rejection(c.getBatch(1_000_000), NotFoundError);
  await rejection(c.call('sequencer_getBatch', ['x']), InvalidParamsError);
});

test('a JSON-RPC batch array gives each failed call as its class, in request order', async () => {
  const out = await client(node).callBatch([
    { method: 'sequencer_getProof', params: [1_000_000] },
    { method: 'sequencer_info', params: [] },
    { method: 'sequencer_read', params: [{ limit: 0 }] },
  ]);
  assert.ok(out[0] instanceof NotFoundError);
  assert.ok(!(out[1] instanceof Error));
  assert.ok(out[2] instanceof InvalidParamsError);
});
