/**
 * JSON-RPC 2.0 dispatch (https://www.jsonrpc.org/specification), independent of HTTP: request validation, batch
 * arrays, notifications, and the response budget that one HTTP request shares between all its calls
 * (docs/protocol.md §JSON-RPC API, limits). Every element of a batch array is answered on its own: an element
 * that is not a valid request object gets its own -32600, never silence.
 */
import { BudgetExceededError, OverloadedError, SequencerError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { isObject } from '../wire/json.ts';

export type JsonRpcId = string | number | null;

export interface ErrorObject { code: number; message: string; data?: unknown }

/** What a running method may spend of its HTTP request's budget. */
export interface CallBudget {
  /**
   * Takes `n` result bytes from the request's budget and the pools *before* building that part of the result,
   * so no call builds more than it may send; false, and nothing taken, when they do not fit.
   */
  reserve(n: number): boolean;
  /** Entries this call may still serve. */
  entriesLeft(): number;
  /** Spends `n` entries; throws BudgetExceededError (nothing spent) when fewer are left. */
  spendEntries(n: number): void;
  /** Throws the error of the last `reserve` that failed: -32011 (this request's budget) or -32006 (a pool). */
  outOfBytes(): never;
}

/**
 * How the dispatcher runs a method's calls (docs/protocol.md §JSON-RPC API):
 * - `read` (the default): read-only; the calls of one request run one at a time in array order, each charged to
 *   the request's budget and the read pools, and refused (changing nothing) past them.
 * - `write` (sequencer_append): changes state; runs at once, concurrently with the request's other calls (the
 *   calls of one array share a group commit). Its answer, bounded by its params, is charged to the write reserve,
 *   a pool of its own, so that readers, however many or slow, can never refuse or delay an append.
 * - `check` (sequencer_verifyReceipt): may record a proof, but costs what a read costs (it loads a stored batch):
 *   it takes its turn with the reads of its request, is charged to the request's budget, and at most
 *   `maxChecksInFlight` run at once in the whole server.
 * Once a `write` or `check` call has run, its answer is always delivered (charged even past the bounds).
 */
export type CallKind = 'read' | 'write' | 'check';

/** One method; `Result` is its result's JSON type (src/wire/rpc-types.ts). */
export interface MethodSpec<Result = unknown> {
  run(params: unknown, budget: CallBudget): Promise<Result>;
  readonly kind?: CallKind;
}

export interface BudgetLimits {
  /** Result bytes one HTTP request may produce (all read and check calls of a batch array together). */
  readonly maxBytes: number;
  /** Entries one HTTP request may serve (sequencer_read entries, sequencer_getBatch entries, …). */
  readonly maxEntries: number;
}

/**
 * The memory a response's result bytes really hold before they have left the process, as a multiple of those
 * bytes: the result's values while a call builds them (hex strings), the call's JSON text, and the socket's write
 * buffer (the response is written call by call, never joined into one more copy). Pools are charged this multiple.
 */
export const RESULT_MEMORY_FACTOR = 3;

/**
 * Bytes shared by several requests (the node's response pool, one remote address's share of it, the write
 * reserve, request bodies): bounds the node's memory whatever the number of concurrent requests.
 */
export class MemoryPool {
  private used = 0;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  get free(): number {
    return Math.max(0, this.capacity - this.used);
  }
  get inUse(): number {
    return this.used;
  }
  take(n: number): void {
    this.used += n;
  }
  give(n: number): void {
    this.used -= n;
  }
}

/** At most `limit` tasks at a time, the others wait in arrival order. */
export class Semaphore {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on directly
      else this.running--;
    }
  }
}

/** The pools one request draws from. */
export interface RequestPools {
  /** Read and check results: the node's pool and the remote address's share of it. */
  readonly read: readonly MemoryPool[];
  /** Write answers (appends' receipts). */
  readonly write: MemoryPool;
}

/**
 * The budget of one HTTP request. The server calls `abandon()` when the client is gone (the calls not started yet
 * are refused without running) and `release()` once the dispatch has finished *and* the response is sent or the
 * connection lost: only then is nothing of the request held any more. A take after release touches no pool.
 */
export class RequestBudget {
  private readonly limits: BudgetLimits;
  private readonly pools: RequestPools;
  private bytes = 0;
  private entries = 0;
  /** Pool bytes taken (already multiplied by RESULT_MEMORY_FACTOR), given back by release(). */
  private heldRead = 0;
  private heldWrite = 0;
  private released = false;
  /** Once a read call is refused (or the client is gone), every later read or check call is refused the same way. */
  private refusal: SequencerError | undefined;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(limits: BudgetLimits, pools: RequestPools) {
    this.limits = limits;
    this.pools = pools;
  }

