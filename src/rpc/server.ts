/**
 * JSON-RPC 2.0 over HTTP. The body is read with a hard size cap before any parsing; jayson then handles
 * request validation, batches and method dispatch. Errors leave as plain {code, message, data} objects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import jayson from 'jayson/promise/index.js';
import { ErrorCode, SequencerError } from '../core/errors.ts';
import type { Logger } from '../node/logger.ts';
import type { MethodHandler } from './methods.ts';

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Requests per JSON-RPC batch array. */
export const MAX_BATCH_LENGTH = 1000;

export interface RpcServerOptions {
  readonly methods: Record<string, MethodHandler>;
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes?: number;
  readonly log: Logger;
}

export interface RpcServer {
  readonly url: string;
  close(): Promise<void>;
}

interface RpcErrorObject { code: number; message: string; data?: unknown }

function toRpcError(e: unknown, log: Logger): RpcErrorObject {
  if (e instanceof SequencerError) return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
  log.error('internal error in RPC method', { error: (e as Error)?.stack ?? String(e) });
  return { code: -32603, message: 'internal error' };
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
}

export async function startRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const methods: Record<string, (params: unknown) => Promise<unknown>> = {};
  for (const [name, handler] of Object.entries(opts.methods)) {
    methods[name] = (params: unknown) => handler(params).catch((e: unknown) => Promise.reject(toRpcError(e, opts.log)));
  }
  const rpc = new jayson.Server(methods as never, { maxBatchLength: MAX_BATCH_LENGTH });

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/health') return reply(200, '{"ok":true}');
    if (req.method !== 'POST') return reply(405, errorBody(-32600, 'use HTTP POST'));
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) {
      reply(413, errorBody(ErrorCode.TooLarge, `request body exceeds ${maxBody} bytes`));
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody && !aborted) {
        aborted = true;
        reply(413, errorBody(ErrorCode.TooLarge, `request body exceeds ${maxBody} bytes`));
        req.destroy();
        return;
      }
      if (!aborted) chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      if (aborted) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(200, errorBody(-32700, 'parse error'));
      }
      rpc.call(body as never, (error: unknown, response: unknown) => {
        const out = error ?? response;
        if (out === undefined || (Array.isArray(out) && out.length === 0)) {
          res.writeHead(204).end(); // notifications only
          return;
        }
        reply(200, JSON.stringify(out));
      });
    });
  });
  server.keepAliveTimeout = 30_000;
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
