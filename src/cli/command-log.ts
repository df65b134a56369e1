/**
 * The log of the running command (one command per process): JSON lines on stderr at the level its `--log-level`
 * flag chose (every command takes it: parseCommand in args.ts sets it). Diagnostics that are not results, e.g.
 * each RPC call at debug level (output.ts rpcClient), go here; results go to stdout.
 */
import type { Level, Logger } from '../core/logger.ts';
import { createLogger } from '../node/logger.ts';

export const LOG_LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

let current: Logger = createLogger('info');

/** Sets the level (and the `command` field) of every line the command logs from now on. */
export function setCommandLog(level: Level, command: string): Logger {
  current = createLogger(level, { command });
  return current;
}

export function commandLog(): Logger {
  return current;
}
