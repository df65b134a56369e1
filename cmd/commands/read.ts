/** `sequencer read`: log entries from a sequence number on (sequencer_read). */
import { integer, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer read --rpc URL [--from N] [--limit N] [--text]

Prints the entries [from, from + limit) that the node holds, as a JSON array: fewer at the end of the log, or
when they would exceed the node's response budget (64 MiB of JSON); then continue from the last seq + 1.

Options:
  --rpc URL     the node's JSON-RPC URL
  --from N      first sequence number (default 0)
  --limit N     at most this many entries, 1..1000 (default 100)
  --text        add a "text" field with the payload decoded as UTF-8 (when it is valid UTF-8)
  -h, --help    show this help
`;

const SPEC = {
  name: 'read',
  usage: USAGE,
  options: {
    rpc: { type: 'string' },
    from: { type: 'string', default: '0' },
    limit: { type: 'string', default: '100' },
    text: { type: 'boolean', default: false },
  },
} as const satisfies CommandSpec<any>;

function utf8(hex: unknown): string | undefined {
  if (typeof hex !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(hex.slice(2), 'hex'));
  } catch {
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const url = rpcUrl(required(values.rpc, 'rpc'));
  const from = integer(values.from ?? '0', 'from');
  const limit = integer(values.limit ?? '100', 'limit', 1, 1000);
  const entries = await rpcClient(url).read(from, limit);
  printJson(values.text ? entries.map((e) => ({ ...e, text: utf8(e.payload) })) : entries);
  return 0;
}
