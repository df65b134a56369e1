/**
 * A lying node for SDK tests: an HTTP server that forwards JSON-RPC calls to a real node and lets the test rewrite
 * the answers (a tampered payload, a forged header). It offers no `/events` stream, so clients poll it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Returns the result to answer instead of the real one (or the real one, unchanged); `result` is undefined when the node answered an error, which stands unless a result is returned. */
export type Rewrite = (method: string, params: unknown, result: unknown) => unknown;

export interface RpcProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function startRpcProxy(target: string, rewrite: Rewrite): Promise<RpcProxy> {
  const server = http.createServer((req, res) => {
    // CORS as a node answers it, so that a page from a node's origin (the explorer) can be pointed at the proxy.
    res.setHeader('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') return res.writeHead(204, { 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' }).end();
    if (req.method !== 'POST') return res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const call = JSON.parse(body) as { method: string; params: unknown };
      const answer = await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json() as { result?: unknown; error?: unknown };
      const result = rewrite(call.method, call.params, answer.result);
      if (result !== undefined) {
        delete answer.error;
        answer.result = result;
      }
      const out = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) }).end(out);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
