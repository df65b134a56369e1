/**
 * The finality certificate of a height (docs/protocol.md §Finality certificate): the commit certificate of the lowest
 * height c ≥ h whose final header carries its own, plus the headers h..c, so a third party can check with nothing but
 * the log's domain and validator set that the header at h is final: the certificate checks (core/certificate.ts), its
 * header hash is the hash of the last header of the chain, and each header's prevHeaderHash is its predecessor's hash.
 */
import { equalBytes, toHex, type Bytes } from './bytes.ts';
import { checkCertificate, type Certificate } from './certificate.ts';
import { CertificateRejectedError, FinalityCertificateRejectedError } from './errors.ts';
import { headerHash, type Header } from './header.ts';
import { VoteKind, type VoteContext } from './vote.ts';

/**
 * The most headers a finality certificate's `chain` may hold. A height is certified by its own commit certificate
 * or, after a view change, by a descendant's at most W = 8 heights on (docs/design/replication.md §3.3); the bound
 * keeps what a client or node must hash for one certificate small whatever a peer sends.
 */
export const MAX_FINALITY_CHAIN = 64;

export interface FinalityCertificate {
  /** The height it proves final. */
  readonly height: number;
  /** The header at `height` and its hash. */
  readonly header: Header;
  readonly headerHash: Bytes;
  /** A commit certificate (kind 2) for the header at `certificate.height` ≥ `height`. */
  readonly certificate: Certificate;
  /** The headers at heights height+1 .. certificate.height, ascending (empty when the certificate is for `height`). */
  readonly chain: readonly Header[];
}

declare const checked: unique symbol;
/** A finality certificate that checkFinalityCertificate accepted for a given log and validator set. */
export type CheckedFinalityCertificate = FinalityCertificate & { readonly [checked]: true };

/**
 * Checks that `fc` proves the header at `fc.height` final in this log under this validator set: the headers
 * [header, ...chain] are this log's, at consecutive heights from `height`, each linked to its predecessor by
 * prevHeaderHash; `headerHash` is the hash of `header`; the certificate is a commit certificate for the last of them
 * (its view, height and hash) that checks (checkCertificate: a quorum of this set's signatures on that very vote).
 * Pure; costs one header hash per header and one signature recovery per signer. Throws
 * FinalityCertificateRejectedError naming the failed check (a certificate's own failure as `finality-certificate`,
 * with the CertificateRejectedError as its cause and its code in `details.certificateCode`).
 */
export function checkFinalityCertificate(ctx: VoteContext, fc: FinalityCertificate): CheckedFinalityCertificate {
  const reject = (code: FinalityRejection, message: string, details?: Record<string, unknown>): never => {
    throw new FinalityCertificateRejectedError(code, message, { details });
  };
  if (fc.chain.length > MAX_FINALITY_CHAIN) reject('finality-chain-length', `chain of ${fc.chain.length} headers, at most ${MAX_FINALITY_CHAIN}`);
  const headers = [fc.header, ...fc.chain];
  let prevHash: Bytes | undefined;
  headers.forEach((h, i) => {
    if (!equalBytes(h.logId, ctx.logId)) reject('finality-log', `header at height ${h.height} is of another log (${toHex(h.logId)})`);
    if (h.height !== fc.height + i) reject('finality-heights', `header ${i} of the chain is at height ${h.height}, not ${fc.height + i}`, { index: i });
    if (prevHash && !equalBytes(h.prevHeaderHash, prevHash)) {
      reject('finality-link', `header at height ${h.height} does not link to the header before it (prevHeaderHash ${toHex(h.prevHeaderHash)})`, { height: h.height });
    }
    prevHash = headerHash(ctx.separator, h);
    if (i === 0 && !equalBytes(prevHash, fc.headerHash)) reject('finality-header-hash', `headerHash ${toHex(fc.headerHash)} is not the hash of the header at height ${fc.height}`);
  });
  const c = fc.certificate;
  if (c.kind !== VoteKind.commit) reject('finality-not-commit', `certificate of kind ${c.kind}, not a commit certificate (2)`);
  const last = headers[headers.length - 1];
  // A validator votes for a header in the header's own view (§Vote), so the vote's view is the header's too.
  if (c.height !== last.height || c.view !== last.view || !equalBytes(c.headerHash, prevHash!)) {
    reject('finality-header-hash', `certificate is for view ${c.view}, height ${c.height}, header ${toHex(c.headerHash)}: not the chain's last header (view ${last.view}, height ${last.height}, ${toHex(prevHash!)})`);
  }
  try {
    checkCertificate(ctx, c);
  } catch (e) {
    if (!(e instanceof CertificateRejectedError)) throw e;
    throw new FinalityCertificateRejectedError('finality-certificate', `commit certificate: ${e.message}`, { details: { certificateCode: e.code }, cause: e });
  }
  return fc as CheckedFinalityCertificate;
}

export type FinalityRejection = ConstructorParameters<typeof FinalityCertificateRejectedError>[0];
