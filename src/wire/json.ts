/**
 * JSON forms of the protocol objects (docs/protocol.md §JSON-RPC API). Parsers validate every field and throw
 * InvalidParamsError (or TooLargeError for size limits) naming the field; they never return partial objects.
 */
import { fromHex, toHex, type Bytes } from '../core/bytes.ts';
import { InvalidParamsError } from '../core/errors.ts';
import type { Header, SignedHeader } from '../core/header.ts';
import { txCountViolation, txSizeViolation } from '../core/limits.ts';
import { admissionError } from '../core/rules.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';
import type { Entry } from '../core/entry.ts';
import type { EquivocationKind, EquivocationProof } from '../core/equivocation.ts';
import { getAddress } from 'ethers';

const MAX_U64 = (1n << 64n) - 1n;

/** A JSON value as UTF-8 bytes (status and append replies between nodes, proofs on gossip and on disk). */
export function encodeJson(value: unknown): Bytes {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** A JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseHex(v: unknown, field: string, length?: number): Bytes {
  if (typeof v !== 'string') throw new InvalidParamsError(`${field}: expected a 0x-prefixed hex string`);
  try {
    return fromHex(v, length);
  } catch (e) {
    throw new InvalidParamsError(`${field}: ${(e as Error).message}`);
  }
}

/** A uint64 given as a JSON number (safe integer) or a decimal or 0x-hex string. */
export function parseU64(v: unknown, field: string): bigint {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^(0|[1-9][0-9]{0,19}|0x[0-9a-fA-F]{1,16})$/.test(v)) n = BigInt(v);
  else throw new InvalidParamsError(`${field}: expected an unsigned 64-bit integer (number or decimal/hex string)`);
  if (n < 0n || n > MAX_U64) throw new InvalidParamsError(`${field}: out of the uint64 range`);
  return n;
}

export function parseIndex(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidParamsError(`${field}: expected a non-negative integer`);
  return v;
}

