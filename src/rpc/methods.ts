/**
 * The JSON-RPC methods (docs/protocol.md §JSON-RPC API). Each one validates its params, calls the node and
 * maps the result to JSON. Params may be given by position ([x]) or by name ({...}). Methods that serve log
 * entries build their result within the budget of the HTTP request (dispatcher.ts) and stop before exceeding it.
 */
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import { InvalidParamsError, InvariantError, NotFinalYetError, NotFoundError } from '../core/errors.ts';
import type { FinalityCertificate } from '../core/finality-certificate.ts';
import { headerHash } from '../core/header.ts';
import { finalityReason, type Receipt } from '../core/receipt.ts';
import type { LogRules } from '../core/rules.ts';
import type { Submission } from '../core/submission.ts';
import type { Entry } from '../core/entry.ts';
import type { EntryProof, ExpandedBatch } from '../roles/log-reader.ts';
import {
  entryToJson, headerToJson, isObject, parseIndex, parseSubmission, proofToJson, receiptToJson, submissionToJson,
  type EntryJson, type EquivocationProofJson, type SubmissionJson,
} from '../wire/json.ts';
import {
  DEFAULT_FINAL_TIMEOUT_MS, MAX_FINAL_TIMEOUT_MS, finalityCertificateToJson, parseFinalReceipt, type FinalityCertificateJson,
} from '../wire/finality-json.ts';
import type {
  BatchJson, ExportedProofJson, ExportedVoteProofJson, Finality, InfoJson, ReceiptStatus, RpcMethodName, RpcResult, VerifyReceiptJson,
  VoteProofJson,
} from '../wire/rpc-types.ts';
import type { CallBudget, MethodSpec } from './dispatcher.ts';
import type { EquivocationProof } from '../core/equivocation.ts';

export const MAX_READ_LIMIT = 1000;

/** What the RPC layer needs from a node. */
export interface NodeApi {
  readonly separator: Bytes;
  /** The log's id, domain and validator set: what a receipt's finality certificate is checked against. */
  readonly rules: Pick<LogRules, 'logId' | 'separator' | 'membership'>;
  append(s: Submission): Promise<Receipt>;
  /** The finality certificate of `height`, or undefined when the height is not final on this node. */
  finalityCertificate(height: number): Promise<FinalityCertificate | undefined>;
  /** Resolves with the certificate once `height` is final on this node; undefined after `timeoutMs`. */
  waitFinal(height: number, timeoutMs: number): Promise<FinalityCertificate | undefined>;
  entries(fromSeq: number, limit: number): Promise<Entry[]>;
  batch(height: number): Promise<ExpandedBatch | undefined>;
  proof(seq: number): Promise<EntryProof | undefined>;
  info(): InfoJson;
  equivocations(): readonly EquivocationProof[];
  /** Validators' equivocation proofs (kinds 3-6), JSON form. */
  voteEquivocations(): readonly VoteProofJson[];
  verifyReceipt(r: Receipt): Promise<{ valid: boolean; reason: string | null; status: ReceiptStatus; proof: EquivocationProof | null }>;
}

