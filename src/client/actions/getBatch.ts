/**
 * getBatch: the batch at `height`, verified on its own before it is returned: its header signed by the leader of
 * its view, every submission's signature, its entry chain (from the entry hash before it, which the signed head
 * binds) and Merkle root. The entries are recomputed from the submissions, not taken from the node.
 */
import { entryToJson } from '../../wire/json.ts';
import type { BatchJson } from '../../wire/rpc-types.ts';
import type { ClientContext } from '../context.ts';
import { verifyBatchAlone } from '../verify-batch.ts';

export async function getBatch(ctx: ClientContext, height: number): Promise<BatchJson> {
  const node = ctx.node();
  const batch = await node.getBatch(height);
  const { entries } = verifyBatchAlone(ctx, batch, node.url, height);
  return { ...batch, entries: entries.map(entryToJson) };
}
