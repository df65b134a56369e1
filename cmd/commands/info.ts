/** `sequencer info`: the node's status (sequencer_info). */
import { parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer info --rpc URL

Prints the node's status as JSON: mode, role (leader, validator or observer), addresses, the validator set
(validators, f, quorum, membershipHash), view and its leader, finalizedHeight and finalizedHeaderHash (the
highest height final on this node: every receipt at or below it is settled), lock, peer id and multiaddrs, log
id, chain id, entry count, height, head hashes, connected peers, halted state, notReady (a primary still catching up from its peers
at start-up, and why), storageFault (a full disk or another storage fault the node is recovering from,
or null), bond (the primary's on-chain bond, when the node was given --bond-contract),
equivocation proofs held, process health (memory,
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
