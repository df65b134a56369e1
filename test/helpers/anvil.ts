/**
 * Starts a throwaway anvil (the binary of npm @foundry-rs/anvil-linux-amd64) on a free loopback port for tests.
 *
 *   const anvil = await startAnvil();
 *   t.after(() => anvil.stop());
 *
 * anvil's default chain id is 31337; its dev accounts are derived from the mnemonic
 * "test test test test test test test test test test test junk" (ANVIL_KEYS below) and hold 10000 ETH each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { freePort } from './cli.ts';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Private keys of anvil's first five dev accounts. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
] as const;

export interface Anvil {
  url: string;
  chainId: number;
  port: number;
  /** Kill anvil and wait for it to exit. Idempotent. */
  stop(): Promise<void>;
}

export interface AnvilOptions {
  chainId?: number;
  /** Extra command-line arguments. */
  args?: string[];
  /** How long to wait for eth_chainId to answer, ms (default 15000). */
  timeoutMs?: number;
}

/**
 * The native anvil executable, run directly so that the pid we hold is anvil itself and killing it cannot
 * leave an orphan behind. The project depends on the Linux x64 binary package, the one this registry serves.
 */
function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = process.platform === 'win32' ? 'anvil.exe' : 'anvil';
  try {
    const require = createRequire(join(ROOT, 'package.json'));
    const p = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/${exe}`);
    if (existsSync(p)) return p;
  } catch {
    // fall back to the wrapper
  }
  return join(ROOT, 'node_modules', '.bin', 'anvil');
}


async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(1000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: a plain SIGKILL is.
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function startOnce(opts: AnvilOptions): Promise<Anvil> {
  const port = await freePort();
  const args = ['--host', '127.0.0.1', '--port', String(port), '--silent', ...(opts.chainId ? ['--chain-id', String(opts.chainId)] : []), ...(opts.args ?? [])];
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  installExitHook();
  // Do not let a forgotten stop() keep the test process alive; the exit hook then kills anvil.
  child.unref();
  (child.stderr as unknown as { unref?: () => void }).unref?.();

  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let exited = false;
  const exitPromise = new Promise<void>((r) => child.once('exit', () => ((exited = true), running.delete(child), r())));
  child.once('error', () => undefined); // surfaced via `exited`

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return exitPromise;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exitPromise;
      clearTimeout(timer);
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (exited) throw new Error(`anvil exited during startup (port ${port}): ${stderr.trim()}`);
    try {
      const chainId = Number(BigInt((await rpc(url, 'eth_chainId')) as string));
      return { url, chainId, port, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`anvil did not answer on ${url} within ${opts.timeoutMs ?? 15_000} ms: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Start anvil; retries on a fresh port if the chosen one was taken between probing and binding. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<Anvil> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      lastErr = err;
      if (!String(err).includes('exited during startup')) throw err;
    }
  }
  throw lastErr;
}

/** Raw JSON-RPC call (e.g. evm_increaseTime, evm_mine, anvil_setBalance). */
export function anvilRpc(anvil: Pick<Anvil, 'url'>, method: string, params: unknown[] = []): Promise<unknown> {
  return rpc(anvil.url, method, params);
}
