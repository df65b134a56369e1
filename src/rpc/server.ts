/**
 * JSON-RPC 2.0 over HTTP (docs/protocol.md §JSON-RPC API). This layer bounds what a client can make the node hold:
 * concurrent connections (capped well below the process's file descriptors, which the store needs), the time a
 * connection may stay idle or trickle a request, the request body (capped before parsing), and the response
 * (a budget per request and a pool across requests, dispatcher.ts). The JSON-RPC semantics live in dispatcher.ts.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Dispatcher, errorResponse, MemoryPool, RequestBudget, type MethodSpec } from './dispatcher.ts';

const MiB = 1024 * 1024;

export interface RpcLimits {
  /** Request body bytes, checked before parsing (HTTP 413, -32005). */
  readonly maxBodyBytes: number;
  /** Body bytes of all requests in flight together, held until each is answered (HTTP 503, -32006 beyond). */
  readonly maxBodyBytesInFlight: number;
  /** Body bytes read and dropped after a 413 so that the client, still sending, can read the answer; then the connection is cut. */
  readonly maxDiscardBytes: number;
  /** Calls in one JSON-RPC batch array. */
  readonly maxBatchLength: number;
  /** Result bytes of one HTTP request, all calls of a batch array together (-32011 beyond). */
  readonly maxResponseBytes: number;
  /** Log entries one HTTP request may serve (-32011 beyond). */
  readonly maxResponseEntries: number;
  /** Result bytes held by all requests in flight together (-32006 beyond). */
  readonly maxResponseBytesInFlight: number;
  /** Concurrent HTTP connections; more are closed at once. Keep it well below `ulimit -n`: LevelDB and libp2p need descriptors too. */
  readonly maxConnections: number;
  /** Time for a connection to deliver a request's headers (from its first byte, or from its opening). */
  readonly headersTimeoutMs: number;
  /** Time for a connection to deliver a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** Time an idle keep-alive connection stays open between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Time a connection may go without any traffic in either direction (a client that stops reading its answer). */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  maxBodyBytes: 8 * MiB,
  maxBodyBytesInFlight: 128 * MiB,
  maxDiscardBytes: 16 * MiB,
  maxBatchLength: 1000,
  maxResponseBytes: 64 * MiB,
  maxResponseEntries: 100_000,
  maxResponseBytesInFlight: 256 * MiB,
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
};

export interface RpcServerOptions {
  readonly methods: Record<string, MethodSpec>;
  readonly host: string;
  readonly port: number;
  readonly limits?: Partial<RpcLimits>;
  readonly log: Logger;
}

export interface RpcServer {
  readonly url: string;
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * At most `maxConnections` connections at a time. A connection between requests (not yet sent a complete request
 * head, or idle after a response) is *evictable*: when the cap is reached, a new connection evicts the one that has
 * been evictable the longest, so a flood of silent or trickling sockets cannot lock clients out; only when every
 * connection is busy with a request is the new one closed at once. A connection that has not delivered its first
 * request head within headersTimeoutMs is closed (Node's headersTimeout only runs once a first byte has arrived).
 */
function capConnections(server: http.Server, limits: RpcLimits, log: Logger): void {
  const open = new Set<Socket>();
  /** Connections with no request in progress, in the order they became so (the first is evicted first). */
  const evictable = new Set<Socket>();
  /** Requests in progress per connection (more than one only with HTTP pipelining). */
  const active = new Map<Socket, number>();
  let refused = 0;
  let lastRefusalLog = 0;
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      const oldest = evictable.values().next().value;
      if (oldest === undefined) {
        socket.destroy();
        refused++;
        if (Date.now() - lastRefusalLog >= 10_000) {
          lastRefusalLog = Date.now();
          log.warn('RPC connection refused: every connection is busy and the cap is reached', { maxConnections: limits.maxConnections, refusedSinceStart: refused });
        }
        return;
      }
      open.delete(oldest);
      evictable.delete(oldest);
      oldest.destroy();
    }
    open.add(socket);
    evictable.add(socket);
    socket.setTimeout(limits.headersTimeoutMs);
    socket.once('close', () => {
      open.delete(socket);
      evictable.delete(socket);
      active.delete(socket);
    });
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    if (!open.has(socket)) return;
    evictable.delete(socket);
    active.set(socket, (active.get(socket) ?? 0) + 1);
    socket.setTimeout(limits.idleTimeoutMs);
    res.once('close', () => {
      const n = (active.get(socket) ?? 1) - 1;
      if (n > 0) return void active.set(socket, n);
      active.delete(socket);
      if (open.has(socket)) evictable.add(socket);
    });
  });
}

