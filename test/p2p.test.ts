import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { createHost, FrameDecoder, FrameLimitError, MAX_GOSSIP_MESSAGE_BYTES, encodeVarint } from '../src/p2p/host.ts';
import type { Host, HostOptions, ValidationResult } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { fastNoiseCrypto } from '../src/p2p/noise-crypto.ts';
import { InvalidArgumentError } from '../src/core/errors.ts';

const MiB = 1 << 20;
const TOPIC = 'test/batches/1';
const quiet = process.env.P2P_TEST_LOG == null;

async function startHost(
  t: TestContext,
  bootstrapPeers: string[] = [],
  extra: Partial<HostOptions> = {},
): Promise<Host> {
  const host = await createHost({
    privateKey: extra.privateKey ?? await generateKeyPair('Ed25519'),
    listenPort: 0,
    bootstrapPeers,
    maxMessageBytes: MAX_GOSSIP_MESSAGE_BYTES,
    scoredTopics: [TOPIC],
    log: quiet ? () => {} : (level, msg, err) => { console.error(level, msg, err ?? ''); },
    ...extra,
  });
  t.after(() => host.stop());
  return host;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Inbox { seen: Uint8Array[]; accepted: Array<{ data: Uint8Array; from: string }> }

/** Subscribes with a validator that records everything and returns `decide(msg)`. */
function subscribeRecording(host: Host, decide: (msg: Uint8Array) => ValidationResult = () => 'accept'): Inbox {
  const inbox: Inbox = { seen: [], accepted: [] };
  host.subscribe(TOPIC, async (data, from) => {
    inbox.seen.push(data);
    const verdict = decide(data);
    if (verdict === 'accept') inbox.accepted.push({ data, from });
    return verdict;
  });
  return inbox;
}

const has = (inbox: Inbox, data: Uint8Array): boolean =>
  inbox.accepted.some((m) => Buffer.compare(m.data, data) === 0);

async function collect(it: AsyncIterable<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const f of it) out.push(str(f));
  return out;
}