  /** Runs `fn` after every earlier read or check call of this request has finished. */
  inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  refused(): SequencerError | undefined {
    return this.refusal;
  }

  refuse(e: SequencerError): SequencerError {
    this.refusal ??= e;
    return e;
  }

  /** The client is gone: nothing more is built for it. */
  abandon(): void {
    this.refuse(new OverloadedError());
  }

  /** Takes `n` result bytes of a read or check call, or returns (taking nothing) the error of the bound they would cross. */
  tryTake(n: number): SequencerError | undefined {
    if (this.released) return new OverloadedError();
    if (this.bytes + n > this.limits.maxBytes) return new BudgetExceededError('response bytes', this.limits.maxBytes);
    if (this.pools.read.some((p) => n * RESULT_MEMORY_FACTOR > p.free)) return new OverloadedError();
    this.take(n);
    return undefined;
  }

  /** Takes `n` bytes whatever the bounds: for the answer of a check call that already ran. */
  take(n: number): void {
    this.bytes += n;
    if (this.released) return;
    this.heldRead += n * RESULT_MEMORY_FACTOR;
    for (const p of this.pools.read) p.take(n * RESULT_MEMORY_FACTOR);
  }

  /** Takes `n` answer bytes of a write call from the write reserve if they fit (`force`: whatever the bound). */
  takeWrite(n: number, force = false): SequencerError | undefined {
    if (this.released) return force ? undefined : new OverloadedError();
    if (!force && n * RESULT_MEMORY_FACTOR > this.pools.write.free) return new OverloadedError();
    this.heldWrite += n * RESULT_MEMORY_FACTOR;
    this.pools.write.take(n * RESULT_MEMORY_FACTOR);
    return undefined;
  }

  /** A call's share of the budget; `reserved` is what it has taken so far. */
  share(kind: CallKind): CallBudget & { readonly reserved: number } {
    let reserved = 0;
    let shortfall: SequencerError | undefined;
    return {
      get reserved() {
        return reserved;
      },
      reserve: (n: number) => {
        shortfall = kind === 'write' ? this.takeWrite(n) : this.tryTake(n);
        if (shortfall) return false;
        reserved += n;
        return true;
      },
      entriesLeft: () => Math.max(0, this.limits.maxEntries - this.entries),
      spendEntries: (n: number) => {
        if (this.entries + n > this.limits.maxEntries) throw this.refuse(new BudgetExceededError('entries served', this.limits.maxEntries));
        this.entries += n;
      },
      outOfBytes: () => {
        const e = shortfall ?? new BudgetExceededError('response bytes', this.limits.maxBytes);
        throw kind === 'write' ? e : this.refuse(e);
      },
    };
  }

  /** Gives back everything taken; later takes touch no pool. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const p of this.pools.read) p.give(this.heldRead);
    this.pools.write.give(this.heldWrite);
    this.heldRead = 0;
    this.heldWrite = 0;
  }
}

/** The response envelope around a result, {"jsonrpc":"2.0","id":…,"result":…}, without the id. */
const ENVELOPE_BYTES = 40;

export interface DispatcherOptions {
  readonly methods: Record<string, MethodSpec>;
  readonly maxBatchLength: number;
  /** `check` calls running at once in the whole server (each loads a stored batch). */
  readonly maxChecksInFlight: number;
  readonly log: Logger;
}

type ParsedCall =
  | { readonly ok: true; readonly id: JsonRpcId | undefined; readonly method: string; readonly params: unknown }
  | { readonly ok: false; readonly id: JsonRpcId; readonly error: ErrorObject };

function isId(v: unknown): v is JsonRpcId {
  return v === null || typeof v === 'string' || typeof v === 'number';
}

function invalidRequest(id: JsonRpcId, message: string): ParsedCall {
  return { ok: false, id, error: { code: -32600, message: `invalid request: ${message}` } };
}

/** Validates one request object (JSON-RPC 2.0 §4). The id of an invalid request is echoed when it is itself valid. */
function parseCall(v: unknown): ParsedCall {
  if (!isObject(v)) return invalidRequest(null, 'expected a request object');
  const hasId = Object.hasOwn(v, 'id');
  if (hasId && !isId(v.id)) return invalidRequest(null, 'id: expected a string, a number or null');
  const id = hasId ? (v.id as JsonRpcId) : undefined;
  if (v.jsonrpc !== '2.0') return invalidRequest(id ?? null, 'jsonrpc: expected "2.0"');
  if (typeof v.method !== 'string') return invalidRequest(id ?? null, 'method: expected a string');
  if (Object.hasOwn(v, 'params') && !Array.isArray(v.params) && !isObject(v.params)) return invalidRequest(id ?? null, 'params: expected an array or an object');
  return { ok: true, id, method: v.method, params: v.params };
}

export function errorResponse(id: JsonRpcId, error: ErrorObject): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

export class Dispatcher {
  private readonly methods: Map<string, MethodSpec>;
  private readonly maxBatchLength: number;
  private readonly checks: Semaphore;
  private readonly log: Logger;

