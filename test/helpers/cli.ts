/** Runs the CLI (cmd/sequencer.ts) as separate processes for tests, on free loopback ports. */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { launch, type Exit, type LaunchedProcess } from '../../src/cli/launcher.ts';
import { parseStartedEvent, type StartedEvent } from '../../src/cli/started-event.ts';

export const CLI = fileURLToPath(new URL('../../cmd/sequencer.ts', import.meta.url));

/** The environment for CLI children: ours without PRIVATE_KEY (tests pass keys explicitly). */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('PRIVATE_KEY' in extra)) delete env.PRIVATE_KEY;
  return env;
}

function canListen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the OS considers free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

/** A base port P with P..P+count-1 and P+offset..P+offset+count-1 all free (the devnet's layout). */
export async function freePortBlock(count: number, offset: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (65535 - 20000 - offset - count));
    const ports = Array.from({ length: count }, (_, i) => [base + i, base + offset + i]).flat();
    if ((await Promise.all(ports.map((p) => canListen(p)))).every(Boolean)) return base;
  }
  throw new Error('no free port block found');
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs one CLI command to completion; it is killed (SIGKILL) and the promise rejects after `timeoutMs`. */
export async function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = launchCli(args, opts.env);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void p.kill();
      reject(new Error(`sequencer ${args.join(' ')} timed out; stderr: ${p.stderr()}`));
    }, opts.timeoutMs ?? 20_000);
  });
  try {
    const exit = await Promise.race([p.exited, timedOut]);
    return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `match`; rejects if the process exits first or on timeout. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

function launchCli(args: readonly string[], env: NodeJS.ProcessEnv | undefined): LaunchedProcess {
  return launch({ name: `sequencer ${args[0] ?? ''}`.trim(), script: CLI, args, env: env ?? cliEnv() });
}

/** Spawns a long-running CLI command; it is killed (SIGKILL) when the test ends if still running. */
export function spawnCli(t: TestContext, args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): CliProcess {
  const p = launchCli(args, opts.env);
  t.after(() => { void p.kill(); });
  return {
    child: p.child,
    exited: p.exited,
    stdout: () => p.stdout(),
    stderr: () => p.stderr(),
    // Failures carry the process's stderr: it says why.
    waitForLine: (match, timeoutMs) => p.waitForLine(match, timeoutMs).catch((e: Error) => {
      throw new Error(`${e.message}; stderr:\n${p.stderr()}`, { cause: e });
    }),
  };
}

/**
 * `sequencer start ...`, resolved once the node printed its started line. A primary given no --peers gets
 * --unsafe-skip-recovery (a lone primary on a new log: it refuses to start without being told).
 */
export async function startNode(t: TestContext, args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliProcess & { started: StartedEvent }> {
  const lonePrimary = args.some((a, i) => a === '--mode' && args[i + 1] === 'primary') && !args.includes('--peers') && !args.includes('--unsafe-skip-recovery');
  const p = spawnCli(t, ['start', ...args, ...(lonePrimary ? ['--unsafe-skip-recovery'] : [])], opts);
  const started = parseStartedEvent(await p.waitForLine((l) => parseStartedEvent(l) !== undefined))!;
  return { ...p, started };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export { waitFor as waitUntil } from './network.ts';
