/** `sequencer keygen`: a new random secp256k1 key, written to a 0600 file or printed. */
import { writeFile } from 'node:fs/promises';
import { toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { CliError, parseCommand, type CommandSpec } from '../../src/cli/args.ts';
import { generatePrivateKey } from '../../src/cli/keys.ts';
import { printJson } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer keygen [--out FILE]

Creates a new random secp256k1 private key.

  --out FILE   write the key (0x-hex) to FILE, created with mode 0600; an existing FILE is never overwritten.
               Prints {"address": ...}.
  -h, --help   show this help

Without --out the key is printed to stdout as {"address": ..., "privateKey": ...}: you asked for it, so keep
that output private (no shell history, logs or CI output). Prefer --out.
`;

const SPEC = {
  name: 'keygen',
  usage: USAGE,
  options: { out: { type: 'string' } },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const key = generatePrivateKey();
  const address = toHex(addressFromPrivateKey(key));
  if (values.out === undefined) {
    printJson({ address, privateKey: toHex(key) });
    return 0;
  }
  const file = values.out;
  if (file === '') throw new CliError('--out: empty file name');
  try {
    // 'wx' fails if the file exists; the mode applies at creation (the umask can only narrow it).
    await writeFile(file, toHex(key) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${file} already exists; refusing to overwrite it`);
    if (code === 'ENOENT') throw new CliError(`cannot create ${file}: its directory does not exist`);
    throw new CliError(`cannot create ${file}: ${(e as Error).message}`);
  }
  printJson({ address });
  return 0;
}