  constructor(opts: DispatcherOptions) {
    this.methods = new Map(Object.entries(opts.methods));
    this.maxBatchLength = opts.maxBatchLength;
    this.checks = new Semaphore(opts.maxChecksInFlight);
    this.log = opts.log;
  }

  /**
   * The response body for a parsed request body, in pieces to be written in order (joining them would hold one
   * more copy of the response), or undefined when nothing is to be sent (notifications only).
   */
  async handle(body: unknown, budget: RequestBudget): Promise<readonly string[] | undefined> {
    if (!Array.isArray(body)) {
      const answer = await this.answer(parseCall(body), budget);
      return answer === undefined ? undefined : [answer];
    }
    if (body.length === 0) return [errorResponse(null, { code: -32600, message: 'invalid request: empty batch array' })];
    if (body.length > this.maxBatchLength) {
      return [errorResponse(null, { code: -32600, message: `invalid request: a batch array holds at most ${this.maxBatchLength} calls`, data: { limit: this.maxBatchLength } })];
    }
    // Every call is started here, synchronously and in array order, so read and check calls take their turns in that order.
    const answers = await Promise.all(body.map((element) => this.answer(parseCall(element), budget)));
    const sent = answers.filter((a): a is string => a !== undefined);
    if (sent.length === 0) return undefined;
    return ['[', ...sent.flatMap((a, i) => (i === 0 ? [a] : [',', a])), ']'];
  }

  private answer(call: ParsedCall, budget: RequestBudget): Promise<string | undefined> {
    if (!call.ok) return Promise.resolve(errorResponse(call.id, call.error));
    const spec = this.methods.get(call.method);
    const kind = spec?.kind ?? 'read';
    const id = call.id ?? null;
    const run = async (): Promise<string> => {
      if (!spec) return errorResponse(id, { code: -32601, message: `method not found: ${call.method.slice(0, 100)}` });
      const refused = kind === 'write' ? undefined : budget.refused();
      if (refused) return errorResponse(id, this.toError(refused));
      const share = budget.share(kind);
      try {
        // The envelope first: a call that cannot even be answered is refused before it runs (and changes nothing).
        if (!share.reserve(ENVELOPE_BYTES + Buffer.byteLength(JSON.stringify(id)))) share.outOfBytes();
        const result = await spec.run(call.params, share);
        const text = JSON.stringify({ jsonrpc: '2.0', id, result: result ?? null });
        // Calls reserved their result as they built it; what is left to charge is what they did not foresee.
        const unreserved = Buffer.byteLength(text) - share.reserved;
        if (unreserved > 0) {
          // A write or check call ran: its (bounded) answer must reach the client.
          if (kind === 'write') budget.takeWrite(unreserved, true);
          else if (kind === 'check') budget.take(unreserved);
          else {
            const refusal = budget.tryTake(unreserved);
            if (refusal) return errorResponse(id, this.toError(budget.refuse(refusal)));
          }
        }
        return text;
      } catch (e) {
        return errorResponse(id, this.toError(e));
      }
    };
    const response = kind === 'write' ? run() : budget.inTurn(kind === 'check' ? () => this.checks.run(run) : run);
    // A notification (no id member) is run but never answered, not even with an error (JSON-RPC 2.0 §4.1).
    return call.id === undefined ? response.then(() => undefined) : response;
  }

  private toError(e: unknown): ErrorObject {
    return errorObject(e, this.log);
  }
}

/**
 * What a client is told of an error: a SequencerError as its code, message and data; anything else (a bug) as
 * -32603 internal error, its stack logged and never sent. Shared by JSON-RPC and the binary ingest.
 */
export function errorObject(e: unknown, log: Logger): ErrorObject {
  if (e instanceof SequencerError) return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
  log.error('internal error in a node call', { error: (e as Error)?.stack ?? String(e) });
  return { code: -32603, message: 'internal error' };
}
