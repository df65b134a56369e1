/**
 * Verification of what a node serves for sequencer_getBatch, before anything of it reaches the caller
 * (docs/sdk.md §What is verified). The checks are the core's, as a replica makes them (core/batch.ts
 * verifyHeaderSignature, verifyBatchBody: the header signed by the leader of its view, height, link to the
 * previous header, sequence continuity, every submission's signature recomputed from its transactions, the entry
 * chain from the previous head, the Merkle root), minus what a client cannot know: the allowlist and nonce
 * uniqueness against history (the nodes judge those), and the clock (a client's clock proves nothing).
 */
import { verifyBatchBody, verifyHeaderSignature, type DecodedBatch, type Tip } from '../core/batch.ts';
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import { EntryChain, type Entry } from '../core/entry.ts';
import { judgePair } from '../core/equivocation.ts';
import { BaseError } from '../core/errors.ts';
import type { SignedHeader } from '../core/header.ts';
import type { LogRules } from '../core/rules.ts';
import { encodeTxList, type DecodedSubmission } from '../core/submission.ts';
import { sha256 } from '../core/hash.ts';
import { parseHex, parseSignedHeader, parseSubmission, proofToJson, signedHeaderToJson } from '../wire/json.ts';
import type { BatchJson } from '../wire/rpc-types.ts';
import { EntriesReplacedError, InconsistentLogError, VerificationError } from './errors.ts';
import { anchorOf, type TrustAnchor } from './trust-anchor.ts';

/** What batches are verified against: the log's rules as a client knows them, and its chain id (for proofs). */
export interface VerifyContext {
  readonly rules: LogRules;
  readonly chainId: number;
}

export interface VerifiedStep {
  /** The anchor after this batch. */
  readonly anchor: TrustAnchor;
  /** The batch's entries, recomputed from its submissions, in sequence order. */
  readonly entries: readonly Entry[];
}

interface ParsedBatch {
  readonly batch: DecodedBatch;
  readonly prevEntryHash: Bytes;
}

/** A client does not judge timestamps against its own clock: any timestamp is "not in the future". */
const NO_CLOCK = Number.MAX_SAFE_INTEGER;

function unverified(url: string, height: number, e: unknown): VerificationError {
  return new VerificationError(`batch ${height} from ${url} does not verify: ${(e as Error).message}`, { details: { url, height }, cause: e as BaseError });
}

/** The core form of a getBatch answer (its `entries` are not read: they are recomputed from the submissions). */
function parseBatch(json: BatchJson, url: string, height: number): ParsedBatch {
  try {
    const signed = parseSignedHeader({ header: json.header, signature: json.signature }, 'batch');
    if (!Array.isArray(json.submissions)) throw new VerificationError('batch.submissions: expected an array');
    const submissions: DecodedSubmission[] = json.submissions.map((s) => {
      const parsed = parseSubmission(s);
      return { ...parsed, txList: encodeTxList(parsed.transactions) };
    });
    return { batch: { ...signed, submissions }, prevEntryHash: parseHex(json.prevEntryHash, 'batch.prevEntryHash', 32) };
  } catch (e) {
    throw unverified(url, height, e);
  }
}

function headerSignature(ctx: VerifyContext, signed: SignedHeader, url: string): Bytes {
  try {
    return verifyHeaderSignature(ctx.rules, signed);
  } catch (e) {
    throw unverified(url, signed.header.height, e);
  }
}

/**
 * A validly signed header of a later view than the anchor's, at or after its height, that does not continue it: soft
 * batches replaced by a view change (EntriesReplacedError), not an equivocation; undefined for anything else.
 */
function replaced(url: string, anchor: TrustAnchor, served: SignedHeader): EntriesReplacedError | undefined {
  const held = anchor.signed;
  if (!held || served.header.view <= held.header.view || served.header.height < held.header.height) return undefined;
  return new EntriesReplacedError(`${url} serves view ${served.header.view}'s header at height ${served.header.height}, not on the verified header of view ${held.header.view} at ${held.header.height}: soft batches were replaced`, {
    url, held: signedHeaderToJson(held), served: signedHeaderToJson(served), fromHeight: held.header.height,
  });
}

function inconsistency(ctx: VerifyContext, url: string, held: SignedHeader | null, served: SignedHeader, what: string): InconsistentLogError {
  const leader = ctx.rules.membership.leaderOf(served.header.view);
  const proof = held ? judgePair(ctx.rules.separator, ctx.chainId, leader, held, served) : null;
  return new InconsistentLogError(`${url} served ${what}`, {
    url,
    held: held ? signedHeaderToJson(held) : null,
    served: signedHeaderToJson(served),
    proof: proof ? proofToJson(proof) : null,
  });
}

