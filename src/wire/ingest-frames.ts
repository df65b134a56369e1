/**
 * The messages of the binary ingest path (docs/protocol.md §Binary ingest), shared by the node (src/rpc/ingest.ts)
 * and the SDK (src/client/ingest-client.ts). Each is the payload of one binary WebSocket message; no JSON or hex
 * is on the path of a submission or its receipt (only an error's optional `data` is JSON, as in JSON-RPC).
 *
 *   request  = requestId u32 | submission (docs/protocol.md §Submission, wire form)
 *   answer   = requestId u32 | kind u8 | body
 *   receipt  (kind 0) = signedHeader[229] | submissionDigest[32] | sender[20] | nonce u64 | firstSeq u64
 *                       | entryCount u32 | entryHash[32] * entryCount | prevEntryHash[32] | proofCount u32 | proofHash[32] * proofCount
 *   error    (kind 1) = code i32 | messageLength u32 | message (UTF-8) | dataLength u32 | data (UTF-8 JSON object; 0 bytes = none)
 */
import { DecodeError, Reader, Writer, type Bytes } from '../core/bytes.ts';
import { readHeader, SIGNED_HEADER_BYTES, writeHeader } from '../core/header.ts';
import { MAX_SUBMISSION_BYTES, MAX_TXS_PER_SUBMISSION } from '../core/limits.ts';
import type { Receipt } from '../core/receipt.ts';
import { SIGNATURE_BYTES } from '../core/signature.ts';
import { decodeSubmission, submissionSize, writeSubmission, type DecodedSubmission, type Submission } from '../core/submission.ts';

/** The path of the WebSocket endpoint on the node's JSON-RPC port. */
export const INGEST_PATH = '/ingest';
export const REQUEST_ID_BYTES = 4;
/** Largest request message: a request id and the largest submission. A larger message closes the connection (1009). */
export const MAX_INGEST_REQUEST_BYTES = REQUEST_ID_BYTES + MAX_SUBMISSION_BYTES;
/** A receipt's range proof never needs more hashes than this (two per level of a tree of MAX_BATCH_TXS leaves). */
export const MAX_PROOF_HASHES = 32;
const MAX_ERROR_MESSAGE_BYTES = 4096;
const MAX_ERROR_DATA_BYTES = 64 * 1024;

export const AnswerKind = { Receipt: 0, Error: 1 } as const;

