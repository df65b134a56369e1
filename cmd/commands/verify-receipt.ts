/** `sequencer verify-receipt`: checks a receipt against a node; a conflict yields an equivocation proof. */
import { readFile } from 'node:fs/promises';
import { CliError, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer verify-receipt --rpc URL --receipt FILE

Checks a receipt (the JSON that 'sequencer append' printed) against a node: the primary's signature, the
Merkle proof of its entries, and its header against the node's own log. Prints
{valid, reason, status, proof}; status is 'consistent' (the node holds exactly this header), 'pending' (the
node has not reached that height) or 'conflict' (the primary signed something else for that position: 'proof'
is the equivocation proof, which the node also keeps). Exit code 1 when invalid or in conflict.

Options:
  --rpc URL        the node's JSON-RPC URL
  --receipt FILE   the receipt JSON ('-' for standard input)
  -h, --help       show this help
`;

const SPEC = {
  name: 'verify-receipt',
  usage: USAGE,
  options: { rpc: { type: 'string' }, receipt: { type: 'string' } },
} as const satisfies CommandSpec<any>;

async function readInput(file: string): Promise<string> {
  if (file !== '-') return readFile(file, 'utf8');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const file = required(values.receipt, 'receipt');
  let receipt: unknown;
  try {
    receipt = JSON.parse(await readInput(file));
  } catch (e) {
    throw new CliError(`cannot read a receipt from ${file}: ${(e as Error).message}`);
  }
  const result = await rpcClient(rpcUrl(required(values.rpc, 'rpc'))).call<{ valid: boolean; status: string }>('sequencer_verifyReceipt', [receipt]);
  printJson(result);
  return result.valid && result.status !== 'conflict' ? 0 : 1;
}