export function parseSubmission(v: unknown): Submission {
  if (!isObject(v)) throw new InvalidParamsError('submission: expected an object');
  const txs = v.transactions;
  if (!Array.isArray(txs) || txs.length === 0) throw new InvalidParamsError('transactions: expected a non-empty array of hex strings');
  // The protocol limits (core/limits.ts), checked here too so that an oversized request is refused before it is decoded.
  const tooMany = txCountViolation(txs.length);
  if (tooMany) throw admissionError(tooMany);
  const transactions = txs.map((tx, i) => {
    const tooLarge = typeof tx === 'string' ? txSizeViolation(Math.ceil((tx.length - 2) / 2)) : null; // "0x" + 2 digits a byte
    if (tooLarge) throw admissionError(tooLarge);
    return parseHex(tx, `transactions[${i}]`);
  });
  const expiry = v.expiry === undefined || v.expiry === null ? 0n : parseU64(v.expiry, 'expiry');
  if (expiry > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidParamsError('expiry: out of range');
  return {
    sender: parseHex(v.sender, 'sender', 20),
    nonce: parseU64(v.nonce, 'nonce'),
    expiry: Number(expiry),
    transactions,
    signature: parseHex(v.signature, 'signature', 65),
  };
}

export interface SubmissionJson {
  sender: string; nonce: string; expiry: number; transactions: string[]; signature: string;
}

export function submissionToJson(s: Submission): SubmissionJson {
  return {
    sender: toHex(s.sender),
    nonce: s.nonce.toString(),
    expiry: s.expiry,
    transactions: s.transactions.map(toHex),
    signature: toHex(s.signature),
  };
}

export interface HeaderJson {
  logId: string; height: number; view: number; firstSeq: number; count: number;
  prevHeaderHash: string; headHash: string; entriesRoot: string; timestamp: number;
}

export function headerToJson(h: Header): HeaderJson {
  return {
    logId: toHex(h.logId), height: h.height, view: h.view, firstSeq: h.firstSeq, count: h.count,
    prevHeaderHash: toHex(h.prevHeaderHash), headHash: toHex(h.headHash), entriesRoot: toHex(h.entriesRoot), timestamp: h.timestamp,
  };
}

export function parseHeader(v: unknown, field = 'header'): Header {
  if (!isObject(v)) throw new InvalidParamsError(`${field}: expected an object`);
  const u32 = (x: unknown, f: string): number => {
    const n = parseIndex(x, `${field}.${f}`);
    if (n > 0xffffffff) throw new InvalidParamsError(`${field}.${f}: out of the uint32 range`);
    return n;
  };
  return {
    logId: parseHex(v.logId, `${field}.logId`, 32),
    height: parseIndex(v.height, `${field}.height`),
    view: parseIndex(v.view, `${field}.view`),
    firstSeq: parseIndex(v.firstSeq, `${field}.firstSeq`),
    count: u32(v.count, 'count'),
    prevHeaderHash: parseHex(v.prevHeaderHash, `${field}.prevHeaderHash`, 32),
    headHash: parseHex(v.headHash, `${field}.headHash`, 32),
    entriesRoot: parseHex(v.entriesRoot, `${field}.entriesRoot`, 32),
    timestamp: parseIndex(v.timestamp, `${field}.timestamp`),
  };
}

export interface SignedHeaderJson { header: HeaderJson; signature: string }

export function signedHeaderToJson(s: SignedHeader): SignedHeaderJson {
  return { header: headerToJson(s.header), signature: toHex(s.signature) };
}

export function parseSignedHeader(v: unknown, field = 'signedHeader'): SignedHeader {
  if (!isObject(v)) throw new InvalidParamsError(`${field}: expected an object`);
  return { header: parseHeader(v.header, `${field}.header`), signature: parseHex(v.signature, `${field}.signature`, 65) };
}

export interface ReceiptJson {
  submissionDigest: string; sender: string; nonce: string; height: number; firstSeq: number; count: number;
  entryHashes: string[]; prevEntryHash: string; proof: string[]; header: HeaderJson; headerHash: string; signature: string;
}

export function receiptToJson(r: Receipt, headerHash: Bytes): ReceiptJson {
  return {
    submissionDigest: toHex(r.submissionDigest),
    sender: toHex(r.sender),
    nonce: r.nonce.toString(),
    height: r.header.height,
    firstSeq: r.firstSeq,
    count: r.entryHashes.length,
    entryHashes: r.entryHashes.map(toHex),
    prevEntryHash: toHex(r.prevEntryHash),
    proof: r.proof.map(toHex),
    header: headerToJson(r.header),
    headerHash: toHex(headerHash),
    signature: toHex(r.signature),
  };
}

/**
 * The fields of a receipt's JSON form (ReceiptJson); any other is refused, so a misspelt field is never silently ignored.
 * `finality` and `certificate` (what sequencer_append adds) are known but not read here: finality-json.ts
 * parseFinalReceipt reads them.
 */
const RECEIPT_FIELDS: ReadonlySet<string> = new Set([
  'submissionDigest', 'sender', 'nonce', 'height', 'firstSeq', 'count', 'entryHashes', 'prevEntryHash', 'proof', 'header', 'headerHash', 'signature',
  'finality', 'certificate',
]);
export const HEADER_FIELDS: ReadonlySet<string> = new Set(['logId', 'height', 'view', 'firstSeq', 'count', 'prevHeaderHash', 'headHash', 'entriesRoot', 'timestamp']);

export function refuseUnknownFields(v: Record<string, unknown>, known: ReadonlySet<string>, prefix: string): void {
  for (const name of Object.keys(v)) if (!known.has(name)) throw new InvalidParamsError(`${prefix}${name}: unknown field`);
}

/**
 * A receipt as parsed from its JSON form, with the JSON's `headerHash` when it carries one: checking that field
 * needs the log's domain separator, which the parser does not have (sequencer_verifyReceipt answers `invalid`
 * when it is not the header's hash).
 */
export interface ParsedReceipt extends Receipt {
  readonly headerHash?: Bytes;
}

/**
 * Parses a receipt's JSON form. The derived fields (`height`, `count`, `headerHash`) may be left out; given,
 * `height` and `count` must agree with the header and the entry hashes, else the field is refused.
 */
export function parseReceipt(v: unknown): ParsedReceipt {
  if (!isObject(v)) throw new InvalidParamsError('receipt: expected an object');
  refuseUnknownFields(v, RECEIPT_FIELDS, '');
  if (isObject(v.header)) refuseUnknownFields(v.header, HEADER_FIELDS, 'header.');
  const list = (x: unknown, f: string): Bytes[] => {
    if (!Array.isArray(x)) throw new InvalidParamsError(`${f}: expected an array`);
    return x.map((h, i) => parseHex(h, `${f}[${i}]`, 32));
  };
  const header = parseHeader(v.header);
  const entryHashes = list(v.entryHashes, 'entryHashes');
  if (v.height !== undefined && parseIndex(v.height, 'height') !== header.height) throw new InvalidParamsError('height: differs from header.height');
  if (v.count !== undefined && parseIndex(v.count, 'count') !== entryHashes.length) throw new InvalidParamsError('count: differs from the number of entryHashes');
  const receipt: Receipt = {
    submissionDigest: parseHex(v.submissionDigest, 'submissionDigest', 32),
    sender: parseHex(v.sender, 'sender', 20),
    nonce: parseU64(v.nonce, 'nonce'),
    firstSeq: parseIndex(v.firstSeq, 'firstSeq'),
    entryHashes,
    prevEntryHash: parseHex(v.prevEntryHash, 'prevEntryHash', 32),
    proof: list(v.proof, 'proof'),
    header,
    signature: parseHex(v.signature, 'signature', 65),
  };
  return v.headerHash === undefined ? receipt : { ...receipt, headerHash: parseHex(v.headerHash, 'headerHash', 32) };
}

export interface EntryJson {
  seq: number; height: number; sender: string; nonce: string; expiry: number; transactionsHash: string;
  signature: string; submissionDigest: string; payload: string; entryHash: string;
}

/** An entry with what a reader needs to re-verify its submission: the digest recomputes from sender, nonce, expiry and transactionsHash, and the signature recovers to sender. */
export function entryToJson(e: Entry): EntryJson {
  return {
    seq: e.seq,
    height: e.height,
    sender: toHex(e.sender),
    nonce: e.nonce.toString(),
    expiry: e.expiry,
    transactionsHash: toHex(e.transactionsHash),
    signature: toHex(e.signature),
    submissionDigest: toHex(e.submissionDigest),
    payload: toHex(e.payload),
    entryHash: toHex(e.entryHash),
  };
}

/** JSON form of an equivocation proof: the export format read by `sequencer slash` and the contract tooling. */
export interface EquivocationProofJson {
  kind: EquivocationKind;
  domain: { name: 'Sequencer'; version: '1'; chainId: number; salt: string };
  signer: string;
  a: SignedHeaderJson;
  b: SignedHeaderJson;
}

export function proofToJson(p: EquivocationProof): EquivocationProofJson {
  return {
    kind: p.kind,
    domain: { name: 'Sequencer', version: '1', chainId: p.chainId, salt: toHex(p.logId) },
    signer: getAddress(toHex(p.signer)),
    a: signedHeaderToJson(p.a),
    b: signedHeaderToJson(p.b),
  };
}

export function parseProof(v: unknown): EquivocationProof {
  if (!isObject(v)) throw new InvalidParamsError('proof: expected an object');
  if (v.kind !== 'conflict' && v.kind !== 'fork') throw new InvalidParamsError('proof.kind: expected "conflict" or "fork"');
  const d = v.domain;
  if (!isObject(d) || d.name !== 'Sequencer' || d.version !== '1') throw new InvalidParamsError('proof.domain: expected {name: "Sequencer", version: "1", chainId, salt}');
  return {
    kind: v.kind,
    chainId: parseIndex(d.chainId, 'proof.domain.chainId'),
    logId: parseHex(d.salt, 'proof.domain.salt', 32),
    signer: parseHex(typeof v.signer === 'string' ? v.signer.toLowerCase() : v.signer, 'proof.signer', 20),
    a: parseSignedHeader(v.a, 'proof.a'),
    b: parseSignedHeader(v.b, 'proof.b'),
  };
}
