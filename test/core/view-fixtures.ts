/**
 * Fixtures for the view-change tests (timeouts, timeout certificates, justifications): a log of four validators,
 * certificates and timeouts signed by them, and batches sealed by the leader of a view.
 */
import { buildCertificate, type Certificate } from '../../src/core/certificate.ts';
import { GENESIS_TIP, sealBatch, type SealedBatch, type Tip } from '../../src/core/batch.ts';
import { Membership } from '../../src/core/membership.ts';
import type { LogRules } from '../../src/core/rules.ts';
import { addressFromPrivateKey, sign } from '../../src/core/signature.ts';
import { submissionDigest } from '../../src/core/submission.ts';
import { buildTimeoutCertificate, checkTimeoutMessage, type TimeoutMessage } from '../../src/core/timeout.ts';
import { VoteKind, digestOfTimeout, signVoteUnchecked, type LockRef, type Vote } from '../../src/core/vote.ts';
import { SubmissionSigner } from '../../src/client/submission-signer.ts';
import { LOG_ID, patternKey, SEPARATOR } from './helpers.ts';

export const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
export const RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))), isAllowed: () => true };

const client = new SubmissionSigner(patternKey(0x22), SEPARATOR);
let nonce = 0n;

/** A batch of one submission sealed on `tip` by the leader of `view`. */
export function seal(tip: Tip, view: number, timestamp = 1_700_000_000_000): SealedBatch {
  const s = client.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] });
  return sealBatch(RULES, tip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], timestamp, KEYS[view % KEYS.length], view);
}

/** Heights 0 and 1 of view 0. */
export const genesis = seal(GENESIS_TIP, 0);
export const second = seal(genesis.tip, 0);

export function lockOf(b: SealedBatch, view = 0): LockRef {
  return { view, height: b.tip.height, headerHash: b.headerHash };
}

/** A certificate of `kind` for `lock`, signed by `signers`. */
export function certOf(lock: LockRef, signers = [0, 1, 2], kind: VoteKind = VoteKind.lock): Certificate {
  const vote: Vote = { kind, ...lock };
  return buildCertificate(RULES.membership.n, vote, new Map(signers.map((i) => [i, signVoteUnchecked(RULES, vote, KEYS[i]).signature])));
}

/** Validator i's timeout of `view` reporting `lock`, with the lock's certificate. */
export function timeoutBy(i: number, view: number, lock: LockRef | null): TimeoutMessage {
  return { view, lock, signerIndex: i, signature: sign(digestOfTimeout(RULES, view, lock), KEYS[i]), certificate: lock ? certOf(lock) : undefined };
}

/** TC(view) of validators 0, 1, 2, … reporting `locks` in that order. */
export function tcOf(view: number, locks: readonly (LockRef | null)[]) {
  return buildTimeoutCertificate(RULES.membership.n, view, locks.map((l, i) => checkTimeoutMessage(RULES, timeoutBy(i, view, l))));
}