/** An error answer: the JSON-RPC error object of docs/protocol.md §Errors, carried in binary. */
export interface IngestError {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

export type IngestAnswer =
  | { readonly requestId: number; readonly receipt: Receipt }
  | { readonly requestId: number; readonly error: IngestError };

const HASH = 32;
/** Receipt body bytes besides its entry and proof hashes. */
const RECEIPT_FIXED_BYTES = SIGNED_HEADER_BYTES + HASH + 20 + 8 + 8 + 4 + HASH + 4;
const ANSWER_PREFIX_BYTES = REQUEST_ID_BYTES + 1;

/** The most bytes the receipt answer of a submission of `txCount` transactions can take (reserved before it is sequenced). */
export function receiptAnswerBound(txCount: number): number {
  return ANSWER_PREFIX_BYTES + RECEIPT_FIXED_BYTES + HASH * (txCount + MAX_PROOF_HASHES);
}

export function encodeIngestRequest(requestId: number, s: Submission): Bytes {
  const w = new Writer(REQUEST_ID_BYTES + submissionSize(s));
  w.u32(requestId);
  writeSubmission(w, s);
  return w.finish();
}

/** A request's id, or undefined if the message is too short to hold one (the connection is then closed). */
export function peekRequestId(message: Uint8Array): number | undefined {
  return message.byteLength < REQUEST_ID_BYTES ? undefined : new Reader(message).u32();
}

/** The submission of a request (the id is read with peekRequestId). Throws DecodeError as decodeSubmission does. */
export function decodeIngestSubmission(message: Uint8Array): DecodedSubmission {
  return decodeSubmission(message.subarray(REQUEST_ID_BYTES));
}

export function encodeReceiptAnswer(requestId: number, r: Receipt): Bytes {
  const w = new Writer(ANSWER_PREFIX_BYTES + RECEIPT_FIXED_BYTES + HASH * (r.entryHashes.length + r.proof.length));
  w.u32(requestId).u8(AnswerKind.Receipt);
  writeHeader(w, r.header);
  w.raw(r.signature).raw(r.submissionDigest).raw(r.sender).u64(r.nonce).u64(r.firstSeq).u32(r.entryHashes.length);
  for (const h of r.entryHashes) w.raw(h);
  w.raw(r.prevEntryHash).u32(r.proof.length);
  for (const h of r.proof) w.raw(h);
  return w.finish();
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

export function encodeErrorAnswer(requestId: number, e: IngestError): Bytes {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: cutting the string (not its bytes) keeps it valid UTF-8.
  const message = utf8.encode(e.message.slice(0, MAX_ERROR_MESSAGE_BYTES / 3));
  const data = e.data === undefined ? new Uint8Array(0) : utf8.encode(JSON.stringify(e.data));
  if (data.byteLength > MAX_ERROR_DATA_BYTES) return encodeErrorAnswer(requestId, { code: e.code, message: e.message });
  const w = new Writer(ANSWER_PREFIX_BYTES + 4 + 4 + message.byteLength + 4 + data.byteLength);
  w.u32(requestId).u8(AnswerKind.Error);
  w.view.setInt32(w.offset, e.code);
  w.offset += 4;
  return w.u32(message.byteLength).raw(message).u32(data.byteLength).raw(data).finish();
}

/** Decodes an answer; throws DecodeError on anything but exactly one well-formed answer. Hashes are views into `bytes`. */
export function decodeIngestAnswer(bytes: Uint8Array): IngestAnswer {
  const r = new Reader(bytes);
  const requestId = r.u32();
  const kind = r.u8();
  if (kind === AnswerKind.Receipt) {
    const header = readHeader(r);
    const signature = r.raw(SIGNATURE_BYTES);
    const submissionDigest = r.raw(HASH);
    const sender = r.raw(20);
    const nonce = r.u64big();
    const firstSeq = r.u64();
    const entryCount = r.u32();
    if (entryCount > MAX_TXS_PER_SUBMISSION) throw new DecodeError(`a receipt of ${entryCount} entries: more than a submission holds`);
    const entryHashes = hashes(r, entryCount);
    const prevEntryHash = r.raw(HASH);
    const proofCount = r.u32();
    if (proofCount > MAX_PROOF_HASHES) throw new DecodeError(`a range proof of ${proofCount} hashes: more than any batch needs`);
    const proof = hashes(r, proofCount);
    r.end();
    return { requestId, receipt: { header, signature, submissionDigest, sender, nonce, firstSeq, entryHashes, prevEntryHash, proof } };
  }
  if (kind !== AnswerKind.Error) throw new DecodeError(`unknown answer kind ${kind}`);
  const code = r.u32() | 0;
  const messageLength = r.u32();
  if (messageLength > MAX_ERROR_MESSAGE_BYTES) throw new DecodeError('error message too long');
  const message = text(r.raw(messageLength));
  const dataLength = r.u32();
  if (dataLength > MAX_ERROR_DATA_BYTES) throw new DecodeError('error data too long');
  const data = dataLength === 0 ? undefined : json(r.raw(dataLength));
  r.end();
  return { requestId, error: data === undefined ? { code, message } : { code, message, data } };
}

function hashes(r: Reader, n: number): Bytes[] {
  const out: Bytes[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.raw(HASH);
  return out;
}

function text(b: Uint8Array): string {
  try {
    return fromUtf8.decode(b);
  } catch {
    throw new DecodeError('error message is not UTF-8');
  }
}

function json(b: Uint8Array): unknown {
  try {
    return JSON.parse(text(b));
  } catch {
    throw new DecodeError('error data is not JSON');
  }
}
