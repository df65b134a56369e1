/**
 * JSON-RPC 2.0 over HTTP (docs/protocol.md §JSON-RPC API). This layer bounds what a client can make the node hold:
 * concurrent connections (capped well below the process's file descriptors, which the store needs, and per remote
 * address), the time a connection may stay idle, trickle a request or take to read its answer, the request body
 * (capped before parsing), and the response (a budget per request, a pool across requests with a share per remote
 * address, and a reserve of its own for appends: dispatcher.ts). The JSON-RPC semantics live in dispatcher.ts.
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
  /** Body bytes of all requests in flight together, each held until its calls have run (HTTP 503, -32006 beyond). */
  readonly maxBodyBytesInFlight: number;
  /** Body bytes read and dropped after a 413 so that the client, still sending, can read the answer; then the connection is cut. */
  readonly maxDiscardBytes: number;
  /** Calls in one JSON-RPC batch array. */
  readonly maxBatchLength: number;
  /** Result bytes of one HTTP request, all read and check calls of a batch array together (-32011 beyond). */
  readonly maxResponseBytes: number;
  /** Log entries one HTTP request may serve (-32011 beyond). */
  readonly maxResponseEntries: number;
  /**
   * Memory held by the results of read and check calls of all requests in flight, counted as RESULT_MEMORY_FACTOR
   * (3) times their result bytes (-32006 beyond).
   */
  readonly maxResponseBytesInFlight: number;
  /** The share of maxResponseBytesInFlight the requests of one remote address may hold together (-32006 beyond). */
  readonly maxResponseBytesPerAddress: number;
  /** Memory held by the answers of write calls (appends) in flight, a reserve of their own (-32006 beyond, before sequencing). */
  readonly maxWriteBytesInFlight: number;
  /** sequencer_verifyReceipt calls running at once in the whole server; the others wait their turn. */
  readonly maxChecksInFlight: number;
  /** A response must be sent within responseTimeoutMs plus its size at minResponseBytesPerSecond, else the connection is cut. */
  readonly responseTimeoutMs: number;
  readonly minResponseBytesPerSecond: number;
  /** Concurrent HTTP connections; more are closed at once. Keep it well below `ulimit -n`: LevelDB and libp2p need descriptors too. */
  readonly maxConnections: number;
  /**
   * Concurrent HTTP connections from one remote address; by default every slot but the reserved ones (a load
   * generator, or a reverse proxy, holds many connections from one address).
   */
  readonly maxConnectionsPerAddress?: number;
  /** Of maxConnections, the slots kept for addresses that hold no connection yet. */
  readonly reservedConnections: number;
  /** A connection sending a request body slower than this on average (after bodyGraceMs) may be evicted for a new one. */
  readonly minBodyBytesPerSecond: number;
  readonly bodyGraceMs: number;
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
  // Two full-size responses at once (each 64 MiB of results, held ~3 times over).
  maxResponseBytesInFlight: 384 * MiB,
  maxResponseBytesPerAddress: 192 * MiB,
  // ~20,000 single-transaction appends in flight (a receipt's bound is reserved, three times over, before it is sequenced).
  maxWriteBytesInFlight: 256 * MiB,
  maxChecksInFlight: 4,
  responseTimeoutMs: 10_000,
  minResponseBytesPerSecond: 512 * 1024,
  maxConnections: 256,
  reservedConnections: 8,
  minBodyBytesPerSecond: 16 * 1024,
  bodyGraceMs: 1_000,
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
  /** Handlers of GET paths besides `/health` (e.g. `/events`: server push, src/rpc/events.ts), by path. */
  readonly getRoutes?: Readonly<Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>>;
  /** Handlers of HTTP Upgrade requests by path (`/ingest`: the binary ingest WebSocket, src/rpc/ingest.ts). */
  readonly upgradeRoutes?: Readonly<Record<string, UpgradeRoute>>;
}

/** What an upgraded connection shares with the server: its limits, the write reserve, and the connection accounting. */
export interface UpgradeContext {
  readonly limits: RpcLimits;
  /** The reserve for the answers of appends (maxWriteBytesInFlight), shared with sequencer_append. */
  readonly writePool: MemoryPool;
  readonly log: Logger;
  /** Marks the connection busy (not evictable for a new connection) or idle (evictable, the longest idle first). */
  setBusy(busy: boolean): void;
}

export type UpgradeRoute = (req: http.IncomingMessage, socket: Socket, head: Buffer, ctx: UpgradeContext) => void;