/** What the methods need besides the node, injected by whoever starts the RPC server. */
export interface MethodDeps {
  /**
   * The ABI calldata of `SequencerBond.slash` for a proof (src/chain/bond-contract.ts encodeSlashCalldata). Injected
   * so that the RPC does not import the chain tooling (ethers' ABI coder, the contract's interface).
   */
  readonly slashCalldata: (proof: EquivocationProofJson) => string;
  /** Likewise for a validator proof: the calldata of slashVoteConflict, … (src/chain/vote-slashing.ts encodeVoteSlashCalldata). */
  readonly voteSlashCalldata: (proof: VoteProofJson) => string;
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
/**
 * A finality certificate's JSON without its signatures, for the usual chain (up to W = 8 headers after a view
 * change: docs/design/replication.md §3.3; a longer one is delivered all the same once an append has run), and one
 * signature of its commit certificate ("0x…", quotes, comma).
 */
const FINALITY_FRAME_BYTES = 1024 + 9 * 512;
const SIGNATURE_JSON_BYTES = 134;

interface AppendParams {
  readonly submission: unknown;
  readonly wait: Finality;
  readonly finalTimeoutMs: number;
}

/**
 * sequencer_append's params: `[submission]`, `[submission, {wait, finalTimeoutMs}]`, or by name
 * `{submission, wait, finalTimeoutMs}` (also as `[{…}]`); the submission may also be the params object itself.
 */
function appendParams(params: unknown): AppendParams {
  let submission: unknown;
  let options: Record<string, unknown> = {};
  const first = Array.isArray(params) ? params[0] : params;
  if (Array.isArray(params) && params.length > 2) throw new InvalidParamsError('expected [submission] or [submission, {wait, finalTimeoutMs}]');
  if (isObject(first) && Object.hasOwn(first, 'submission')) {
    if (Array.isArray(params) && params.length > 1) throw new InvalidParamsError('expected the options beside the submission, not in a second parameter');
    options = onlyNames(first, ['submission', 'wait', 'finalTimeoutMs']);
    submission = first.submission;
  } else {
    submission = first;
    if (Array.isArray(params) && params.length === 2) {
      if (!isObject(params[1])) throw new InvalidParamsError('options: expected an object {wait, finalTimeoutMs}');
      options = onlyNames(params[1], ['wait', 'finalTimeoutMs']);
    }
  }
  const wait = options.wait ?? 'soft';
  if (wait !== 'soft' && wait !== 'final') throw new InvalidParamsError('wait: expected "soft" or "final"');
  const finalTimeoutMs = options.finalTimeoutMs ?? DEFAULT_FINAL_TIMEOUT_MS;
  if (typeof finalTimeoutMs !== 'number' || !Number.isSafeInteger(finalTimeoutMs) || finalTimeoutMs < 1 || finalTimeoutMs > MAX_FINAL_TIMEOUT_MS) {
    throw new InvalidParamsError(`finalTimeoutMs: expected an integer from 1 to ${MAX_FINAL_TIMEOUT_MS}`);
  }
  return { submission, wait, finalTimeoutMs };
}

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
  /** Bytes to reserve for a finality certificate of this log (its signatures: at most one per validator). */
  const finalityBytes = FINALITY_FRAME_BYTES + SIGNATURE_JSON_BYTES * node.rules.membership.n;
  /**
   * The node's certificate for a receipt's height, if the height is final: only then is the store asked (the
   * finalized height is in memory). It is for the receipt's very header, or, for a receipt of another view whose
   * transactions the log holds at those positions (a re-proposal, or abandoned submissions sequenced again:
   * verifyReceipt said `consistent`), for the header the log holds there. Another final header of the receipt's
   * own view would mean the log forked under a quorum.
   */
  const certificateFor = async (r: Receipt, hash: Bytes, wait: { timeoutMs: number } | null): Promise<FinalityCertificate | undefined> => {
    const height = r.header.height;
    const fc = wait ? await node.waitFinal(height, wait.timeoutMs)
      : node.info().finalizedHeight >= height ? await node.finalityCertificate(height) : undefined;
    if (fc && !equalBytes(fc.headerHash, hash) && fc.header.view === r.header.view) {
      throw new InvariantError(`the header final at height ${height} is not the one this node holds there`);
    }
    return fc;
  };
  /** A proof as exported: its JSON form plus the ready calldata of SequencerBond.slash. */
  const exportProof = (p: EquivocationProof): ExportedProofJson => {
    const json = proofToJson(p);
    return { ...json, calldata: deps.slashCalldata(json) };
  };
  return {
    sequencer_append: {
      kind: 'write',
      run: async (params, budget) => {
        const options = appendParams(params);
        const submission = parseSubmission(options.submission);
        // Its receipt's bound, from the write reserve, before anything is sequenced (a refusal changes nothing).
        const bound = RECEIPT_FRAME_BYTES + HASH_JSON_BYTES * (submission.transactions.length + MAX_PROOF_HASHES) + finalityBytes;
        if (!budget.reserve(bound)) budget.outOfBytes();
        let deadline: number | undefined;
        for (;;) {
          const r = await node.append(submission);
          const hash = headerHash(node.separator, r.header);
          const json = receiptToJson(r, hash);
          // finalTimeoutMs counts from the first receipt, across the placements waited for.
          const left = deadline === undefined ? options.finalTimeoutMs : Math.max(0, Math.round(deadline - performance.now()));
          deadline ??= performance.now() + options.finalTimeoutMs;
          const fc = await certificateFor(r, hash, options.wait === 'final' ? { timeoutMs: left } : null);
          // Final under a header of another view: its batch was abandoned in a view change. If the log does not
          // hold the submission at those positions, the same signed submission is sent again (sequenced once) and
          // the new placement is waited for.
          if (fc && !equalBytes(fc.headerHash, hash) && (await node.verifyReceipt(r)).status !== 'consistent') {
            if (options.wait !== 'final') return { ...json, finality: 'soft', certificate: null };
            if (performance.now() < deadline) continue;
            throw new NotFinalYetError(options.finalTimeoutMs, json);
          }
          if (!fc && options.wait === 'final') throw new NotFinalYetError(options.finalTimeoutMs, json);
          return { ...json, finality: fc ? 'final' : 'soft', certificate: fc ? finalityCertificateToJson(fc) : null };
        }
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
        const votes = node.voteEquivocations().map((p): ExportedVoteProofJson => ({ ...p, calldata: deps.voteSlashCalldata(p) }));
        return [...node.equivocations().map(exportProof), ...votes];
      },
    },
    sequencer_verifyReceipt: {
      // Records the equivocation proof a conflicting receipt yields, but loads a stored batch as a read does.
      kind: 'check',
      run: async (params, budget) => {
        const { receipt: parsed, certificate } = parseFinalReceipt(objectParam(params, 'receipt'));
        if (!budget.reserve(VERDICT_BYTES + finalityBytes)) budget.outOfBytes();
        // A certificate that does not prove this header final makes the receipt invalid, before the node keeps anything of it.
        const refused = certificate && finalityReason(node.rules, parsed, certificate);
        if (refused) return { valid: false, reason: refused, status: 'invalid', proof: null, finality: 'soft', certificate: null } satisfies VerifyReceiptJson;
        const r = await node.verifyReceipt(parsed);
        const verdict = { ...r, proof: r.proof && exportProof(r.proof) };
        if (!r.valid) return { ...verdict, finality: 'soft', certificate: null };
        if (certificate) return { ...verdict, finality: 'final', certificate: finalityCertificateToJson(certificate) };
        // Only a header this node stores can be final here with this very hash (a pending one is above its tip).
        const held = r.status === 'consistent' ? await certificateFor(parsed, headerHash(node.separator, parsed.header), null) : undefined;
        return { ...verdict, finality: held ? 'final' : 'soft', certificate: held ? finalityCertificateToJson(held) : null };
      },
    },
    sequencer_getCertificate: {
      run: async (params, budget): Promise<FinalityCertificateJson> => {
        const height = indexParam(params, 'height');
        if (!budget.reserve(finalityBytes)) budget.outOfBytes();
        const fc = await node.finalityCertificate(height);
        if (!fc) throw new NotFoundError(`finality certificate of height ${height} (not final on this node)`);
        return finalityCertificateToJson(fc);
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
