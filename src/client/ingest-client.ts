/**
 * The binary ingest client (docs/sdk.md §Binary ingest; docs/protocol.md §Binary ingest): one WebSocket to a node's
 * `/ingest`, over which signed submissions stream pipelined, each answered by its receipt (matched by request id,
 * in whatever order the node answers). It uses the platform's WebSocket (browsers, Node 22+), so it runs in both.
 *
 * `submit` checks every receipt as `append` does (the header is the log's and signed by its leader, the entries
 * hash from these very payloads at the proven positions, and it names this submission) before returning it.
 * `submitEncoded` returns the receipt as decoded, unchecked: for load generators that check receipts elsewhere.
 */
import { equalBytes } from '../core/bytes.ts';
import { BaseError, errorFromRpc } from '../core/errors.ts';
import { checkReceipt, type Receipt, type ReceiptRules } from '../core/receipt.ts';
import { encodeSubmission, submissionDigest, type Submission } from '../core/submission.ts';
import { decodeIngestAnswer, INGEST_PATH, REQUEST_ID_BYTES, type IngestAnswer } from '../wire/ingest-frames.ts';
import { VerificationError } from './errors.ts';

/**
 * The connection to the node failed or closed (or the answer did not come in time) before a submission was answered:
 * it may or may not be in the log. Sending the same signed submission again tells (retries are idempotent).
 */
export class IngestConnectionError extends BaseError {
  static { this.prototype.name = 'IngestConnectionError'; }
}

export interface IngestClientOptions {
  /** A node's JSON-RPC URL (`http(s)://host:port`: its `/ingest` is used) or the ingest URL itself (`ws(s)://…`). */
  readonly url: string;
  /** What receipts are checked against: a client's `context.rules`, or `{logId, separator, primary}`. */
  readonly rules: ReceiptRules;
  /** Submissions awaiting their answer at once; further calls wait for a slot (256 by default). */
  readonly maxInFlight?: number;
  /** A submission not answered within this long fails with IngestConnectionError (30 s by default). */
  readonly timeoutMs?: number;
  /** A WebSocket class to use instead of the global one. */
  readonly WebSocket?: typeof WebSocket;
}

/** `ws(s)://host:port/ingest` for a node's JSON-RPC URL; a ws(s) URL is kept as it is. */
export function ingestUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.href;
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = INGEST_PATH;
  return u.href;
}

interface Waiting {
  resolve(r: Receipt): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

export class IngestClient {
  readonly url: string;
  private readonly rules: ReceiptRules;
  private readonly socket: WebSocket;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;
  private readonly waiting = new Map<number, Waiting>();
  /** Callers waiting for a slot, in arrival order. */
  private readonly queue: (() => void)[] = [];
  private nextId = 1;
  private failure: IngestConnectionError | undefined;

  private constructor(url: string, socket: WebSocket, opts: IngestClientOptions) {
    this.url = url;
    this.socket = socket;
    this.rules = opts.rules;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 256);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    socket.onmessage = (ev: MessageEvent) => this.onAnswer(new Uint8Array(ev.data as ArrayBuffer));
    socket.onclose = (ev: CloseEvent) => this.fail(`the connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    socket.onerror = () => this.fail('the connection failed');
  }

  /** Opens the connection; rejects with IngestConnectionError if it cannot be opened. */
  static connect(opts: IngestClientOptions): Promise<IngestClient> {
    const url = ingestUrl(opts.url);
    const Socket = opts.WebSocket ?? globalThis.WebSocket;
    return new Promise((resolve, reject) => {
      const socket = new Socket(url);
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => resolve(new IngestClient(url, socket, opts));
      socket.onerror = () => reject(new IngestConnectionError(`cannot open ${url}`, { details: { url } }));
    });
  }

  /** Sends a signed submission and returns its receipt once it is checked (VerificationError if it does not check). */
  async submit(s: Submission): Promise<Receipt> {
    const receipt = await this.submitEncoded(encodeSubmission(s));
    const digest = submissionDigest(this.rules.separator, s);
    const fail = (reason: string): never => {
      throw new VerificationError(`the receipt from ${this.url} does not check: ${reason}`, { details: { url: this.url } });
    };
    if (!equalBytes(receipt.sender, s.sender) || receipt.nonce !== s.nonce || !equalBytes(receipt.submissionDigest, digest)) fail('it names another submission');
    const reason = checkReceipt(this.rules, receipt, s.transactions);
    if (reason) fail(reason);
    return receipt;
  }

  /**
   * Sends a submission already in its wire form (docs/protocol.md §Submission) and returns the receipt as the
   * node sent it, NOT checked. A node's error answer is thrown as its error class (NonceReplayedError, …).
   */
  async submitEncoded(submission: Uint8Array): Promise<Receipt> {
    if (this.waiting.size >= this.maxInFlight || this.queue.length > 0) await new Promise<void>((go) => this.queue.push(go));
    if (this.failure) {
      this.queue.shift()?.();
      throw this.failure;
    }
    let id = this.nextId;
    while (this.waiting.has(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    const message = new Uint8Array(REQUEST_ID_BYTES + submission.byteLength);
    new DataView(message.buffer).setUint32(0, id);
    message.set(submission, REQUEST_ID_BYTES);
    return new Promise<Receipt>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, () => reject(new IngestConnectionError(`no answer from ${this.url} within ${this.timeoutMs} ms`))), this.timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.socket.send(message);
    });
  }

  /** Submissions sent and not yet answered. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Closes the connection; submissions still unanswered fail with IngestConnectionError. */
  close(): void {
    this.fail('closed by the client');
    this.socket.close(1000);
  }

  private onAnswer(bytes: Uint8Array): void {
    let answer: IngestAnswer;
    try {
      answer = decodeIngestAnswer(bytes);
    } catch (e) {
      // A node that speaks garbage is not trusted with the rest of the connection.
      this.fail(`undecodable answer: ${(e as Error).message}`);
      this.socket.close(1002);
      return;
    }
    const w = this.waiting.get(answer.requestId);
    if (!w) return; // a late answer to a request that timed out
    this.settle(answer.requestId, () => {
      if ('receipt' in answer) w.resolve(answer.receipt);
      else w.reject(errorFromRpc(answer.error.code, answer.error.message, answer.error.data));
    });
  }

  /** Forgets a request, settles it, and lets the next waiting caller send. */
  private settle(id: number, how: () => void): void {
    const w = this.waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    how();
    this.queue.shift()?.();
  }

  private fail(why: string): void {
    this.failure ??= new IngestConnectionError(`${this.url}: ${why}`, { details: { url: this.url } });
    for (const [id, w] of [...this.waiting]) this.settle(id, () => w.reject(this.failure));
    for (const go of this.queue.splice(0)) go();
  }
}
