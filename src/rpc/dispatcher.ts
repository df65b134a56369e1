/**
 * JSON-RPC 2.0 dispatch (https://www.jsonrpc.org/specification), independent of HTTP: request validation, batch
 * arrays, notifications, and the response budget that one HTTP request shares between all its calls
 * (docs/protocol.md §JSON-RPC API, limits). Every element of a batch array is answered on its own: an element
 * that is not a valid request object gets its own -32600, never silence.
 */
import { BudgetExceededError, OverloadedError, SequencerError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

export type JsonRpcId = string | number | null;

export interface ErrorObject { code: number; message: string; data?: unknown }

/** What a running method may spend of its HTTP request's budget. */
export interface CallBudget {
  /**
   * Takes `n` result bytes from the request's budget and the node's pool *before* building that part of the result,
   * so no call builds more than it may send; false, and nothing taken, when they do not fit.
   */
  reserve(n: number): boolean;
  /** Entries this call may still serve. */
  entriesLeft(): number;
  /** Spends `n` entries; throws BudgetExceededError (nothing spent) when fewer are left. */
  spendEntries(n: number): void;
  /** Throws the error of the last `reserve` that failed: -32011 (this request's budget) or -32006 (the node's pool). */
  outOfBytes(): never;
}

/** One method; `Result` is its result's JSON type (src/wire/rpc-types.ts). */
export interface MethodSpec<Result = unknown> {
  run(params: unknown, budget: CallBudget): Promise<Result>;
  /**
   * The method may change the node's state (sequencer_append, sequencer_verifyReceipt). Such calls run concurrently
   * (so the calls of one batch array share a group commit) and, once run, their answer is always delivered. Other
   * calls are read-only and run one at a time in array order, so the budget is spent deterministically.
   */
  readonly changesState?: boolean;
}

export interface BudgetLimits {
  /** Result bytes one HTTP request may produce (all calls of a batch array together). */
  readonly maxBytes: number;
  /** Entries one HTTP request may serve (sequencer_read entries, sequencer_getBatch entries, …). */
  readonly maxEntries: number;
}

/**
 * Bytes shared by all requests of one server (response results, taken as they are built and given back once each
 * response is sent; request bodies): bounds the node's memory whatever the number of concurrent requests.
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
  take(n: number): void {
    this.used += n;
  }
  give(n: number): void {
    this.used -= n;
  }
}

/** The budget of one HTTP request. `release()` once its response has been sent (or the connection lost). */
export class RequestBudget {
  private readonly limits: BudgetLimits;
  private readonly pool: MemoryPool;
  private bytes = 0;
  private entries = 0;
  /** Bytes taken from the pool, given back by release(). */
  private held = 0;
  /** Once a read-only call is refused, every later call of the request is refused the same way. */
  private refusal: SequencerError | undefined;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(limits: BudgetLimits, pool: MemoryPool) {
    this.limits = limits;
    this.pool = pool;
  }

  /** Runs `fn` after every earlier read-only call of this request has finished. */
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

  /** Takes `n` bytes, or returns (taking nothing) the error of the bound they would cross. */
  tryTake(n: number): SequencerError | undefined {
    if (this.bytes + n > this.limits.maxBytes) return new BudgetExceededError('response bytes', this.limits.maxBytes);
    if (n > this.pool.free) return new OverloadedError();
    this.take(n);
    return undefined;
  }

  /** Takes `n` bytes whatever the bounds: for the answer of a call that already changed state. */
  take(n: number): void {
    this.bytes += n;
    this.held += n;
    this.pool.take(n);
  }

  /** A call's share of the budget; `reserved` is what it has taken so far. */
  share(): CallBudget & { readonly reserved: number } {
    let reserved = 0;
    let shortfall: SequencerError | undefined;
    return {
      get reserved() {
        return reserved;
      },
      reserve: (n: number) => {
        shortfall = this.tryTake(n);
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
        throw this.refuse(shortfall ?? new BudgetExceededError('response bytes', this.limits.maxBytes));
      },
    };
  }

  release(): void {
    this.pool.give(this.held);
    this.held = 0;
  }
}

/** The response envelope around a result, {"jsonrpc":"2.0","id":…,"result":…}, without the id. */
const ENVELOPE_BYTES = 40;

export interface DispatcherOptions {
  readonly methods: Record<string, MethodSpec>;
  readonly maxBatchLength: number;
  readonly log: Logger;
}

type ParsedCall =
  | { readonly ok: true; readonly id: JsonRpcId | undefined; readonly method: string; readonly params: unknown }
  | { readonly ok: false; readonly id: JsonRpcId; readonly error: ErrorObject };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

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
  private readonly log: Logger;

  constructor(opts: DispatcherOptions) {
    this.methods = new Map(Object.entries(opts.methods));
    this.maxBatchLength = opts.maxBatchLength;
    this.log = opts.log;
  }

  /** The response text for a parsed request body, or undefined when nothing is to be sent (notifications only). */
  async handle(body: unknown, budget: RequestBudget): Promise<string | undefined> {
    if (!Array.isArray(body)) return this.answer(parseCall(body), budget);
    if (body.length === 0) return errorResponse(null, { code: -32600, message: 'invalid request: empty batch array' });
    if (body.length > this.maxBatchLength) {
      return errorResponse(null, { code: -32600, message: `invalid request: a batch array holds at most ${this.maxBatchLength} calls`, data: { limit: this.maxBatchLength } });
    }
    // Every call is started here, synchronously and in array order, so read-only calls take their turns in that order.
    const answers = await Promise.all(body.map((element) => this.answer(parseCall(element), budget)));
    const sent = answers.filter((a): a is string => a !== undefined);
    return sent.length === 0 ? undefined : `[${sent.join(',')}]`;
  }

  private answer(call: ParsedCall, budget: RequestBudget): Promise<string | undefined> {
    if (!call.ok) return Promise.resolve(errorResponse(call.id, call.error));
    const spec = this.methods.get(call.method);
    const id = call.id ?? null;
    const run = async (): Promise<string> => {
      if (!spec) return errorResponse(id, { code: -32601, message: `method not found: ${call.method.slice(0, 100)}` });
      const refused = budget.refused();
      if (refused) return errorResponse(id, this.toError(refused));
      const share = budget.share();
      try {
        // The envelope first: a call that cannot even be answered is refused before it runs (and changes nothing).
        if (!share.reserve(ENVELOPE_BYTES + Buffer.byteLength(JSON.stringify(id)))) share.outOfBytes();
        const result = await spec.run(call.params, share);
        const text = JSON.stringify({ jsonrpc: '2.0', id, result: result ?? null });
        // Readers reserved their result as they built it; what is left to charge is what they did not foresee.
        const unreserved = Buffer.byteLength(text) - share.reserved;
        if (unreserved > 0) {
          if (spec.changesState) budget.take(unreserved); // it ran: its (bounded) answer must reach the client
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
    const response = spec?.changesState ? run() : budget.inTurn(run);
    // A notification (no id member) is run but never answered, not even with an error (JSON-RPC 2.0 §4.1).
    return call.id === undefined ? response.then(() => undefined) : response;
  }

  private toError(e: unknown): ErrorObject {
    if (e instanceof SequencerError) return e.data === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, data: e.data };
    this.log.error('internal error in RPC method', { error: (e as Error)?.stack ?? String(e) });
    return { code: -32603, message: 'internal error' };
  }
}
