/**
 * read: up to `limit` entries from `fromSeq`, as the node answers them. Not verified against a signed header:
 * for that, getProof (one entry) or watchEntries (a range, followed live).
 */
import type { EntryJson } from '../../wire/json.ts';
import type { ClientContext } from '../context.ts';

export function read(ctx: ClientContext, args: { fromSeq: number; limit?: number }): Promise<EntryJson[]> {
  return ctx.node().read(args.fromSeq, args.limit ?? 100);
}
