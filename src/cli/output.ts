/** Output helpers: results go to stdout as JSON, diagnostics to stderr, one line each. */
import { RpcError } from '../client/rpc-client.ts';
import { RpcClient } from '../client/rpc-client.ts';
import { CliError } from './args.ts';
import { commandLog } from './command-log.ts';

export function printJson(value: unknown, pretty = true): void {
  process.stdout.write(JSON.stringify(value, null, pretty ? 2 : undefined) + '\n');
}

/**
 * An RpcClient whose transport failures become one-line CliErrors (RpcErrors pass through untouched); each call is
 * logged at debug level (--log-level debug) with its duration and outcome.
 */
export function rpcClient(url: string): RpcClient {
  const client = new RpcClient(url);
  const call = client.call.bind(client);
  client.call = async <T>(method: string, params?: unknown): Promise<T> => {
    const started = performance.now();
    const done = (outcome: string) => commandLog().debug('rpc call', { url, method, outcome, ms: Math.round(performance.now() - started) });
    try {
      const result = await call<T>(method, params);
      done('ok');
      return result;
    } catch (e) {
      done(e instanceof RpcError ? `error ${e.code}` : 'unreachable');
      if (e instanceof RpcError) throw e;
      throw new CliError(`cannot reach ${url}: ${describeNetworkError(e)}`);
    }
  };
  return client;
}

function describeNetworkError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return err.message ?? String(e);
}

/** The one line printed for an error that ends the command, without a stack trace. */
export function errorLine(e: unknown): string {
  if (e instanceof RpcError) return `error ${e.code}: ${e.message}`;
  const msg = e instanceof Error ? e.message : String(e);
  return `error: ${msg.replace(/\s*\n\s*/g, ' ')}`;
}
