/** Shared fixtures for the core tests: fixed keys, a log domain, signed submissions and log rules. */
import { createHash, randomBytes } from 'node:crypto';
import { TypedDataEncoder, keccak256 as ethersKeccak, toUtf8Bytes, type TypedDataDomain, type TypedDataField } from 'ethers';
import { equalBytes, fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { domainSeparator, TYPED_DATA_TYPES, type LogDomain } from '../../src/core/eip712.ts';
import { addressFromPrivateKey, sign } from '../../src/core/signature.ts';
import { submissionDigest, type Submission } from '../../src/core/submission.ts';
import type { AdmittedSubmission } from '../../src/core/batch.ts';
import { Membership } from '../../src/core/membership.ts';
import type { LogRules } from '../../src/core/rules.ts';

/** A private key made of one byte repeated 32 times (valid for 0x01..0xff). */
export function patternKey(byte: number): Bytes {
  return new Uint8Array(32).fill(byte);
}

export const PRIMARY_KEY = patternKey(0x01);
export const ALICE_KEY = patternKey(0x02);
export const BOB_KEY = patternKey(0x03);
export const MALLORY_KEY = patternKey(0x04);
export const PRIMARY = addressFromPrivateKey(PRIMARY_KEY);
export const ALICE = addressFromPrivateKey(ALICE_KEY);
export const BOB = addressFromPrivateKey(BOB_KEY);
export const MALLORY = addressFromPrivateKey(MALLORY_KEY);

export const CHAIN_ID = 31337;
export const LOG_ID = fromHex(ethersKeccak(toUtf8Bytes('sequencer-devnet')), 32);
export const DOMAIN: LogDomain = { chainId: CHAIN_ID, logId: LOG_ID };
export const SEPARATOR = domainSeparator(DOMAIN);

export function ethersDomain(d: LogDomain): TypedDataDomain {
  return { name: 'Sequencer', version: '1', chainId: d.chainId, salt: toHex(d.logId) };
}

/** ethers wants one primary type per encoder, and mutable field arrays. */
export const SUBMISSION_TYPES: Record<string, TypedDataField[]> = { Submission: [...TYPED_DATA_TYPES.Submission] };
export const HEADER_TYPES: Record<string, TypedDataField[]> = { BatchHeader: [...TYPED_DATA_TYPES.BatchHeader] };

export function ethersSubmissionHash(d: LogDomain, sender: Uint8Array, nonce: bigint, expiry: number, txHash: Uint8Array): string {
  return TypedDataEncoder.hash(ethersDomain(d), SUBMISSION_TYPES, { sender: toHex(sender), nonce, expiry, transactionsHash: toHex(txHash) });
}

export function sha256(...parts: Uint8Array[]): Bytes {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function rand(n: number): Bytes {
  return new Uint8Array(randomBytes(n));
}

export function hex(b: Uint8Array): string {
  return toHex(b);
}

/** Signs a submission with `key`; `sender` defaults to the key's address. */
export function makeSubmission(
  key: Uint8Array,
  nonce: bigint,
  transactions: readonly Uint8Array[],
  opts: { expiry?: number; sender?: Uint8Array; separator?: Uint8Array } = {},
): Submission {
  const unsigned = {
    sender: opts.sender ?? addressFromPrivateKey(key),
    nonce,
    expiry: opts.expiry ?? 0,
    transactions,
    signature: new Uint8Array(65),
  };
  const digest = submissionDigest(opts.separator ?? SEPARATOR, unsigned);
  return { ...unsigned, signature: sign(digest, key) };
}

export function admit(s: Submission, separator: Uint8Array = SEPARATOR): AdmittedSubmission {
  return { submission: s, digest: submissionDigest(separator, s) };
}

export function makeRules(allowed: readonly Uint8Array[] = [ALICE, BOB], opts: { primary?: Uint8Array; logId?: Uint8Array; chainId?: number } = {}): LogRules {
  const logId = opts.logId ?? LOG_ID;
  return {
    logId,
    separator: domainSeparator({ chainId: opts.chainId ?? CHAIN_ID, logId }),
    membership: Membership.single(opts.primary ?? PRIMARY),
    isAllowed: (sender) => allowed.some((a) => equalBytes(a, sender)),
  };
}

export function txs(...payloads: string[]): Bytes[] {
  return payloads.map((p) => new TextEncoder().encode(p));
}

/** Deterministic pseudo-random bytes (xorshift32) for reproducible large inputs. */
export function detBytes(n: number, seed: number): Bytes {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
