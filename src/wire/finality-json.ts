/**
 * JSON form of finality certificates (docs/protocol.md §Finality certificate, §JSON-RPC API getCertificate) and of
 * receipts that carry one (sequencer_append's result, sequencer_verifyReceipt's param):
 *   {height, header: HeaderJson, headerHash, certificate: CertificateJson, chain: HeaderJson[]}
 * Parsing is strict: every field present, no other field, hex of the exact length; the parsers throw
 * InvalidParamsError naming the field, and judge only the shape (checkFinalityCertificate judges the rest).
 */
import { toHex } from '../core/bytes.ts';
import { certificateFromJson, certificateToJson, type CertificateJson } from '../core/certificate.ts';
import { InvalidParamsError } from '../core/errors.ts';
import { MAX_FINALITY_CHAIN, type FinalityCertificate } from '../core/finality-certificate.ts';
import type { Finality } from '../core/receipt.ts';
import { headerToJson, isObject, parseHeader, parseHex, parseIndex, parseReceipt, type HeaderJson, type ParsedReceipt, type ReceiptJson } from './json.ts';

export type { Finality };

/**
 * sequencer_append's `finalTimeoutMs` (docs/protocol.md §JSON-RPC API, append): 10 s by default, at most a minute (a
 * waiting call holds its HTTP request and its answer's reserve). Shared by the node and the SDK.
 */
export const DEFAULT_FINAL_TIMEOUT_MS = 10_000;
export const MAX_FINAL_TIMEOUT_MS = 60_000;

export interface FinalityCertificateJson {
  height: number;
  header: HeaderJson;
  headerHash: string;
  certificate: CertificateJson;
  chain: HeaderJson[];
}

/** A receipt with what makes it final: sequencer_append's result, and what sequencer_verifyReceipt takes. */
export interface FinalReceiptJson extends ReceiptJson {
  finality: Finality;
  /** The finality certificate of the receipt's height, or null while soft. */
  certificate: FinalityCertificateJson | null;
}

export function finalityCertificateToJson(fc: FinalityCertificate): FinalityCertificateJson {
  return {
    height: fc.height, header: headerToJson(fc.header), headerHash: toHex(fc.headerHash),
    certificate: certificateToJson(fc.certificate), chain: fc.chain.map((h) => headerToJson(h)),
  };
}

const FIELDS = ['height', 'header', 'headerHash', 'certificate', 'chain'];
const HEADER_FIELDS = ['logId', 'height', 'view', 'firstSeq', 'count', 'prevHeaderHash', 'headHash', 'entriesRoot', 'timestamp'];
const CERTIFICATE_FIELDS = ['kind', 'view', 'height', 'headerHash', 'n', 'signers', 'signatures'];

/** Refuses a missing or an unknown field, so that a misspelt one is never silently read as absent. */
function exactFields(v: Record<string, unknown>, fields: readonly string[], prefix: string): void {
  for (const name of Object.keys(v)) if (!fields.includes(name)) throw new InvalidParamsError(`${prefix}${name.slice(0, 64)}: unknown field`);
  for (const name of fields) if (!Object.hasOwn(v, name)) throw new InvalidParamsError(`${prefix}${name}: missing`);
}

function strictHeader(v: unknown, field: string) {
  if (isObject(v)) exactFields(v, HEADER_FIELDS, `${field}.`);
  return parseHeader(v, field);
}

/** Parses a finality certificate's JSON form (shape, hex lengths, at most MAX_FINALITY_CHAIN headers). Throws InvalidParamsError. */
export function parseFinalityCertificate(v: unknown, field = 'certificate'): FinalityCertificate {
  if (!isObject(v)) throw new InvalidParamsError(`${field}: expected an object`);
  exactFields(v, FIELDS, `${field}.`);
  if (!Array.isArray(v.chain)) throw new InvalidParamsError(`${field}.chain: expected an array`);
  if (v.chain.length > MAX_FINALITY_CHAIN) throw new InvalidParamsError(`${field}.chain: at most ${MAX_FINALITY_CHAIN} headers`);
  if (!isObject(v.certificate)) throw new InvalidParamsError(`${field}.certificate: expected an object`);
  exactFields(v.certificate, CERTIFICATE_FIELDS, `${field}.certificate.`);
  const c = v.certificate;
  if (typeof c.signers !== 'string' || c.signers.length > 2 + 2 * 32) throw new InvalidParamsError(`${field}.certificate.signers: expected a hex bitmap of at most 32 bytes`);
  if (!Array.isArray(c.signatures) || c.signatures.length > 255) throw new InvalidParamsError(`${field}.certificate.signatures: expected an array of at most 255 signatures`);
  c.signatures.forEach((s, i) => parseHex(s, `${field}.certificate.signatures[${i}]`, 65));
  parseHex(c.headerHash, `${field}.certificate.headerHash`, 32);
  let certificate;
  try {
    certificate = certificateFromJson(c);
  } catch (e) {
    throw new InvalidParamsError(`${field}.certificate: ${(e as Error).message}`);
  }
  return {
    height: parseIndex(v.height, `${field}.height`),
    header: strictHeader(v.header, `${field}.header`),
    headerHash: parseHex(v.headerHash, `${field}.headerHash`, 32),
    certificate,
    chain: v.chain.map((h, i) => strictHeader(h, `${field}.chain[${i}]`)),
  };
}

/**
 * Splits a receipt that may carry finality (FinalReceiptJson) into the receipt proper (parseReceipt, strict) and its
 * finality certificate, or null. `finality` is the sender's claim and is only shape-checked: what a receipt is worth
 * is recomputed from the certificate. Throws InvalidParamsError.
 */
export function parseFinalReceipt(v: unknown): { receipt: ParsedReceipt; certificate: FinalityCertificate | null } {
  if (!isObject(v)) throw new InvalidParamsError('receipt: expected an object');
  const { finality, certificate, ...rest } = v;
  if (finality !== undefined && finality !== 'soft' && finality !== 'final') throw new InvalidParamsError('finality: expected "soft" or "final"');
  return {
    receipt: parseReceipt(rest),
    certificate: certificate === undefined || certificate === null ? null : parseFinalityCertificate(certificate),
  };
}
