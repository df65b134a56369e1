/**
 * The logging interface every layer writes to. Implementations live with the processes that own an output
 * (src/node/logger.ts writes JSON lines to stderr); the core and the layers above only see this type.
 * Never pass secrets in `fields`.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ignore = (): void => {};

/** Discards everything (tests, library use without a sink). */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore, child: () => silentLogger };
