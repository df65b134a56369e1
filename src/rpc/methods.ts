/**
 * The JSON-RPC methods (docs/protocol.md §JSON-RPC API). Each one validates its params, calls the node and
 * maps the result to JSON. Params may be given by position ([x]) or by name ({...}). Methods that serve log
 * entries build their result within the budget of the HTTP request (dispatcher.ts) and stop before exceeding it.
 */
import { toHex, type Bytes } from '../core/bytes.ts';
import { InvalidParamsError, NotFoundError } from '../core/errors.ts';
import { headerHash } from '../core/header.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';
import type { Entry } from '../core/entry.ts';
import type { EntryProof, ExpandedBatch } from '../roles/log-reader.ts';
import {
  entryToJson, headerToJson, isObject, parseIndex, parseReceipt, parseSubmission, proofToJson, receiptToJson, submissionToJson,
  type EntryJson, type EquivocationProofJson, type SubmissionJson,
} from '../wire/json.ts';
import type {
  BatchJson, ExportedProofJson, InfoJson, ReceiptStatus, RpcMethodName, RpcResult,
} from '../wire/rpc-types.ts';
import type { CallBudget, MethodSpec } from './dispatcher.ts';
import type { EquivocationProof } from '../core/equivocation.ts';

export const MAX_READ_LIMIT = 1000;

/** What the RPC layer needs from a node. */
export interface NodeApi {
  readonly separator: Bytes;
  append(s: Submission): Promise<Receipt>;
  entries(fromSeq: number, limit: number): Promise<Entry[]>;
  batch(height: number): Promise<ExpandedBatch | undefined>;
  proof(seq: number): Promise<EntryProof | undefined>;
  info(): InfoJson;
  equivocations(): readonly EquivocationProof[];
  verifyReceipt(r: Receipt): Promise<{ valid: boolean; reason: string | null; status: ReceiptStatus; proof: EquivocationProof | null }>;
}

/** What the methods need besides the node, injected by whoever starts the RPC server. */
export interface MethodDeps {
  /**
   * The ABI calldata of `SequencerBond.slash` for a proof (src/chain/bond-contract.ts encodeSlashCalldata). Injected
   * so that the RPC does not import the chain tooling (ethers' ABI coder, the contract's interface).
   */
  readonly slashCalldata: (proof: EquivocationProofJson) => string;
}

/** Every method of the API, each typed with its result (src/wire/rpc-types.ts). */
export type MethodTable = { [M in RpcMethodName]: MethodSpec<RpcResult<M>> };

/** Entries fetched from the store at a time by sequencer_read, so a read stopped by its budget loaded little more. */
const READ_CHUNK = 64;
/** Reserved for what surrounds the lists of a getBatch result (header, hashes, signature). */
const BATCH_FRAME_BYTES = 1024;
/** A receipt's JSON without its hash lists (header, signature, numbers), and one hash of a list ("0x…", quotes, comma). */
const RECEIPT_FRAME_BYTES = 1536;
const HASH_JSON_BYTES = 69;
/** More hashes than a range proof in the largest batch can hold (two per level of a tree of MAX_BATCH_TXS leaves). */
const MAX_PROOF_HASHES = 32;
/** More than a verifyReceipt result can take: status, reason, and a proof of two signed headers with its calldata. */
const VERDICT_BYTES = 8 * 1024;

/** The single argument of a method: params[0], or the params object itself. */
function arg(params: unknown): unknown {
  if (Array.isArray(params)) {
    if (params.length > 1) throw new InvalidParamsError('expected at most one parameter');
    return params[0];
  }
  return params;
}

/** Refuses named parameters a method does not know (a misspelt `limit` must not silently mean the default). */
function onlyNames(a: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  for (const k of Object.keys(a)) {
    if (!names.includes(k)) throw new InvalidParamsError(`unknown parameter "${k.slice(0, 64)}": expected ${names.map((n) => `"${n}"`).join(' or ')}`);
  }
  return a;
}

/** An integer given directly ([5]) or as a named field ([{height: 5}] or {height: 5}). */
function indexParam(params: unknown, name: string): number {
  const a = arg(params);
  return parseIndex(isObject(a) ? onlyNames(a, [name])[name] : a, name);
}

/** An object given directly ([x] or x itself) or wrapped in its name ([{receipt: x}] or {receipt: x}). */
function objectParam(params: unknown, name: string): unknown {
  const a = arg(params);
  return isObject(a) && Object.hasOwn(a, name) ? onlyNames(a, [name])[name] : a;
}

function noParams(params: unknown): void {
  if (params === undefined || (Array.isArray(params) && params.length === 0) || (isObject(params) && Object.keys(params).length === 0)) return;
  throw new InvalidParamsError('expected no parameters');
}

/** Byte length of a value's JSON (hex and numbers are ASCII), plus one for the separating comma. */
function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v)) + 1;
}

/** Adds a JSON item to a result if the call's budget can reserve its bytes (nothing is built past the budget). */
function addWithin<T>(budget: CallBudget, into: T[], item: T): boolean {
  if (!budget.reserve(jsonBytes(item))) return false;
  into.push(item);
  return true;
}

