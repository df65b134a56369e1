/**
 * The JSON-RPC methods (docs/protocol.md §JSON-RPC API). Each one validates its params, calls the node and
 * maps the result to JSON. Params may be given by position ([x]) or by name ({...}).
 */
import { toHex, type Bytes } from '../core/bytes.ts';
import { InvalidParamsError, NotFoundError } from '../core/errors.ts';
import { headerHash } from '../core/header.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';
import type { Entry, EntryProof, ExpandedBatch } from '../sequencer/log-reader.ts';
import { entryToJson, headerToJson, parseIndex, parseReceipt, parseSubmission, proofToJson, receiptToJson } from './codec.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { encodeSlashCalldata } from '../chain/bond-contract.ts';

export const MAX_READ_LIMIT = 1000;

/** What the RPC layer needs from a node. */
export interface NodeApi {
  readonly separator: Bytes;
  append(s: Submission): Promise<Receipt>;
  entries(fromSeq: number, limit: number): Promise<Entry[]>;
  batch(height: number): Promise<ExpandedBatch | undefined>;
  proof(seq: number): Promise<EntryProof | undefined>;
  info(): Record<string, unknown>;
  equivocations(): readonly EquivocationProof[];
  verifyReceipt(r: Receipt): Promise<{ valid: boolean; reason: string | null; status: string; proof: EquivocationProof | null }>;
}

/** A proof as exported: its JSON form plus the ready calldata of SequencerBond.slash. */
function exportProof(p: EquivocationProof): Record<string, unknown> {
  const json = proofToJson(p);
  return { ...json, calldata: encodeSlashCalldata(json) };
}

export type MethodHandler = (params: unknown) => Promise<unknown>;

/** The single argument of a method: params[0], or the params object itself. */
function arg(params: unknown): unknown {
  if (Array.isArray(params)) {
    if (params.length > 1) throw new InvalidParamsError('expected at most one parameter');
    return params[0];
  }
  return params;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An integer given directly ([5]) or as a named field ({height: 5}). */
function indexParam(params: unknown, name: string): number {
  const a = arg(params);
  return parseIndex(isObject(a) ? a[name] : a, name);
}

export function createMethods(node: NodeApi): Record<string, MethodHandler> {
  const receipt = (r: Receipt) => receiptToJson(r, headerHash(node.separator, r.header));
  return {
    sequencer_append: async (params) => {
      const a = arg(params);
      return receipt(await node.append(parseSubmission(isObject(a) && 'submission' in a ? a.submission : a)));
    },
    sequencer_read: async (params) => {
      const a = arg(params) ?? {};
      if (!isObject(a)) throw new InvalidParamsError('expected {fromSeq, limit}');
      const fromSeq = parseIndex(a.fromSeq ?? 0, 'fromSeq');
      const limit = parseIndex(a.limit ?? 100, 'limit');
      if (limit === 0 || limit > MAX_READ_LIMIT) throw new InvalidParamsError(`limit: must be between 1 and ${MAX_READ_LIMIT}`);
      return (await node.entries(fromSeq, limit)).map(entryToJson);
    },
    sequencer_info: async () => node.info(),
    sequencer_getEquivocations: async () => node.equivocations().map(exportProof),
    sequencer_verifyReceipt: async (params) => {
      const a = arg(params);
      const r = await node.verifyReceipt(parseReceipt(isObject(a) && 'receipt' in a ? a.receipt : a));
      return { ...r, proof: r.proof && exportProof(r.proof) };
    },
    sequencer_getBatch: async (params) => {
      const height = indexParam(params, 'height');
      const b = await node.batch(height);
      if (!b) throw new NotFoundError(`batch at height ${height}`);
      return {
        header: headerToJson(b.batch.header),
        headerHash: toHex(b.headerHash),
        signature: toHex(b.batch.signature),
        prevEntryHash: toHex(b.prevEntryHash),
        entries: b.entries.map(entryToJson),
      };
    },
    sequencer_getProof: async (params) => {
      const seq = indexParam(params, 'seq');
      const p = await node.proof(seq);
      if (!p) throw new NotFoundError(`entry ${seq}`);
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
  };
}

