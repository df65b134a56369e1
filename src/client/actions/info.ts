/** info: the node's status (sequencer_info), after checking that it serves this client's log. */
import type { InfoJson } from '../../wire/rpc-types.ts';
import { checkSameLog, type ClientContext } from '../context.ts';

export async function info(ctx: ClientContext): Promise<InfoJson> {
  const node = ctx.node();
  const answer = await node.info();
  checkSameLog(ctx, answer, node.url);
  return answer;
}