export interface RpcServer {
  readonly url: string;
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function reply(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The key of a connection's remote address for the per-address caps. */
function addressOf(socket: Socket): string {
  return socket.remoteAddress ?? '';
}

interface Connection {
  readonly socket: Socket;
  readonly address: string;
  /** Requests in progress (more than one only with HTTP pipelining). */
  active: number;
  /** Since when the connection has had no request in progress (evictable), or the request head arrived. */
  since: number;
  /** Set while a request's body is arriving: the socket's bytesRead when its head arrived. */
  receiving: { readonly bytesAtHead: number } | undefined;
}

/**
 * At most `maxConnections` connections at a time, `maxConnectionsPerAddress` of them from one remote address, and the
 * last `reservedConnections` slots only for addresses that hold none yet (so that a new client, or a health check,
 * gets in while other addresses hold the rest). When a cap is reached, a new connection evicts one of the connections
 * it counts against, so that a flood of silent, trickling or parked sockets cannot lock clients out: first the one
 * that has been idle the longest (no request in progress: not yet sent a complete request head, or idle after a
 * response), else the one sending its request body the slowest, if that is below minBodyBytesPerSecond after
 * bodyGraceMs. Only when every connection is busy with a
 * request (being run or answered: bounded by the pools and the response deadline) is the new one closed at once.
 * A connection that has not delivered its first request head within headersTimeoutMs is closed (Node's
 * headersTimeout only runs once a first byte has arrived).
 */
function capConnections(server: http.Server, limits: RpcLimits, log: Logger): { setBusy(socket: Socket, busy: boolean): void } {
  const open = new Map<Socket, Connection>();
  const perAddress = new Map<string, number>();
  /** At most a quarter of the slots are reserved, so that a small cap still serves addresses that hold several. */
  const reserved = Math.min(limits.reservedConnections, Math.floor(limits.maxConnections / 4));
  const perAddressCap = limits.maxConnectionsPerAddress ?? limits.maxConnections - reserved;
  let refused = 0;
  let lastRefusalLog = 0;

  /** The connection to evict among `candidates`, or undefined when each is busy. */
  const victim = (candidates: Iterable<Connection>): Connection | undefined => {
    const now = Date.now();
    let idle: Connection | undefined;
    let slow: { c: Connection; rate: number } | undefined;
    for (const c of candidates) {
      if (c.active === 0) {
        if (!idle || c.since < idle.since) idle = c;
      } else if (c.receiving && now - c.since >= limits.bodyGraceMs) {
        const rate = ((c.socket.bytesRead - c.receiving.bytesAtHead) * 1000) / (now - c.since);
        if (rate < limits.minBodyBytesPerSecond && (!slow || rate < slow.rate)) slow = { c, rate };
      }
    }
    return idle ?? slow?.c;
  };
  const ofAddress = function* (address: string): Iterable<Connection> {
    for (const c of open.values()) if (c.address === address) yield c;
  };

  server.on('connection', (socket: Socket) => {
    const address = addressOf(socket);
    const held = perAddress.get(address) ?? 0;
    const full = held >= perAddressCap;
    // The last reservedConnections slots only go to addresses that hold none yet: a new client gets in even while
    // other addresses hold every other slot busy.
    const reservedOnly = held > 0 && open.size >= limits.maxConnections - reserved;
    if (full || reservedOnly || open.size >= limits.maxConnections) {
      // Over its address's cap, or asking for a reserved slot, a connection can only evict one of its own address.
      const evicted = victim(full || (reservedOnly && open.size < limits.maxConnections) ? ofAddress(address) : open.values());
      if (!evicted) {
        socket.destroy();
        refused++;
        if (Date.now() - lastRefusalLog >= 10_000) {
          lastRefusalLog = Date.now();
          log.warn('RPC connection refused: every connection it would count against is busy and a cap is reached', {
            maxConnections: limits.maxConnections, maxConnectionsPerAddress: perAddressCap, reservedConnections: reserved, refusedSinceStart: refused,
          });
        }
        return;
      }
      evicted.socket.destroy();
      forget(evicted.socket);
    }
    open.set(socket, { socket, address, active: 0, since: Date.now(), receiving: undefined });
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1); // `held` may have dropped by an eviction
    socket.setTimeout(limits.headersTimeoutMs);
    socket.once('close', () => forget(socket));
  });
  const forget = (socket: Socket): void => {
    const c = open.get(socket);
    if (!c) return;
    open.delete(socket);
    const n = (perAddress.get(c.address) ?? 1) - 1;
    if (n > 0) perAddress.set(c.address, n);
    else perAddress.delete(c.address);
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const c = open.get(req.socket);
    if (!c) return;
    c.active++;
    c.since = Date.now();
    const receiving = { bytesAtHead: req.socket.bytesRead };
    c.receiving = receiving;
    req.once('end', () => {
      if (c.receiving === receiving) c.receiving = undefined;
    });
    req.socket.setTimeout(limits.idleTimeoutMs);
    res.once('close', () => {
      if (c.receiving === receiving) c.receiving = undefined;
      if (--c.active === 0) c.since = Date.now();
    });
  });
  return {
    // An upgraded connection (no HTTP request in progress) is busy while it has work in flight.
    setBusy: (socket, busy) => {
      const c = open.get(socket);
      if (!c || (c.active > 0) === busy) return;
      c.active = busy ? 1 : 0;
      c.since = Date.now();
    },
  };
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
  const dispatcher = new Dispatcher({ methods: opts.methods, maxBatchLength: limits.maxBatchLength, maxChecksInFlight: limits.maxChecksInFlight, log });
  const responsePool = new MemoryPool(limits.maxResponseBytesInFlight);
  const writePool = new MemoryPool(limits.maxWriteBytesInFlight);
  /** Each remote address's share of the response pool, with the number of its requests holding it. */
  const addressShares = new Map<string, { pool: MemoryPool; requests: number }>();
  const joinShare = (address: string): { pool: MemoryPool; leave: () => void } => {
    let share = addressShares.get(address);
    if (!share) addressShares.set(address, (share = { pool: new MemoryPool(limits.maxResponseBytesPerAddress), requests: 0 }));
    share.requests++;
    const held = share;
    return { pool: held.pool, leave: () => { if (--held.requests === 0) addressShares.delete(address); } };
  };
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