/** The process's soft limit of open files (Linux), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export async function startRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  // Fields given as undefined keep their default.
  const limits: RpcLimits = { ...DEFAULT_RPC_LIMITS, ...Object.fromEntries(Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)) };
  const { log } = opts;
  const fdLimit = openFileLimit();
  if (fdLimit !== undefined && limits.maxConnections > fdLimit / 2) {
    log.warn('the RPC connection cap leaves the store and libp2p few file descriptors: lower --rpc-max-connections or raise ulimit -n', { maxConnections: limits.maxConnections, openFileLimit: fdLimit });
  }
  const dispatcher = new Dispatcher({ methods: opts.methods, maxBatchLength: limits.maxBatchLength, log });
  const responsePool = new MemoryPool(limits.maxResponseBytesInFlight);
  const bodyPool = new MemoryPool(limits.maxBodyBytesInFlight);
  const tooLargeBody = errorResponse(null, { code: ErrorCode.TooLarge, message: `request body exceeds ${limits.maxBodyBytes} bytes`, data: { limit: limits.maxBodyBytes } });
  const overloadedBody = errorResponse(null, { code: ErrorCode.Overloaded, message: 'too many request bodies in flight, retry later' });

  /**
   * Refuses a request while its body is still coming (413 over the cap, 503 when the bodies in flight fill their
   * pool). The answer is written at once, but the connection is closed only after the client has finished sending
   * (the rest of the body is read and dropped, up to maxDiscardBytes): closing a socket with unread input makes the
   * kernel reset the connection, and the client would lose the answer it has not read yet.
   */
  const refuseBody = (req: http.IncomingMessage, res: http.ServerResponse, status: number, answer: string): void => {
    req.removeAllListeners('data');
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(answer), connection: 'close' });
    res.write(answer);
    let dropped = 0;
    req.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > limits.maxDiscardBytes) {
        res.end();
        req.socket.destroy();
      }
    });
    req.on('end', () => res.end());
    req.resume();
  };

  const handleRpc = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (Number(req.headers['content-length'] ?? 0) > limits.maxBodyBytes) return refuseBody(req, res, 413, tooLargeBody);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    // The body and what is parsed from it are held until the answer is sent: their bytes stay taken until then.
    res.once('close', () => bodyPool.give(size));
    req.on('data', (chunk: Buffer) => {
      const over = size + chunk.length > limits.maxBodyBytes;
      if (over || chunk.length > bodyPool.free) {
        refused = true;
        chunks.length = 0;
        refuseBody(req, res, over ? 413 : 503, over ? tooLargeBody : overloadedBody);
        return;
      }
      size += chunk.length;
      bodyPool.take(chunk.length);
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 200, errorResponse(null, { code: -32700, message: 'parse error' }));
      }
      chunks.length = 0;
      const budget = new RequestBudget({ maxBytes: limits.maxResponseBytes, maxEntries: limits.maxResponseEntries }, responsePool);
      res.on('close', () => budget.release());
      dispatcher.handle(body, budget).then(
        (text) => (text === undefined ? res.writeHead(204).end() : reply(res, 200, text)),
        (e: unknown) => {
          log.error('RPC dispatch failed', { error: (e as Error)?.stack ?? String(e) });
          reply(res, 500, errorResponse(null, { code: -32603, message: 'internal error' }));
        },
      );
    });
  };

  const server = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often Node checks the two timeouts above (its default, 30 s, would let a stuck connection live that much longer).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
  }, (req, res) => {
    req.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST') return handleRpc(req, res);
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/health') return reply(res, 200, '{"ok":true}');
      if (path !== '/') return reply(res, 404, errorResponse(null, { code: -32600, message: `no such path: JSON-RPC is POST /, health is GET /health` }));
    }
    reply(res, 405, errorResponse(null, { code: -32600, message: 'use HTTP POST for JSON-RPC' }), { allow: 'POST' });
  });
  server.timeout = limits.idleTimeoutMs;
  capConnections(server, limits, log);
  // A client announcing an oversized body with `Expect: 100-continue` is refused before it sends it.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (Number(req.headers['content-length'] ?? 0) > limits.maxBodyBytes) return reply(res, 413, tooLargeBody, { connection: 'close' });
    res.writeContinue();
    server.emit('request', req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
