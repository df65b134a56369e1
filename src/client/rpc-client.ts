/** A small JSON-RPC 2.0 client over HTTP (fetch), used by the CLI, tests and benchmarks. */
import type { Submission } from '../core/submission.ts';
import { submissionToJson } from '../wire/json.ts';

export class RpcError extends Error {
  override name = 'RpcError';
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

interface JsonRpcResponse { id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } }

export class RpcClient {
  readonly url: string;
  /** Each request (and reading its answer) fails after this long; none by default. */
  readonly timeoutMs: number | undefined;
  private nextId = 1;

  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    this.url = url;
    this.timeoutMs = opts.timeoutMs;
  }

  private async post(body: unknown): Promise<unknown> {
    const signal = this.timeoutMs !== undefined ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const res = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new RpcError(-32700, `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
  }

  async call<T = unknown>(method: string, params: unknown = []): Promise<T> {
    const res = (await this.post({ jsonrpc: '2.0', id: this.nextId++, method, params })) as JsonRpcResponse;
    if (res.error) throw new RpcError(res.error.code, res.error.message, res.error.data);
    return res.result as T;
  }

  /** One HTTP request carrying a JSON-RPC batch array; results (or RpcErrors) in request order. */
  async callBatch(calls: readonly { method: string; params: unknown }[]): Promise<(unknown | RpcError)[]> {
    const first = this.nextId;
    this.nextId += calls.length;
    const res = (await this.post(calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params })))) as JsonRpcResponse[] | JsonRpcResponse;
    if (!Array.isArray(res)) throw new RpcError(res.error?.code ?? -32603, res.error?.message ?? 'unexpected response');
    const byId = new Map(res.map((r) => [r.id, r]));
    return calls.map((_, i) => {
      const r = byId.get(first + i);
      if (!r) return new RpcError(-32603, 'missing response');
      return r.error ? new RpcError(r.error.code, r.error.message, r.error.data) : r.result;
    });
  }

  append(s: Submission): Promise<Record<string, any>> {
    return this.call('sequencer_append', [submissionToJson(s)]);
  }

  read(fromSeq: number, limit: number): Promise<Record<string, any>[]> {
    return this.call('sequencer_read', [{ fromSeq, limit }]);
  }

  info(): Promise<Record<string, any>> {
    return this.call('sequencer_info', []);
  }

  getBatch(height: number): Promise<Record<string, any>> {
    return this.call('sequencer_getBatch', [height]);
  }

  getProof(seq: number): Promise<Record<string, any>> {
    return this.call('sequencer_getProof', [seq]);
  }
}