/** sequencer_read: as many of the `limit` entries as the request's budget allows (at least one, or the budget error). */
async function readEntries(node: NodeApi, fromSeq: number, limit: number, budget: CallBudget): Promise<EntryJson[]> {
  const want = Math.min(limit, budget.entriesLeft());
  if (want === 0) budget.spendEntries(limit); // throws: the entry budget is spent
  const out: EntryJson[] = [];
  let seq = fromSeq;
  fill: while (out.length < want) {
    const asked = Math.min(READ_CHUNK, want - out.length);
    const chunk = await node.entries(seq, asked);
    for (const e of chunk) {
      if (!addWithin(budget, out, entryToJson(e))) {
        if (out.length === 0) budget.outOfBytes();
        break fill;
      }
    }
    if (chunk.length < asked) break; // the end of the log
    seq += chunk.length;
  }
  budget.spendEntries(out.length);
  return out;
}

/** sequencer_getBatch: the whole batch or the budget error (a batch is never cut). */
async function batchJson(node: NodeApi, height: number, budget: CallBudget): Promise<BatchJson> {
  if (!budget.reserve(BATCH_FRAME_BYTES)) budget.outOfBytes();
  const b = await node.batch(height);
  if (!b) throw new NotFoundError(`batch at height ${height}`);
  budget.spendEntries(b.entries.length);
  const submissions: SubmissionJson[] = [];
  const entries: EntryJson[] = [];
  for (const s of b.batch.submissions) if (!addWithin(budget, submissions, submissionToJson(s))) budget.outOfBytes();
  for (const e of b.entries) if (!addWithin(budget, entries, entryToJson(e))) budget.outOfBytes();
  return {
    header: headerToJson(b.batch.header),
    headerHash: toHex(b.headerHash),
    signature: toHex(b.batch.signature),
    prevEntryHash: toHex(b.prevEntryHash),
    submissions,
    entries,
  };
}

export function createMethods(node: NodeApi, deps: MethodDeps): MethodTable {
  const receipt = (r: Receipt) => receiptToJson(r, headerHash(node.separator, r.header));
  /** A proof as exported: its JSON form plus the ready calldata of SequencerBond.slash. */
  const exportProof = (p: EquivocationProof): ExportedProofJson => {
    const json = proofToJson(p);
    return { ...json, calldata: deps.slashCalldata(json) };
  };
  return {
    sequencer_append: {
      kind: 'write',
      run: async (params, budget) => {
        const submission = parseSubmission(objectParam(params, 'submission'));
        // Its receipt's bound, from the write reserve, before anything is sequenced (a refusal changes nothing).
        if (!budget.reserve(RECEIPT_FRAME_BYTES + HASH_JSON_BYTES * (submission.transactions.length + MAX_PROOF_HASHES))) budget.outOfBytes();
        return receipt(await node.append(submission));
      },
    },
    sequencer_read: {
      run: async (params, budget) => {
        const a = arg(params) ?? {};
        if (!isObject(a)) throw new InvalidParamsError('expected {fromSeq, limit}');
        onlyNames(a, ['fromSeq', 'limit']);
        const fromSeq = parseIndex(a.fromSeq ?? 0, 'fromSeq');
        const limit = parseIndex(a.limit ?? 100, 'limit');
        if (limit === 0 || limit > MAX_READ_LIMIT) throw new InvalidParamsError(`limit: must be between 1 and ${MAX_READ_LIMIT}`);
        return readEntries(node, fromSeq, limit, budget);
      },
    },
    sequencer_info: {
      run: async (params) => {
        noParams(params);
        return node.info();
      },
    },
    sequencer_getEquivocations: {
      run: async (params) => {
        noParams(params);
        return node.equivocations().map(exportProof);
      },
    },
    sequencer_verifyReceipt: {
      // Records the equivocation proof a conflicting receipt yields, but loads a stored batch as a read does.
      kind: 'check',
      run: async (params, budget) => {
        const parsed = parseReceipt(objectParam(params, 'receipt'));
        if (!budget.reserve(VERDICT_BYTES)) budget.outOfBytes();
        const r = await node.verifyReceipt(parsed);
        return { ...r, proof: r.proof && exportProof(r.proof) };
      },
    },
    sequencer_getBatch: {
      run: async (params, budget) => batchJson(node, indexParam(params, 'height'), budget),
    },
    sequencer_getProof: {
      run: async (params, budget) => {
        const seq = indexParam(params, 'seq');
        const p = await node.proof(seq);
        if (!p) throw new NotFoundError(`entry ${seq}`);
        budget.spendEntries(1);
        return {
          entry: entryToJson(p.entry),
          prevEntryHash: toHex(p.prevEntryHash),
          index: seq - p.batch.batch.header.firstSeq,
          proof: p.proof.map(toHex),
          header: headerToJson(p.batch.batch.header),
          headerHash: toHex(p.batch.headerHash),
          signature: toHex(p.batch.batch.signature),
        };
      },
    },
  };
}
