/**
 * A small JSON-RPC 2.0 client over HTTP (fetch), used by the CLI, tests and benchmarks. Its methods return the API's
 * result types (src/wire/rpc-types.ts); a node's error answer is thrown as the project's error of that code
 * (NonceReplayedError for -32003, …: core/errors.ts errorFromRpc), so callers can `instanceof` it.
 */
import type { Submission } from '../core/submission.ts';
import { BaseError, ErrorCode, errorFromRpc, SequencerError } from '../core/errors.ts';
import { submissionToJson } from '../wire/json.ts';
import type { AppendOptions, FinalReceiptJson, ReceiptJson, RpcMethodName, RpcParams, RpcResult } from '../wire/rpc-types.ts';

/**
 * Any error a node answered with: its JSON-RPC `code`, `message` and `data`. The codes of docs/protocol.md §Errors
 * arrive as their own subclasses (NonceReplayedError, BadSignatureError, …); this is SequencerError under the name
 * the client has always exported.
 */
export { SequencerError as RpcError } from '../core/errors.ts';

/** The body of `res` as text, or throws (code 'ResponseTooLarge') once it exceeds `maxBytes`, reading no further. */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const tooLarge = () => new BaseError(`response exceeds ${maxBytes} bytes`, { code: 'ResponseTooLarge', details: { maxBytes } });
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return '';
  // Streamed, so that an oversized answer without a Content-Length is cut off too (the client runs in browsers: no Buffer).
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    size += r.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(r.value, { stream: true });
  }
  return text + decoder.decode();
}

interface JsonRpcResponse { id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } }

export class RpcClient {
  readonly url: string;
  /** Each request (and reading its answer) fails after this long; none by default. */
  readonly timeoutMs: number | undefined;
  /** A larger answer is not read (an untrusted node must not make the caller buffer without bound); none by default. */
  readonly maxResponseBytes: number | undefined;
  /** The fetch used (the global one by default): a caller may bring its own, e.g. with a proxy or instrumentation. */
  readonly fetch: typeof fetch;
  private nextId = 1;

  constructor(url: string, opts: { timeoutMs?: number; maxResponseBytes?: number; fetch?: typeof fetch } = {}) {
    this.url = url;
    this.timeoutMs = opts.timeoutMs;
    this.maxResponseBytes = opts.maxResponseBytes;
    this.fetch = opts.fetch ?? ((input, init) => fetch(input, init));
  }

  private async post(body: unknown): Promise<unknown> {
    const signal = this.timeoutMs !== undefined ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const res = await this.fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    const text = this.maxResponseBytes === undefined ? await res.text() : await readCapped(res, this.maxResponseBytes);
    try {
      return JSON.parse(text);
    } catch {
      throw new SequencerError(ErrorCode.ParseError, `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
  }

  /** Any method with any params, unchecked (for methods of other versions, or to send a malformed call on purpose). */
  async call<T = unknown>(method: string, params: unknown = []): Promise<T> {
    const res = (await this.post({ jsonrpc: '2.0', id: this.nextId++, method, params })) as JsonRpcResponse;
    if (res.error) throw errorFromRpc(res.error.code, res.error.message, res.error.data);
    return res.result as T;
  }

  /** A method of the API with its params by position, typed with its result. */
  request<M extends RpcMethodName>(method: M, params: RpcParams<M>): Promise<RpcResult<M>> {
    return this.call(method, params);
  }

  /** One HTTP request carrying a JSON-RPC batch array; results (or the errors answered) in request order. */
  async callBatch(calls: readonly { method: string; params: unknown }[]): Promise<(unknown | SequencerError)[]> {
    const first = this.nextId;
    this.nextId += calls.length;
    const res = (await this.post(calls.map((c, i) => ({ jsonrpc: '2.0', id: first + i, method: c.method, params: c.params })))) as JsonRpcResponse[] | JsonRpcResponse;
    if (!Array.isArray(res)) throw errorFromRpc(res.error?.code ?? ErrorCode.Internal, res.error?.message ?? 'unexpected response', res.error?.data);
    const byId = new Map(res.map((r) => [r.id, r]));
    return calls.map((_, i) => {
      const r = byId.get(first + i);
      if (!r) return new SequencerError(ErrorCode.Internal, 'missing response');
      return r.error ? errorFromRpc(r.error.code, r.error.message, r.error.data) : r.result;
    });
  }

  /** Appends; with `{wait: 'final'}` the node answers once the receipt's height is final (or -32013 after `finalTimeoutMs`). */
  append(s: Submission, options?: AppendOptions): Promise<RpcResult<'sequencer_append'>> {
    return this.request('sequencer_append', options ? [submissionToJson(s), options] : [submissionToJson(s)]);
  }

  read(fromSeq: number, limit: number): Promise<RpcResult<'sequencer_read'>> {
    return this.request('sequencer_read', [{ fromSeq, limit }]);
  }

  info(): Promise<RpcResult<'sequencer_info'>> {
    return this.request('sequencer_info', []);
  }

  getBatch(height: number): Promise<RpcResult<'sequencer_getBatch'>> {
    return this.request('sequencer_getBatch', [height]);
  }

  getProof(seq: number): Promise<RpcResult<'sequencer_getProof'>> {
    return this.request('sequencer_getProof', [seq]);
  }

  verifyReceipt(receipt: ReceiptJson | FinalReceiptJson): Promise<RpcResult<'sequencer_verifyReceipt'>> {
    return this.request('sequencer_verifyReceipt', [receipt]);
  }

  getCertificate(height: number): Promise<RpcResult<'sequencer_getCertificate'>> {
    return this.request('sequencer_getCertificate', [height]);
  }

  getEquivocations(): Promise<RpcResult<'sequencer_getEquivocations'>> {
    return this.request('sequencer_getEquivocations', []);
  }
}
