/**
 * A batch's justification (docs/protocol.md §Batch, wire form 2): what the first header of a view v > 0 shows for
 * being there. It travels beside the signed header, unsigned, because every part of it is self-verifying:
 *   flags u8 | [TC] if bit 0 | [certificate of TC.highLock] if bit 1          (other bits 0; bit 1 only with bit 0)
 * TC is TC(v − 1) (certificate.ts), the certificate (either kind) is for exactly its highest lock. checkViewEntry
 * tells whether a header may start its view on it (safety.ts rule L3): it re-proposes the highest lock (the same
 * header but for its view) or extends it (the next height, linked to it); with no lock, it starts the log.
 */
import { DecodeError, Reader, Writer, ZERO32, equalBytes, type Bytes } from './bytes.ts';
import {
  certificateSize, encodeCertificate, encodeTimeoutCertificate, readCertificate, readTimeoutCertificate, timeoutCertificateSize,
  type Certificate, type CheckedCertificate, type CheckedTimeoutCertificate, type TimeoutCertificate,
} from './certificate.ts';
import { BatchRejectedError } from './errors.ts';
import { headerHash, type Header } from './header.ts';
import type { ViewEntry } from './safety.ts';
import { checkTimeoutCertificateWithLock } from './timeout.ts';
import type { VoteContext } from './vote.ts';

/** The most bytes a justification may take (a TC and a certificate of 255 validators fit well within). */
export const MAX_JUSTIFICATION_BYTES = 65_536;

const HAS_TC = 1;
const HAS_LOCK_CERT = 2;

export interface Justification {
  readonly tc?: TimeoutCertificate;
  readonly highLockCert?: Certificate;
}

export function justificationSize(j: Justification): number {
  return 1 + (j.tc ? timeoutCertificateSize(j.tc) : 0) + (j.highLockCert ? certificateSize(j.highLockCert) : 0);
}

export function writeJustification(w: Writer, j: Justification): void {
  w.u8((j.tc ? HAS_TC : 0) | (j.highLockCert ? HAS_LOCK_CERT : 0));
  if (j.tc) w.raw(encodeTimeoutCertificate(j.tc));
  if (j.highLockCert) w.raw(encodeCertificate(j.highLockCert));
}

/** Reads a justification that spans `bytes` exactly. Throws DecodeError. */
export function decodeJustification(bytes: Uint8Array): Justification {
  if (bytes.byteLength > MAX_JUSTIFICATION_BYTES) throw new DecodeError(`justification of ${bytes.byteLength} bytes, at most ${MAX_JUSTIFICATION_BYTES}`);
  const r = new Reader(bytes);
  const flags = r.u8();
  if ((flags & ~(HAS_TC | HAS_LOCK_CERT)) !== 0) throw new DecodeError(`justification flags ${flags}: unknown bits set`);
  if ((flags & HAS_LOCK_CERT) !== 0 && (flags & HAS_TC) === 0) throw new DecodeError('a lock certificate without its timeout certificate');
  const tc = (flags & HAS_TC) !== 0 ? readTimeoutCertificate(r) : undefined;
  const highLockCert = (flags & HAS_LOCK_CERT) !== 0 ? readCertificate(r) : undefined;
  r.end();
  return { tc, highLockCert };
}

export function encodeJustification(j: Justification): Bytes {
  const w = new Writer(justificationSize(j));
  writeJustification(w, j);
  return w.finish();
}

/** A header's view entry, checked: the safety rules' ViewEntry (rule L3) and the certificates behind it. */
export interface CheckedViewEntryOfHeader {
  readonly viewEntry: ViewEntry;
  readonly tc: CheckedTimeoutCertificate;
  readonly highLockCert?: CheckedCertificate;
}

function refuse(reason: string): never {
  throw new BatchRejectedError(reason);
}

/**
 * Checks that `header` may be the first header of its view (> 0) on `j`: TC(view − 1) holds with the certificate
 * of its highest lock (hL), and the header re-proposes hL (its height, and the header with hL's view hashes to hL's
 * header hash: header.ts contentEqual with hL's header, judged by hash so the node need not hold it) or extends it (the next height, prevHeaderHash = hL's hash); with hL = ⊥ it is height 0 on nothing.
 * Throws BatchRejectedError (certificate failures as their cause).
 */
export function checkViewEntry(ctx: VoteContext & { readonly separator: Uint8Array }, header: Header, j: Justification): CheckedViewEntryOfHeader {
  if (header.view === 0) refuse('view 0 has no view entry');
  if (!j.tc) refuse(`the first header of view ${header.view} carries no timeout certificate`);
  if (j.tc.view !== header.view - 1) refuse(`the first header of view ${header.view} carries TC(${j.tc.view}), not TC(${header.view - 1})`);
  let entry;
  try {
    entry = checkTimeoutCertificateWithLock(ctx, j.tc, j.highLockCert);
  } catch (e) {
    throw new BatchRejectedError(`view ${header.view} justification: ${(e as Error).message}`, { cause: e });
  }
  const high = entry.highLockCert ? { view: entry.highLockCert.view, height: entry.highLockCert.height, headerHash: entry.highLockCert.headerHash } : null;
  let reproposal = false;
  if (high === null) {
    if (header.height !== 0 || !equalBytes(header.prevHeaderHash, ZERO32)) refuse(`the first header of view ${header.view} must start the log: no lock was reported`);
  } else if (header.height === high.height) {
    if (!equalBytes(headerHash(ctx.separator, { ...header, view: high.view }), high.headerHash)) {
      refuse(`the first header of view ${header.view} at the locked height ${high.height} is not a re-proposal of the locked header`);
    }
    reproposal = true;
  } else if (header.height !== high.height + 1 || !equalBytes(header.prevHeaderHash, high.headerHash)) {
    refuse(`the first header of view ${header.view} must re-propose or extend the highest lock (height ${high.height})`);
  }
  return { viewEntry: { tcView: j.tc.view, highLock: high, reproposal }, tc: entry.tc, highLockCert: entry.highLockCert };
}
