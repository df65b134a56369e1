/** `sequencer proof`: an entry with its inclusion proof against a signed header (sequencer_getProof). */
import { integer, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer proof --rpc URL SEQ

Prints the entry with sequence number SEQ and the proof that it is in a batch signed by the primary.

Options:
  --rpc URL     the node's JSON-RPC URL
  -h, --help    show this help
`;

const SPEC = {
  name: 'proof',
  usage: USAGE,
  options: { rpc: { type: 'string' } },
  positionals: { min: 1, max: 1, what: 'SEQ' },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(SPEC, argv);
  const url = rpcUrl(required(values.rpc, 'rpc'));
  const seq = integer(positionals[0], 'SEQ');
  printJson(await rpcClient(url).getProof(seq));
  return 0;
}
