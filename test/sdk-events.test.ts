/**
 * The server push the SDK follows (src/rpc/events.ts, GET /events) and its bounds: at most maxStreams streams at
 * once, and a consumer that stops reading is dropped once its unsent bytes pass maxBufferedBytes. Served by a real
 * HTTP server (the RPC server's own) from a tip source the test drives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Tip } from '../src/core/batch.ts';
import { silentLogger } from '../src/core/logger.ts';
import { eventsRoute, type EventStreamLimits, type TipSource } from '../src/rpc/events.ts';
import { startRpcServer } from '../src/rpc/server.ts';
import { waitFor } from './helpers/network.ts';

/** A tip source the test advances by hand; counts its listeners. */
function tipSource(): TipSource & { advance(): void; listeners: number } {
  const listeners: ((tip: Tip) => void)[] = [];
  let height = 0;
  return {
    get listeners() { return listeners.length; },
    onBatchStored(l) {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
    info: () => ({ height, headerHash: '0x' + '00'.repeat(32), entries: height + 1 }),
    advance() {
      height++;
      const tip: Tip = { height, headerHash: new Uint8Array(32).fill(height % 256), nextSeq: height + 1, headHash: new Uint8Array(32), timestamp: 0 };
      for (const l of [...listeners]) l(tip);
    },
  };
}

/** The RPC server serving only `/events` from `source` with `limits`; closed after the test. */
async function serveEvents(t: { after: (fn: () => Promise<void>) => void }, source: TipSource, limits: EventStreamLimits): Promise<string> {
  const server = await startRpcServer({ methods: {}, host: '127.0.0.1', port: 0, log: silentLogger, getRoutes: { '/events': eventsRoute(source, limits) } });
  t.after(() => server.close());
  return server.url;
}

test('GET /events: at most maxStreams at once (503 beyond), and a slot frees when a stream closes', async (t) => {
  const source = tipSource();
  const url = await serveEvents(t, source, { maxStreams: 2, maxBufferedBytes: 64 * 1024, heartbeatMs: 60_000 });
  const a = new AbortController();
  const first = await fetch(`${url}/events`, { signal: a.signal });
  const second = await fetch(`${url}/events`);
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  const third = await fetch(`${url}/events`);
  assert.equal(third.status, 503);
  assert.match((await third.json() as { error: { message: string } }).error.message, /too many event streams/);
  a.abort();
  await waitFor(() => source.listeners === 1, 5_000, 'the aborted stream to be released');
  const fourth = await fetch(`${url}/events`);
  assert.equal(fourth.status, 200);
  await second.body!.cancel();
  await fourth.body!.cancel();
});

test('GET /events: a consumer that stops reading is dropped once its backlog passes the bound', async (t) => {
  const source = tipSource();
  const url = await serveEvents(t, source, { maxStreams: 4, maxBufferedBytes: 16 * 1024, heartbeatMs: 60_000 });
  // A raw socket that sends the request and never reads: the kernel buffers fill, then the stream's own backlog.
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.pause();
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write('GET /events HTTP/1.1\r\nhost: x\r\n\r\n');
  await waitFor(() => source.listeners === 1, 5_000, 'the stream to open');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  for (let i = 0; i < 200_000 && source.listeners > 0; i++) {
    source.advance();
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.equal(source.listeners, 0, 'the server dropped the stream');
  socket.resume();
  await closed;
});