test('gossip: A<-B, A<-C; messages (incl. 2 MiB and max size) reach B and C via validators, B->C is relayed by A', async (t) => {
  const a = await startHost(t);
  const b = await startHost(t, a.multiaddrs());
  const c = await startHost(t, a.multiaddrs());
  assert.match(a.multiaddrs()[0], new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId}$`));

  const inA = subscribeRecording(a);
  const inB = subscribeRecording(b);
  const inC = subscribeRecording(c);
  await waitFor('subscriptions to propagate', () =>
    a.subscribers(TOPIC).length === 2 && b.subscribers(TOPIC).includes(a.peerId) && c.subscribers(TOPIC).includes(a.peerId));
  assert.deepEqual(new Set(a.connectedPeers()), new Set([b.peerId, c.peerId]));

  const hello = text('hello');
  await a.publish(TOPIC, hello);
  await waitFor('hello at B and C', () => has(inB, hello) && has(inC, hello));
  assert.equal(inB.accepted[0].from, a.peerId);
  assert.equal(inC.accepted[0].from, a.peerId);
  assert.equal(inA.seen.length, 0, 'emitSelf is off');

  const big = randomBytes(2 * MiB);
  const max = randomBytes(MAX_GOSSIP_MESSAGE_BYTES); // 4 MiB - 64 KiB
  await a.publish(TOPIC, big);
  await a.publish(TOPIC, max);
  await waitFor('2 MiB + max-size messages at B and C', () => has(inB, big) && has(inC, big) && has(inB, max) && has(inC, max));

  // B only knows A: its messages reach C through A's mesh once A grafted C
  // (heartbeat). Publish distinct messages until one gets through, then
  // check the mesh keeps delivering.
  for (let i = 0; !inC.accepted.some((m) => str(m.data).startsWith('from-b-')); i++) {
    if (i > 100) assert.fail('B->C relay never worked');
    await b.publish(TOPIC, text(`from-b-${i}`));
    await new Promise((r) => setTimeout(r, 100));
  }
  const relayed = text('from-b-final');
  await b.publish(TOPIC, relayed);
  await waitFor('relayed message at A and C', () => has(inA, relayed) && has(inC, relayed));
  assert.equal(inC.accepted.find((m) => str(m.data) === 'from-b-final')?.from, a.peerId);
});

test('gossip: publish without subscribers does not throw; oversized publish does', async (t) => {
  const lone = await startHost(t);
  await lone.publish(TOPIC, text('nobody listens'));
  lone.subscribe(TOPIC, async () => 'accept');
  await lone.publish(TOPIC, text('still nobody'));
  await lone.publish(TOPIC, text('still nobody')); // duplicate id: no-op
  await assert.rejects(lone.publish(TOPIC, new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES + 1)), InvalidArgumentError);
  // gossipsub cannot send RPCs over 4 MiB, so such a limit is refused up front
  await assert.rejects(createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: [], maxMessageBytes: 4 * MiB }), InvalidArgumentError);
});

test('gossip: reject stops delivery on B and penalises the forwarding peer; ignore does not', async (t) => {
  const a = await startHost(t);
  const b = await startHost(t, a.multiaddrs());
  const c = await startHost(t, a.multiaddrs());
  subscribeRecording(a);
  const inB = subscribeRecording(b, (m) => (m[0] === 0xff ? 'reject' : 'accept'));
  const inC = subscribeRecording(c, (m) => (m[0] === 0xee ? 'ignore' : 'accept'));
  await waitFor('subscriptions', () => a.subscribers(TOPIC).length === 2 && b.subscribers(TOPIC).length === 1 && c.subscribers(TOPIC).length === 1);

  const bad = Uint8Array.of(0xff, 1, 2, 3);
  const meh = Uint8Array.of(0xee, 1, 2, 3);
  await a.publish(TOPIC, bad);
  await a.publish(TOPIC, meh);
  await waitFor('B validated bad, C accepted bad and saw meh', () =>
    inB.seen.some((m) => m[0] === 0xff) && has(inC, bad) && inC.seen.some((m) => m[0] === 0xee));
  assert.equal(has(inB, bad), false, 'rejected message must not be delivered');
  assert.equal(has(inC, meh), false, 'ignored message must not be delivered');
  // scores are cached for one heartbeat
  await waitFor('A penalised at B', () => b.peerScore(a.peerId) < 0);
  assert.ok(c.peerScore(a.peerId) >= 0, 'ignore must not penalise');

  // B keeps receiving valid messages from A after a single reject
  const good = text('good');
  await a.publish(TOPIC, good);
  await waitFor('good at B', () => has(inB, good));
});

test('request/response: frames, limits, handler errors, truncation', async (t) => {
  const server = await startHost(t);
  const client = await startHost(t, server.multiaddrs());
  await waitFor('connection', () => client.connectedPeers().includes(server.peerId));
  const s = server.peerId;
  const lim = { maxFrameBytes: 4 * MiB, maxFrames: 100 };

  let lastFrom = '';
  await server.handleRequests('/t/gen/1', async function* (req, from) {
    lastFrom = from;
    const n = Number(str(req));
    for (let i = 0; i < n; i++) yield text(`frame-${i}`);
  }, { maxRequestBytes: 16 });
  await server.handleRequests('/t/array/1', async (req) => [req, new Uint8Array(0), text('x'.repeat(1000))], { maxRequestBytes: 1024 });
  await server.handleRequests('/t/big/1', async () => [randomBytes(3 * MiB), text('after')], { maxRequestBytes: 16 });
  await server.handleRequests('/t/throws/1', async function* (req) {
    yield text('partial');
    throw new Error(`boom ${str(req)}`);
  }, { maxRequestBytes: 16 });
  await server.handleRequests('/t/throws-sync/1', () => { throw new Error('sync boom'); }, { maxRequestBytes: 16 });
  let release = (): void => {};
  await server.handleRequests('/t/hang/1', async function* () {
    yield text('first');
    await new Promise<void>((r) => { release = r; });
  }, { maxRequestBytes: 16 });

  // several frames, in order; zero frames; request bytes reach the handler
  assert.deepEqual(await collect(client.request(s, '/t/gen/1', text('3'), lim)), ['frame-0', 'frame-1', 'frame-2']);
  assert.equal(lastFrom, client.peerId);
  assert.deepEqual(await collect(client.request(s, '/t/gen/1', text('0'), lim)), []);
  const arr = await collect(client.request(s, '/t/array/1', text('echo'), lim));
  assert.deepEqual(arr, ['echo', '', 'x'.repeat(1000)]);

  // a multi-MiB frame is reassembled from many muxer chunks
  const big: Uint8Array[] = [];
  for await (const f of client.request(s, '/t/big/1', text(''), lim)) big.push(f);
  assert.equal(big.length, 2);
  assert.equal(big[0].byteLength, 3 * MiB);
  assert.equal(str(big[1]), 'after');

  // oversized response frame: client aborts with an error, nothing crashes
  await assert.rejects(collect(client.request(s, '/t/array/1', text('echo'), { maxFrameBytes: 100, maxFrames: 10 })), FrameLimitError);
  // too many frames
  await assert.rejects(collect(client.request(s, '/t/gen/1', text('5'), { maxFrameBytes: 100, maxFrames: 4 })), /more than 4 frames/);
  // oversized request: the server resets the stream
  await assert.rejects(collect(client.request(s, '/t/gen/1', text('1'.repeat(17)), lim)));

  // handler errors reset the stream: the client sees an error (possibly after
  // some frames; a reset discards unsent ones), never a silently truncated success
  const got: string[] = [];
  await assert.rejects(async () => { for await (const f of client.request(s, '/t/throws/1', text('x'), lim)) got.push(str(f)); });
  assert.ok(got.length <= 1);
  await assert.rejects(collect(client.request(s, '/t/throws-sync/1', text('x'), lim)));

  // caller abort while the server is mid-response
  const ac = new AbortController();
  await assert.rejects(async () => {
    for await (const f of client.request(s, '/t/hang/1', text(''), { ...lim, signal: ac.signal })) {
      assert.equal(str(f), 'first');
      ac.abort(new Error('caller gave up'));
    }
  }, /caller gave up/);
  release();
  // early break releases the stream too
  for await (const f of client.request(s, '/t/gen/1', text('9'), lim)) { assert.equal(str(f), 'frame-0'); break; }

  // unknown protocol / unknown peer fail cleanly
  await assert.rejects(collect(client.request(s, '/t/nope/1', text(''), lim)));

  // the server is still healthy after all of that
  assert.deepEqual(await collect(client.request(s, '/t/gen/1', text('2'), lim)), ['frame-0', 'frame-1']);
});

test('request/response: a server that goes away mid-response is an error, not a short success', async (t) => {
  const server = await startHost(t);
  const client = await startHost(t);
  await server.handleRequests('/t/hang/1', async function* () {
    yield text('first');
    await new Promise(() => {}); // never finishes
  }, { maxRequestBytes: 16 });
  const it = client.request(server.peerId, '/t/hang/1', text(''), { maxFrameBytes: 100, maxFrames: 10 })[Symbol.asyncIterator]();
  // client has no bootstrap: dialProtocol needs an address
  await assert.rejects(it.next());
  const client2 = await startHost(t, server.multiaddrs());
  await waitFor('connection', () => client2.connectedPeers().includes(server.peerId));
  const it2 = client2.request(server.peerId, '/t/hang/1', text(''), { maxFrameBytes: 100, maxFrames: 10 })[Symbol.asyncIterator]();
  assert.equal(str((await it2.next()).value as Uint8Array), 'first');
  await server.stop();
  await assert.rejects(it2.next());
});

test('noise crypto: the same ciphertext as noise\'s default for whole and chunked messages; opens it, refuses a tampered one, and a reused key array with a new key', () => {
  const bytes = (list: Uint8Array | Uint8ArrayList): Uint8Array => Uint8Array.from(list instanceof Uint8Array ? list : list.subarray());
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const ad = randomBytes(32);
  for (const size of [16, 1199, 1200, 14_000, 65_519]) {
    const plain = randomBytes(size);
    // As yamux hands a frame to noise: header and payload as separate chunks.
    const half = Math.max(12, size >> 1);
    const chunked = new Uint8ArrayList(plain.subarray(0, 12), plain.subarray(12, half), plain.subarray(half));
    const expected = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key));
    assert.deepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key)), expected, `${size} bytes`);
    assert.deepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Encrypt(chunked, nonce, ad, key)), expected, `${size} bytes in chunks`);
    assert.deepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Decrypt(expected, nonce, ad, key)), bytes(plain));
    assert.deepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Decrypt(new Uint8ArrayList(expected.subarray(0, 7), expected.subarray(7)), nonce, ad, key)), bytes(plain));
    const tampered = Uint8Array.from(expected);
    tampered[size >> 1] ^= 1;
    assert.throws(() => fastNoiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, key));
  }
  // The key object is cached per key array, but never outlives the bytes it was made from.
  const plain = randomBytes(5_000);
  const before = bytes(fastNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key));
  key[0] ^= 1;
  assert.notDeepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key)), before);
  assert.deepEqual(bytes(fastNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key)), bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key)));
});

test('frame decoder: split prefixes, early rejection of oversized prefixes', () => {
  const d = new FrameDecoder(300);
  const frame = new Uint8Array(300).fill(7);
  const wire = Buffer.concat([encodeVarint(300), frame, encodeVarint(0), encodeVarint(1), Uint8Array.of(9)]);
  const out: Uint8Array[] = [];
  for (const byte of wire) out.push(...d.push(Uint8Array.of(byte)));
  assert.deepEqual(out.map((f) => f.byteLength), [300, 0, 1]);
  assert.equal(d.partial, false);
  // 301 needs two prefix bytes; rejected as soon as the value is known to exceed the limit
  assert.throws(() => new FrameDecoder(300).push(encodeVarint(301)), FrameLimitError);
  assert.throws(() => new FrameDecoder(100).push(Uint8Array.of(0xff)), FrameLimitError); // first byte alone says >= 127
  assert.throws(() => new FrameDecoder(Number.MAX_SAFE_INTEGER).push(new Uint8Array(9).fill(0x80)), /malformed/);
});

test('identity: key persists in <dir>/peer-key with mode 0600, same peer id across restarts', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-id-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keyDir = join(dir, 'node'); // created on demand

  const [k1, k1b] = await Promise.all([loadOrCreatePeerKey(keyDir), loadOrCreatePeerKey(keyDir)]);
  assert.equal(k1.type, 'Ed25519');
  assert.ok(k1.equals(k1b), 'concurrent creators agree on one key');
  assert.equal((await stat(join(keyDir, 'peer-key'))).mode & 0o777, 0o600);

  const h1 = await createHost({ privateKey: k1, listenPort: 0, bootstrapPeers: [], maxMessageBytes: MiB, log: () => {} });
  const id1 = h1.peerId;
  await h1.stop();
  const k2 = await loadOrCreatePeerKey(keyDir);
  const h2 = await startHost(t, [], { privateKey: k2 });
  assert.equal(h2.peerId, id1);
  assert.equal(peerIdFromPrivateKey(k2).toString(), id1);

  await writeFile(join(dir, 'peer-key'), 'garbage');
  await assert.rejects(loadOrCreatePeerKey(dir), /corrupt libp2p key file/);
});

test('bootstrap: peer that starts 2 s later is connected; a dropped connection is redialled', async (t) => {
  const keyA: PrivateKey = await generateKeyPair('Ed25519');
  const idA = peerIdFromPrivateKey(keyA).toString();
  const port = await freePort();
  const addrA = `/ip4/127.0.0.1/tcp/${port}/p2p/${idA}`;

  const b = await startHost(t, [addrA]);
  const connects: string[] = [];
  b.onPeerConnected((p) => connects.push(p));
  await new Promise((r) => setTimeout(r, 2_000));
  assert.deepEqual(b.connectedPeers(), []);

  let a = await startHost(t, [], { privateKey: keyA, listenPort: port });
  await waitFor('B to reach late A', () => b.connectedPeers().includes(idA), 5_000);
  assert.deepEqual(connects, [idA]);

  // A restarts (same key, same port): B notices the drop and redials
  await a.stop();
  await waitFor('disconnect', () => !b.connectedPeers().includes(idA), 5_000);
  a = await startHost(t, [], { privateKey: keyA, listenPort: port });
  await waitFor('B to reconnect', () => b.connectedPeers().includes(idA), 5_000);
  assert.deepEqual(connects, [idA, idA]);
});
