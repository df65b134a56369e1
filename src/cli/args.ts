/**
 * The CLI's flag handling: a thin layer over node:util parseArgs (strict) that turns every mistake into a
 * UsageError (exit code 2) and adds -h/--help to every command. Runtime failures are CliErrors (exit code 1).
 * Both carry a one-line message; the entry point prints it without a stack trace.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import { BaseError } from '../core/errors.ts';
import type { Level } from '../core/logger.ts';
import { LOG_LEVELS, setCommandLog } from './command-log.ts';

/** A mistake in how the command was invoked: exit code 2 and a hint to run --help. */
export class UsageError extends BaseError {
  override name = 'UsageError';
}

/** A failure the user can act on (unreachable node, bad key file, RPC error...): exit code 1, one line. */
export class CliError extends BaseError {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Thrown (and caught by the entry point) after --help printed the usage: exit code 0. */
export class HelpShown extends BaseError {
  override name = 'HelpShown';
}

export interface CommandSpec<O extends ParseArgsOptionsConfig> {
  /** e.g. "start"; used in messages ("Run 'sequencer start --help'"). */
  readonly name: string;
  readonly usage: string;
  readonly options: O;
  /** Allowed positional arguments (default none). */
  readonly positionals?: { readonly min: number; readonly max: number; readonly what: string };
}

/** Options every command takes: parseCommand adds them to each command's own. */
const COMMON = {
  help: { type: 'boolean', short: 'h' },
  'log-level': { type: 'string', default: 'info' },
} as const;

/** Appended to a command's --help, unless its usage describes --log-level itself (start, devnet: their nodes' level). */
const COMMON_USAGE = `
Every command also takes:
  --log-level LEVEL   what it logs to stderr, as JSON lines: debug, info, warn or error (default info)
`;

/**
 * Parses `argv` against the spec, and sets the command's log level (command-log.ts). On --help prints the usage
 * to stdout and throws HelpShown.
 */
export function parseCommand<O extends ParseArgsOptionsConfig>(spec: CommandSpec<O>, argv: readonly string[]) {
  const options = { ...spec.options, ...COMMON } as O & typeof COMMON;
  const wantsHelp = helpRequested(argv);
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true, allowNegative: false });
  } catch (e) {
    if (wantsHelp) showHelp(spec.usage);
    throw new UsageError(cleanParseError(e));
  }
  if ((parsed.values as { help?: boolean }).help) showHelp(spec.usage.includes('--log-level') ? spec.usage : spec.usage.trimEnd() + '\n' + COMMON_USAGE);
  const level = oneOf<Level>((parsed.values as { 'log-level'?: string })['log-level'] ?? 'info', 'log-level', LOG_LEVELS);
  setCommandLog(level, spec.name).debug('command', { args: Object.keys(parsed.values).filter((k) => k !== 'help'), positionals: parsed.positionals.length });
  const pos = spec.positionals ?? { min: 0, max: 0, what: '' };
  const n = parsed.positionals.length;
  if (n > pos.max) {
    throw new UsageError(pos.max === 0
      ? `unexpected argument '${parsed.positionals[0]}'`
      : `unexpected argument '${parsed.positionals[pos.max]}' (expected at most ${pos.max} ${pos.what})`);
  }
  if (n < pos.min) throw new UsageError(`missing ${pos.what}`);
  return parsed;
}

/** True when -h/--help appears before a `--` terminator. */
export function helpRequested(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

function showHelp(usage: string): never {
  process.stdout.write(usage.endsWith('\n') ? usage : usage + '\n');
  throw new HelpShown('the usage was printed');
}

/** parseArgs messages are good but multi-sentence; keep them on one line. */
function cleanParseError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = String(err.message ?? e).replace(/\s+/g, ' ').trim();
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const m = /Unknown option '([^']+)'/.exec(msg);
    if (m) return `unknown option '${m[1]}'`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const missing = /Option '([^ ']+)[^']*' argument missing/.exec(msg);
    if (missing) return `option '${missing[1]}' needs a value`;
    const ambiguous = /Option '([^ ']+)[^']*' argument is ambiguous/.exec(msg);
    if (ambiguous) return `option '${ambiguous[1]}' needs a value (to pass a value starting with '-', write ${ambiguous[1]}=VALUE)`;
    const bool = /Option '([^']+)' does not take an argument/.exec(msg);
    if (bool) return `option '${bool[1]}' does not take a value`;
  }
  return msg.replace(/^TypeError( \[\w+\])?: /, '');
}

// ---- value parsers: each throws UsageError naming the flag ----

/** "--flag" for an option name, the name itself for a positional (written in capitals: HEIGHT, SEQ). */
function label(name: string): string {
  return /^[A-Z]/.test(name) ? name : `--${name}`;
}

/** A required string flag. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing required option --${flag}`);
  return value;
}

/** Repeatable flag values, each possibly comma-separated; blanks dropped. */
export function list(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** A non-negative safe integer written in decimal. */
export function integer(value: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`${label(flag)}: expected a non-negative integer, got '${value}'`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${label(flag)}: must be between ${min} and ${max}, got ${value}`);
  return n;
}

export function port(value: string, flag: string): number {
  return integer(value, flag, 0, 65535);
}

export function oneOf<T extends string>(value: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${label(flag)}: expected one of ${choices.join(', ')}, got '${value}'`);
  return value as T;
}

/** An http(s) URL; a bare host:port gets http:// in front. */
export function rpcUrl(value: string, flag = 'rpc'): string {
  const v = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--${flag}: not a valid URL: '${value}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--${flag}: expected an http:// or https:// URL, got '${value}'`);
  return u.toString();
}
