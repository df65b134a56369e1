/**
 * Runs a child process on this project's Node and supervises it: the one place that knows how a node process is
 * spawned, how its "started" line is awaited, where its stderr goes and how it is stopped. Used by
 * `sequencer devnet`, the benchmarks' cluster and the tests' CLI helpers.
 *
 * Stopping is graceful first (SIGTERM: the node closes its store and libp2p), then forced (SIGKILL) after a grace
 * period; `kill()` is SIGKILL at once, which is how the crash tests lose a process mid-write.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BaseError } from '../core/errors.ts';
import { parseStartedEvent, type StartedEvent } from './started-event.ts';

export interface LaunchOptions {
  /** Name used in error messages (e.g. "primary", "replica-1"). */
  readonly name: string;
  /** The script to run (a .ts file: the project's Node runs TypeScript). */
  readonly script: string;
  readonly args: readonly string[];
  /** Node/V8 flags placed before the script (e.g. NODE_RUNTIME_FLAGS, --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  /** Defaults to this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Append stderr (the node's JSON log) to this file, created 0600; otherwise it is collected in memory. */
  readonly logFile?: string;
  /**
   * Open an IPC channel: `sequencer start` and the benchmarks' node process stop when it closes, which happens
   * when this process dies in any way, SIGKILL included.
   */
  readonly stopWithParent?: boolean;
  /** Own process group: a Ctrl-C at the terminal reaches only this process, which then stops the child in order. */
  readonly ownProcessGroup?: boolean;
  /**
   * A command that runs Node in its place and execs it (e.g. `ip netns exec <ns>`: the same process, so signals and
   * the IPC channel reach Node itself).
   */
  readonly wrapper?: readonly string[];
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A launched process did not print what was awaited: it exited first, or took too long. */
export class LaunchError extends BaseError {
  static { this.prototype.name = 'LaunchError'; }
  /** The process's exit, if it exited (undefined: it timed out). */
  readonly exit: Exit | undefined;

  constructor(message: string, exit?: Exit) {
    super(message, exit === undefined ? {} : { details: { code: exit.code, signal: exit.signal } });
    this.exit = exit;
  }
}

export const describeExit = (exit: Exit): string => exit.signal ?? `code ${exit.code}`;

export class LaunchedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the process exited and its output was read to the end. */
  readonly exited: Promise<Exit>;
  private readonly logFile: string | undefined;
  private out = '';
  private err = '';
  private readonly lines: string[] = [];
  /** Set on 'close': no more output can come. */
  private closedWith: Exit | undefined;
  /** Re-checked on every stdout line and on exit. */
  private readonly waiters = new Set<() => void>();

  constructor(opts: LaunchOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    const logFd = opts.logFile !== undefined ? openSync(opts.logFile, 'a', 0o600) : undefined;
    const stdio: StdioOptions = ['ignore', 'pipe', logFd ?? 'pipe'];
    if (opts.stopWithParent === true) stdio.push('ipc');
    try {
      const command = [...(opts.wrapper ?? []), process.execPath, ...(opts.nodeFlags ?? []), opts.script, ...opts.args];
      this.child = spawn(command[0], command.slice(1), {
        stdio, env: opts.env ?? process.env, detached: opts.ownProcessGroup ?? false,
      });
    } finally {
      if (logFd !== undefined) closeSync(logFd); // the child holds its own copy
    }
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.err += d; });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.wakeWaiters();
    });
    // 'close', not 'exit': after it every byte the process wrote has been read.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.closedWith = { code, signal };
        resolve(this.closedWith);
        this.wakeWaiters();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  stdout(): string {
    return this.out;
  }

  /** Its stderr so far: collected, or read from the log file. */
  stderr(): string {
    if (this.logFile === undefined) return this.err;
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Resolves with the first stdout line `match` accepts; rejects (LaunchError) if the process exits first or on timeout. */
  waitForLine(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.find(match);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.closedWith !== undefined) {
          done();
          reject(new LaunchError(`${this.name} exited (${describeExit(this.closedWith)}) before the expected output`, this.closedWith));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new LaunchError(`${this.name} did not print the expected output within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The node's started line (src/cli/started-event.ts), once it serves. */
  async waitStarted(timeoutMs = 30_000): Promise<StartedEvent> {
    return parseStartedEvent(await this.waitForLine((l) => parseStartedEvent(l) !== undefined, timeoutMs))!;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves with the exit and whether it had to be killed. */
  async stop(graceMs: number): Promise<Exit & { killed: boolean }> {
    if (!this.running) return { ...(await this.exited), killed: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), graceMs); });
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== 'late') return { ...first, killed: false };
    return { ...(await this.kill()), killed: true };
  }

  /** SIGKILL now: no shutdown code runs (a crash, as far as the node is concerned). */
  kill(): Promise<Exit> {
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  private wakeWaiters(): void {
    for (const w of this.waiters) w();
  }
}

/** Spawns `script` on this project's Node (the one running now). */
export function launch(opts: LaunchOptions): LaunchedProcess {
  return new LaunchedProcess(opts);
}