  /**
   * Writes a JSON-RPC answer piece by piece (never joined into one more copy). It must be sent within
   * responseTimeoutMs plus its size at minResponseBytesPerSecond: a client that reads it slower (or not at all)
   * loses the connection, and the pools get its bytes back.
   */
  const send = (res: http.ServerResponse, pieces: readonly string[]): void => {
    const length = pieces.reduce((n, p) => n + Buffer.byteLength(p), 0);
    const deadline = setTimeout(() => res.destroy(), limits.responseTimeoutMs + (length * 1000) / limits.minResponseBytesPerSecond);
    res.once('finish', () => clearTimeout(deadline));
    res.once('close', () => clearTimeout(deadline));
    res.writeHead(200, { ...JSON_HEADERS, 'content-length': length });
    res.cork(); // one writev for all the pieces, not one write each
    for (const piece of pieces) res.write(piece);
    res.end();
  };

  const handleRpc = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (Number(req.headers['content-length'] ?? 0) > limits.maxBodyBytes) return refuseBody(req, res, 413, tooLargeBody);
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    let closed = false;
    /** Set while the request is dispatched: what must run once both the dispatch has finished and the connection closed. */
    let dispatching: { finished: boolean; release: () => void } | undefined;
    // The body and what is parsed from it are held until the dispatch is over (or the request is refused): a client
    // that is slow to read its answer holds the answer's memory, counted in the response pools, not its body's.
    const releaseBody = () => bodyPool.give(size);
    res.once('close', () => {
      closed = true;
      if (!dispatching) return releaseBody();
      if (dispatching.finished) return dispatching.release();
    });
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
      if (refused || closed) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 200, errorResponse(null, { code: -32700, message: 'parse error' }));
      }
      chunks.length = 0;
      const share = joinShare(addressOf(req.socket));
      const budget = new RequestBudget({ maxBytes: limits.maxResponseBytes, maxEntries: limits.maxResponseEntries }, { read: [responsePool, share.pool], write: writePool });
      // Calls still running when the client goes away take nothing more, and their bytes are given back only once
      // they are over: what they built is held until then.
      const state: { finished: boolean; release: () => void } = dispatching = {
        finished: false,
        release: () => {
          budget.release();
          share.leave();
        },
      };
      // Only a request still being answered is abandoned (an error with a stack per normal response cost ~5 % of a poll).
      res.once('close', () => { if (!state.finished) budget.abandon(); });
      const finish = (answer: () => void) => {
        state.finished = true;
        releaseBody();
        if (closed) return state.release();
        answer();
      };
      dispatcher.handle(body, budget).then(
        (pieces) => finish(() => (pieces === undefined ? res.writeHead(204).end() : send(res, pieces))),
        (e: unknown) => finish(() => {
          log.error('RPC dispatch failed', { error: (e as Error)?.stack ?? String(e) });
          reply(res, 500, errorResponse(null, { code: -32603, message: 'internal error' }));
        }),
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
    // Any web page may call the API (the browser SDK, the explorer): it has no cookies or credentials to protect.
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      return res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' }).end();
    }
    if (req.method === 'POST') return handleRpc(req, res);
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/health') return reply(res, 200, '{"ok":true}');
      const route = opts.getRoutes?.[path];
      if (route && req.method === 'GET') return route(req, res);
      if (path !== '/') return reply(res, 404, errorResponse(null, { code: -32600, message: `no such path: JSON-RPC is POST /, health is GET /health` }));
    }
    reply(res, 405, errorResponse(null, { code: -32600, message: 'use HTTP POST for JSON-RPC' }), { allow: 'POST' });
  });
  server.timeout = limits.idleTimeoutMs;
  const connections = capConnections(server, limits, log);
  /** Upgraded sockets, which the HTTP server no longer tracks (closeAllConnections does not reach them). */
  const upgraded = new Set<Socket>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    const route = opts.upgradeRoutes?.[(req.url ?? '/').split('?')[0]];
    if (!route) return void socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    route(req, socket, head, { limits, writePool, log, setBusy: (busy) => connections.setBusy(socket, busy) });
  });
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
      for (const socket of upgraded) socket.destroy();
    }),
  };
}
