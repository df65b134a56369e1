/**
 * getCertificate: the finality certificate of a height (sequencer_getCertificate), checked before it is returned
 * against the client's log and validator set (core checkFinalityCertificate: a quorum of the validators' commit votes
 * on the last header of the chain, each header linked to the one before it, the first at the height asked for).
 * A node answers NotFoundError while the height is not final there.
 */
import { checkFinalityCertificate } from '../../core/finality-certificate.ts';
import { parseFinalityCertificate } from '../../wire/finality-json.ts';
import type { FinalityCertificateJson } from '../../wire/rpc-types.ts';
import type { ClientContext } from '../context.ts';
import type { RpcClient } from '../rpc-client.ts';
import { VerificationError } from '../errors.ts';

/** `node`: the one to ask (the client's first by default; a watcher asks the node it follows). */
export async function getCertificate(ctx: ClientContext, height: number, node: RpcClient = ctx.node()): Promise<FinalityCertificateJson> {
  const answer = await node.getCertificate(height);
  try {
    const fc = parseFinalityCertificate(answer);
    if (fc.height !== height) throw new VerificationError(`it is for height ${fc.height}`);
    checkFinalityCertificate(ctx.rules, fc);
  } catch (e) {
    throw new VerificationError(`the finality certificate of height ${height} from ${node.url} does not check: ${(e as Error).message}`, {
      details: { url: node.url, height }, cause: e,
    });
  }
  return answer;
}
