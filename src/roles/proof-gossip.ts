/**
 * Equivocation proofs travel on their own GossipSub topic (docs/protocol.md §Equivocation proofs), so that
 * once any node catches the primary, every node connected to it learns of it, even one that never saw the
 * conflicting header itself. A received proof is adopted only if it checks out on its own.
 */
import { DecodeError } from '../core/bytes.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { InvalidParamsError } from '../core/errors.ts';
import type { Host } from '../p2p/host.ts';
import { decodeJson, encodeJson, proofTopic } from '../wire/p2p-messages.ts';
import { parseProof, proofToJson } from '../wire/json.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';

/** Peers that connect later get the proofs again after this delay (time to exchange subscriptions). */
const REANNOUNCE_DELAY_MS = 1000;

/** Publishes every proof the watch records and adopts the valid ones peers publish. Returns the unsubscribe. */
export function shareProofs(host: Host, logId: Uint8Array, watch: HeaderWatch, log: Logger): () => void {
  const topic = proofTopic(logId);
  const announce = (p: EquivocationProof): void => {
    host.publish(topic, encodeJson(proofToJson(p))).catch((e: Error) => log.warn('proof publish failed', { error: e.message }));
  };
  host.subscribe(topic, async (msg, from) => {
    let proof: EquivocationProof;
    try {
      proof = parseProof(decodeJson(msg));
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof InvalidParamsError || e instanceof DecodeError) return 'reject';
      throw e;
    }
    const outcome = await watch.adopt(proof, `proof gossip from ${from}`);
    return outcome === 'invalid' ? 'reject' : outcome === 'new' ? 'accept' : 'ignore';
  });
  const unsubscribe = [
    watch.onEquivocation(announce),
    host.onPeerConnected(() => {
      if (watch.proofs.length === 0) return;
      setTimeout(() => watch.proofs.forEach(announce), REANNOUNCE_DELAY_MS).unref();
    }),
  ];
  return () => unsubscribe.forEach((u) => u());
}
