/**
 * A minimal keep-alive JSON-RPC poster on node:http. Lighter than fetch, which matters because the load
 * generators share this machine's cores with the nodes they measure.
 */
import http from 'node:http';

export class HttpPoster {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;

  constructor(url: string, maxSockets: number) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.path = u.pathname || '/';
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** POSTs `body` (a JSON string) and resolves with the parsed JSON answer; rejects on transport errors. */
  post(body: string, timeoutMs = 60_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: this.host, port: this.port, path: this.path, method: 'POST', agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`), { code: 'http' }));
          }
        });
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('request timed out'), { code: 'timeout' })));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One JSON-RPC call; resolves with `result` or rejects with an Error carrying the JSON-RPC `code`. */
  async call(method: string, params: unknown = []): Promise<unknown> {
    const res = await this.post(`{"jsonrpc":"2.0","id":1,"method":"${method}","params":${JSON.stringify(params)}}`) as { result?: unknown; error?: { code: number; message: string } };
    if (res.error) throw Object.assign(new Error(res.error.message), { code: res.error.code });
    return res.result;
  }

  close(): void {
    this.agent.destroy();
  }
}
