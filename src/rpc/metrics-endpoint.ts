/**
 * GET /metrics: the node's metrics in the Prometheus text exposition format (docs/metrics.md). Scraping only
 * reads them (counters and histograms are never reset by a scrape).
 */
import type http from 'node:http';
import type { SequencerNode } from '../node/sequencer-node.ts';

export function metricsRoute(node: Pick<SequencerNode, 'metricsText'>): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (_req, res) => {
    node.metricsText().then(({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(body);
    }, (e: unknown) => {
      const text = JSON.stringify({ error: `metrics could not be collected: ${(e as Error)?.message ?? String(e)}` });
      res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  };
}
