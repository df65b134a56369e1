/** A real node's API (what the RPC methods serve) with some of its calls replaced: for tests that steer one call. */
import type { NodeApi } from '../../src/rpc/methods.ts';
import type { SequencerNode } from '../../src/node/sequencer-node.ts';

export function nodeApiOf(node: SequencerNode, overrides: Partial<NodeApi> = {}): NodeApi {
  return {
    separator: node.separator,
    rules: node.rules,
    append: (s) => node.append(s),
    finalityCertificate: (h) => node.finalityCertificate(h),
    waitFinal: (h, timeoutMs) => node.waitFinal(h, timeoutMs),
    entries: (from, limit) => node.entries(from, limit),
    batch: (h) => node.batch(h),
    proof: (seq) => node.proof(seq),
    info: () => node.info(),
    equivocations: () => node.equivocations(),
    voteEquivocations: () => node.voteEquivocations(),
    verifyReceipt: (r) => node.verifyReceipt(r),
    ...overrides,
  };
}
