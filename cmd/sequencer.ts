#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=16
/**
 * The `sequencer` command line (docs/cli.md). Each command lives in cmd/commands/<name>.ts and is loaded only
 * when used, so `--help` and the small client commands do not pay for loading libp2p.
 *
 * Exit codes: 0 success, 1 failure (RPC error, node failure...), 2 usage error (unknown flag, missing value...).
 */
import pkg from '../package.json' with { type: 'json' };
import { CliError, HelpShown, UsageError } from '../src/cli/args.ts';
import { errorLine } from '../src/cli/output.ts';

export interface Command {
  run(argv: string[]): Promise<number | void>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  start: { summary: 'run a node (primary or replica)', load: () => import('./commands/start.ts') },
  devnet: { summary: 'run a local primary and replicas (what `npm start` runs)', load: () => import('./commands/devnet.ts') },
  keygen: { summary: 'create a new secp256k1 key', load: () => import('./commands/keygen.ts') },
  append: { summary: 'sign and append transactions', load: () => import('./commands/append.ts') },
  read: { summary: 'read log entries', load: () => import('./commands/read.ts') },
  info: { summary: "show a node's status", load: () => import('./commands/info.ts') },
  batch: { summary: 'show the batch at a height', load: () => import('./commands/batch.ts') },
  proof: { summary: 'show the inclusion proof of an entry', load: () => import('./commands/proof.ts') },
  'verify-receipt': { summary: 'check a receipt against a node (detects equivocation)', load: () => import('./commands/verify-receipt.ts') },
  proofs: { summary: 'list the equivocation proofs a node holds', load: () => import('./commands/proofs.ts') },
  'deploy-slashing': { summary: 'deploy the bond contract and post a bond', load: () => import('./commands/deploy-slashing.ts') },
  slash: { summary: 'submit equivocation proofs to the bond contract', load: () => import('./commands/slash.ts') },
  bond: { summary: "read a sequencer's bond, manage its withdrawal, list slashes", load: () => import('./commands/bond.ts') },
};

const USAGE = `Usage: sequencer <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`).join('\n')}

Options:
  -h, --help     show this help (also: sequencer <command> --help)
  -v, --version  print the version

Exit codes: 0 success, 1 failure, 2 usage error. See docs/cli.md.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    if (name === 'help' && rest[0] !== undefined && rest[0] in COMMANDS) return main([rest[0], '--help']);
    process.stdout.write(USAGE);
    return 0;
  }
  if (name === '-v' || name === '--version' || name === 'version') {
    process.stdout.write(pkg.version + '\n');
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`error: unknown ${name.startsWith('-') ? 'option' : 'command'} '${name}'\nRun 'sequencer --help' for the list of commands.\n`);
    return 2;
  }
  try {
    return (await (await command.load()).run(rest)) ?? 0;
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\nRun 'sequencer ${name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(errorLine(e) + '\n');
    if (process.env.SEQUENCER_DEBUG && e instanceof Error && !(e instanceof CliError)) process.stderr.write(`${e.stack}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

// `sequencer read ... | head`: a reader that goes away is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit once stdout is flushed, even if a library left a handle (keep-alive socket, timer) open.
process.stdout.write('', () => process.exit(code));
