/**
 * getProof: one entry with its inclusion proof, verified before it is returned: the header is signed by the
 * leader of its view, the submission's digest recomputes from the entry's fields and its signature recovers to the
 * sender, the entry hash recomputes from the previous one, and the Merkle proof leads to the header's root.
 */
import { equalBytes, toHex } from '../../core/bytes.ts';
import { verifyHeaderSignature } from '../../core/batch.ts';
import { entryHash } from '../../core/entry.ts';
import { verifyRangeProof } from '../../core/merkle.ts';
import { recoverAddress } from '../../core/signature.ts';
import { typedDataDigest, submissionStructHash } from '../../core/eip712.ts';
import { parseHex, parseSignedHeader, parseU64 } from '../../wire/json.ts';
import type { EntryProofJson } from '../../wire/rpc-types.ts';
import type { ClientContext } from '../context.ts';
import { VerificationError } from '../errors.ts';

export async function getProof(ctx: ClientContext, seq: number): Promise<EntryProofJson> {
  const node = ctx.node();
  const p = await node.getProof(seq);
  const fail = (reason: string, cause?: unknown): never => {
    throw new VerificationError(`the proof of entry ${seq} from ${node.url} does not verify: ${reason}`, { details: { url: node.url, seq }, cause });
  };
  try {
    const { header, signature } = parseSignedHeader({ header: p.header, signature: p.signature }, 'proof');
    verifyHeaderSignature(ctx.rules, { header, signature });
    const e = p.entry;
    if (e.seq !== seq || e.height !== header.height || p.index !== seq - header.firstSeq || p.index >= header.count) fail('the entry is not at the stated place');
    const sender = parseHex(e.sender, 'entry.sender', 20);
    const digest = typedDataDigest(ctx.rules.separator, submissionStructHash(sender, parseU64(e.nonce, 'entry.nonce'), e.expiry, parseHex(e.transactionsHash, 'entry.transactionsHash', 32)));
    if (!equalBytes(digest, parseHex(e.submissionDigest, 'entry.submissionDigest', 32))) fail('the submission digest does not recompute');
    if (!equalBytes(recoverAddress(digest, parseHex(e.signature, 'entry.signature', 65)), sender)) fail(`the submission is not signed by ${toHex(sender)}`);
    // The payload's membership in transactionsHash needs the whole submission (getBatch); the entry hash binds it to the log.
    const hash = entryHash(parseHex(p.prevEntryHash, 'prevEntryHash', 32), seq, sender, digest, parseHex(e.payload, 'entry.payload'));
    if (!equalBytes(hash, parseHex(e.entryHash, 'entry.entryHash', 32))) fail('the entry hash does not recompute');
    const proof = p.proof.map((h, i) => parseHex(h, `proof[${i}]`, 32));
    if (!verifyRangeProof(header.entriesRoot, header.count, p.index, [hash], proof)) fail('the Merkle proof does not lead to the entries root');
  } catch (e) {
    if (e instanceof VerificationError) throw e;
    fail((e as Error).message, e);
  }
  return p;
}
