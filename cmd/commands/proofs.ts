/** `sequencer proofs`: the equivocation proofs a node holds (sequencer_getEquivocations). */
import { parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer proofs --rpc URL [--calldata]

Prints the equivocation proofs the node holds, as a JSON array. Each proof is self-contained (the EIP-712
domain, the kind, and both signed statements: two headers of the primary, kinds 1-2, or two votes or timeouts
of a validator, kinds 3-6) and is what 'sequencer slash --proof FILE' submits. A node that holds a primary's
proof has stopped following that primary; a validator's proof does not stop it (the quorum is followed).
See docs/protocol.md §Equivocation proofs.

Options:
  --rpc URL       the node's JSON-RPC URL
  --calldata      keep the ready ABI calldata of SequencerBond (slash, slashVoteConflict, ...) in each proof
  -h, --help      show this help
`;

const SPEC = {
  name: 'proofs',
  usage: USAGE,
  options: { rpc: { type: 'string' }, calldata: { type: 'boolean' } },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const proofs = await rpcClient(rpcUrl(required(values.rpc, 'rpc'))).getEquivocations();
  printJson(values.calldata ? proofs : proofs.map(({ calldata: _, ...p }) => p));
  return 0;
}
