/** `sequencer batch`: one batch with its signed header and entries (sequencer_getBatch). */
import { integer, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer batch --rpc URL HEIGHT

Prints the batch at HEIGHT (0 is the first batch): header, header hash, the primary's signature, the
submissions in full (sender, nonce, expiry, transactions, signature) and the entries.

Options:
  --rpc URL     the node's JSON-RPC URL
  -h, --help    show this help
`;

const SPEC = {
  name: 'batch',
  usage: USAGE,
  options: { rpc: { type: 'string' } },
  positionals: { min: 1, max: 1, what: 'HEIGHT' },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(SPEC, argv);
  const url = rpcUrl(required(values.rpc, 'rpc'));
  const height = integer(positionals[0], 'HEIGHT');
  printJson(await rpcClient(url).getBatch(height));
  return 0;
}
