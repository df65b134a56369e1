/** `sequencer verify-receipt`: checks a receipt against a node; a conflict yields an equivocation proof. */
import { readFile } from 'node:fs/promises';
import { CliError, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';
import type { VerifyReceiptJson } from '../../src/wire/rpc-types.ts';

export const USAGE = `Usage: sequencer verify-receipt --rpc URL --receipt FILE

Checks a receipt (the JSON that 'sequencer append' printed) against a node: that it is for the node's log and
a view the log allows, the primary's signature, the Merkle proof of its entries, then its header, entries,
sender, nonce and digest against the node's own log; and, if it carries one (what 'append --wait final' printed),
its finality certificate. Prints {valid, reason, status, proof, finality, certificate}; status is
  consistent  the node stores exactly this header, with these entries, sender, nonce and digest
  pending     the node has not reached that height; it keeps the header and, if the batch that arrives
              there differs, records the equivocation proof then (ask again later)
  invalid     the receipt does not check on its own (or its headerHash is not the header's hash); 'reason'
              says why (valid=false)
  mismatch    the node stores this header, but not with these entries, sender, nonce or digest; 'reason'
              names what differs (valid=false)
  conflict    the primary signed something else for that position: 'proof' is the equivocation proof,
              which the node also keeps
finality is
  final       its certificate checks (a quorum of the validators' commit votes on its header, or on one that
              links to it), or the node holds its height final with this very header: 'certificate' is the
              receipt's, or the node's
  soft        signed by the leader, not (yet) known final: ask again later, or append with --wait final
A certificate that does not check makes the receipt invalid. A receipt with a field a receipt does not have, or
whose height or count disagrees with it, is refused by the node (invalid params). Exit code 0 when consistent or
pending, 1 otherwise.

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
  const result = await rpcClient(rpcUrl(required(values.rpc, 'rpc'))).call<VerifyReceiptJson>('sequencer_verifyReceipt', [receipt]);
  printJson(result);
  // Anything but these two means the receipt cannot be relied on as it stands (or the primary equivocated).
  return result.valid && (result.status === 'consistent' || result.status === 'pending') ? 0 : 1;
}
