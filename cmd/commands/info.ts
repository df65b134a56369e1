/** `sequencer info`: the node's status (sequencer_info). */
import { parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer info --rpc URL

Prints the node's status as JSON: mode, addresses, peer id and multiaddrs, log id, chain id, entry count,
height, head hashes, connected peers, halted state and equivocation proofs held, process health (memory,
event-loop delay, GC pauses), version.

Options:
  --rpc URL     the node's JSON-RPC URL
  -h, --help    show this help
`;

const SPEC = {
  name: 'info',
  usage: USAGE,
  options: { rpc: { type: 'string' } },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  printJson(await rpcClient(rpcUrl(required(values.rpc, 'rpc'))).info());
  return 0;
}