/** The batch's entries, chained from `tip`'s head with the digests verifyBatchBody computed. */
function entriesOf(batch: DecodedBatch, tip: Tip, digests: readonly Bytes[]): Entry[] {
  const h = batch.header;
  const chain = new EntryChain(tip.headHash, h.firstSeq);
  const entries: Entry[] = [];
  batch.submissions.forEach((s, i) => {
    const transactionsHash = sha256(s.txList);
    for (const payload of s.transactions) {
      const seq = chain.nextSeq;
      const entryHash = chain.append(s.sender, digests[i], payload);
      entries.push({
        seq, height: h.height, sender: s.sender, nonce: s.nonce, expiry: s.expiry, transactionsHash, signature: s.signature,
        submissionDigest: digests[i], payload, entryHash,
      });
    }
  });
  return entries;
}

function verifyBody(ctx: VerifyContext, tip: Tip, batch: DecodedBatch, hash: Bytes, url: string): VerifiedStep {
  let verified;
  try {
    verified = verifyBatchBody({ ...ctx.rules, isAllowed: () => true }, tip, batch, hash, NO_CLOCK);
  } catch (e) {
    throw unverified(url, batch.header.height, e);
  }
  return { anchor: anchorOf(batch, hash), entries: entriesOf(batch, tip, verified.digests) };
}

/**
 * Verifies the batch of height `anchor.height + 1` as the successor of the anchor. A validly signed header that
 * does not extend the anchor throws InconsistentLogError (with the fork proof); anything else that does not
 * verify throws VerificationError.
 */
export function verifyNextBatch(ctx: VerifyContext, anchor: TrustAnchor, json: BatchJson, url: string): VerifiedStep {
  const height = anchor.tip.height + 1;
  const { batch } = parseBatch(json, url, height);
  if (batch.header.height !== height) throw new VerificationError(`${url} answered height ${batch.header.height} when asked for ${height}`, { details: { url, height } });
  const hash = headerSignature(ctx, batch, url);
  if (!equalBytes(batch.header.prevHeaderHash, anchor.tip.headerHash)) {
    throw replaced(url, anchor, batch) ?? inconsistency(ctx, url, anchor.signed, batch, `a header at height ${height} that does not extend the verified header ${toHex(anchor.tip.headerHash)}`);
  }
  return verifyBody(ctx, anchor.tip, batch, hash, url);
}

/**
 * Verifies a batch on its own, for a starting point or a single read: signed by the leader, and its body consistent
 * with its header from the entry hash the node says precedes it (which the header's signed headHash binds).
 */
export function verifyBatchAlone(ctx: VerifyContext, json: BatchJson, url: string, height: number): VerifiedStep {
  const parsed = parseBatch(json, url, height);
  if (parsed.batch.header.height !== height) throw new VerificationError(`${url} answered height ${parsed.batch.header.height} when asked for ${height}`, { details: { url, height } });
  return verifyAlone(ctx, parsed, headerSignature(ctx, parsed.batch, url), url);
}

function verifyAlone(ctx: VerifyContext, { batch, prevEntryHash }: ParsedBatch, hash: Bytes, url: string): VerifiedStep {
  const h = batch.header;
  const before: Tip = { height: h.height - 1, headerHash: h.prevHeaderHash, nextSeq: h.firstSeq, headHash: prevEntryHash, timestamp: 0 };
  return verifyBody(ctx, before, batch, hash, url);
}

/**
 * Checks the node's batch at the anchor's own height (its header, validly signed) is the anchor's; throws
 * InconsistentLogError with the conflict proof otherwise. Returns the batch verified alone.
 */
export function verifyAnchorBatch(ctx: VerifyContext, anchor: TrustAnchor, json: BatchJson, url: string): VerifiedStep {
  const parsed = parseBatch(json, url, anchor.tip.height);
  const hash = headerSignature(ctx, parsed.batch, url);
  if (parsed.batch.header.height !== anchor.tip.height || !equalBytes(hash, anchor.tip.headerHash)) {
    throw replaced(url, anchor, parsed.batch) ?? inconsistency(ctx, url, anchor.signed, parsed.batch, `a different header for the verified height ${anchor.tip.height}`);
  }
  return verifyAlone(ctx, parsed, hash, url);
}
