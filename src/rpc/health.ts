/**
 * Health endpoints for orchestrators and load balancers (docs/metrics.md §Health): GET /livez answers 200 while the
 * process serves HTTP at all; GET /readyz answers 200 only when the node should be sent traffic
 * (SequencerNode.readiness: not halted, store writable, past start-up recovery, connected, caught up), else 503,
 * with a JSON body that says why either way.
 */
import type http from 'node:http';
import type { SequencerNode } from '../node/sequencer-node.ts';

type GetRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // Never cached: a proxy must not answer a probe with an old verdict.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function healthRoutes(node: Pick<SequencerNode, 'readiness'>): Record<'/livez' | '/readyz', GetRoute> {
  return {
    '/livez': (_req, res) => json(res, 200, { live: true }),
    '/readyz': (_req, res) => {
      const r = node.readiness();
      json(res, r.ready ? 200 : 503, r);
    },
  };
}
