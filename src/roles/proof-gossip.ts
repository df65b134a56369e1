/**
 * Equivocation proofs travel on their own GossipSub topic (docs/protocol.md §Equivocation proofs), so that
 * once any node catches the primary, or a validator, every node connected to it learns of it, even one that never
 * saw the conflicting headers or votes itself. A received proof is adopted only if it checks out on its own.
 * Header proofs (kinds 1-2) and validator proofs (kinds 3-6) share the topic; the JSON's `kind` tells them apart.
 */
import { DecodeError } from '../core/bytes.ts';
import type { EquivocationProof } from '../core/equivocation.ts';
import { InvalidParamsError } from '../core/errors.ts';
import type { Host } from '../p2p/host.ts';
import { decodeJson, encodeJson, proofTopic } from '../wire/p2p-messages.ts';
import { parseProof, proofToJson } from '../wire/json.ts';
import { isVoteProofJson, parseVoteProof, type VoteProofJson } from '../wire/vote-proof-json.ts';
import type { Logger } from '../core/logger.ts';
import type { HeaderWatch } from './header-watch.ts';
import type { AdoptOutcome, VoteEvidence } from './vote-evidence.ts';
import type { Verdict } from './role.ts';

/** Peers that connect later get the proofs again after this delay (time to exchange subscriptions). */
const REANNOUNCE_DELAY_MS = 1000;
/** Re-announcement rounds are told apart by this many bits of trailing whitespace (see `reannouncement`). */
const ROUND_BITS = 16;

/**
 * A re-announcement's bytes: the proof's JSON followed by the round number in whitespace (' ' = 0, '\t' = 1), which
 * JSON ignores. GossipSub names a message by the hash of its bytes and drops a publication it has seen within its
 * seen-cache time (2 minutes) as a duplicate, so the same bytes again would never reach the peer that just joined.
 */
function reannouncement(json: unknown, round: number): Uint8Array {
  let bits = '';
  for (let i = ROUND_BITS - 1; i >= 0; i--) bits += (round >> i) & 1 ? '\t' : ' ';
  return new TextEncoder().encode(JSON.stringify(json) + bits);
}

/**
 * Publishes every proof the watch and the vote evidence record and adopts the valid ones peers publish: malformed
 * or invalid proofs are REJECTED, proofs already held IGNORED, new ones stored and ACCEPTED. Returns the unsubscribe.
 */
export function shareProofs(host: Host, logId: Uint8Array, watch: HeaderWatch, evidence: VoteEvidence, log: Logger): () => void {
  const topic = proofTopic(logId);
  const publish = (bytes: Uint8Array): void => {
    host.publish(topic, bytes).catch((e: Error) => log.warn('proof publish failed', { error: e.message }));
  };
  const announce = (p: EquivocationProof): void => publish(encodeJson(proofToJson(p)));
  const announceVote = (p: VoteProofJson): void => publish(encodeJson(p));
  let round = 0;
  const verdict = (outcome: AdoptOutcome): Verdict => (outcome === 'invalid' ? 'reject' : outcome === 'new' ? 'accept' : 'ignore');
  host.subscribe(topic, async (msg, from) => {
    const origin = `proof gossip from ${from}`;
    try {
      const json = decodeJson(msg);
      if (isVoteProofJson(json)) return verdict(await evidence.adopt(parseVoteProof(json), origin));
      return verdict(await watch.adopt(parseProof(json), origin));
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof InvalidParamsError || e instanceof DecodeError) return 'reject';
      throw e;
    }
  });
  const unsubscribe = [
    watch.onEquivocation(announce),
    evidence.onProof(announceVote),
    host.onPeerConnected(() => {
      if (watch.proofs.length === 0 && evidence.proofs.length === 0) return;
      setTimeout(() => {
        round = (round + 1) % 2 ** ROUND_BITS;
        for (const p of watch.proofs) publish(reannouncement(proofToJson(p), round));
        for (const p of evidence.proofs) publish(reannouncement(p, round));
      }, REANNOUNCE_DELAY_MS).unref();
    }),
  ];
  return () => unsubscribe.forEach((u) => u());
}
