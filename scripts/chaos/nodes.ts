/**
 * The chaos run's node processes (docs/chaos.md): every validator and the observer run `sequencer start` inside their
 * own network namespace (`ip netns exec`), listening on the namespace's address; their stderr goes to `<name>.log`
 * in the run's directory. A node is killed with SIGKILL and restarted on the same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toHex, type Bytes } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { parseStartedEvent } from '../../src/cli/started-event.ts';

const CLI = fileURLToPath(new URL('../../cmd/sequencer.ts', import.meta.url));
const CLOCK_AHEAD = fileURLToPath(new URL('./clock-ahead.ts', import.meta.url));
export const RPC_PORT = 8545;
export const P2P_PORT = 7000;

/** What every node of the run shares. */
export interface NetworkConfig {
  readonly dir: string;
  readonly chainId: number;
  readonly logId: Bytes;
  /** Validator keys in set order (the first leads view 0). */
  readonly validatorKeys: readonly Bytes[];
  readonly clientAddress: string;
}

export interface NodeSpec {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** Index in the validator set, or null for the observer. */
  readonly validatorIndex: number | null;
  /** The p2p addresses it dials (its peers' relay addresses when the relay is on). */
  readonly peers: readonly string[];
}

/** A key from a validator's name: the same names, the same keys, run after run. */
export const keyOfName = (name: string): Bytes => keccak256(new TextEncoder().encode(`chaos validator ${name}`));

export class NodeProcess {
  private child: ChildProcess | undefined;
  readonly spec: NodeSpec;
  private readonly net: NetworkConfig;

  constructor(spec: NodeSpec, net: NetworkConfig) {
    this.spec = spec;
    this.net = net;
  }

  get rpcUrl(): string {
    return `http://${this.spec.ip}:${RPC_PORT}`;
  }

  /** Starts it (again, on the same store) and resolves once it printed its started line. */
  start(clockAheadMs = 0): Promise<void> {
    const { spec, net } = this;
    const leadsViewZero = spec.validatorIndex === 0;
    const args = [
      ...(clockAheadMs !== 0 ? ['--import', CLOCK_AHEAD] : []),
      CLI, 'start', '--mode', spec.validatorIndex === null ? 'observer' : leadsViewZero ? 'primary' : 'validator',
      '--db', join(net.dir, spec.name), '--rpc-host', spec.ip, '--rpc-port', String(RPC_PORT), '--p2p-host', spec.ip, '--p2p-port', String(P2P_PORT),
      '--allow', net.clientAddress, '--log-id', toHex(net.logId), '--chain-id', String(net.chainId),
      '--validators', net.validatorKeys.map((k) => toHex(addressFromPrivateKey(k))).join(','), '--log-level', 'warn',
      // The leader of view 0 recovers from nobody: its store is complete (nothing signed leaves before it is durable).
      ...(leadsViewZero ? ['--unsafe-skip-recovery'] : ['--peers', spec.peers.join(',')]),
    ];
    const key = spec.validatorIndex === null ? undefined : toHex(net.validatorKeys[spec.validatorIndex]);
    const child = spawn('ip', ['netns', 'exec', spec.ns, process.execPath, ...args], {
      env: { ...process.env, ...(key ? { PRIVATE_KEY: key } : {}), CHAOS_CLOCK_AHEAD_MS: String(clockAheadMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      let buffer = '';
      let stderr = '';
      const logFile = createWriteStream(join(net.dir, `${spec.name}.log`), { flags: 'a', mode: 0o600 });
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4000);
        logFile.write(d);
      });
      child.stdout!.on('data', (d: Buffer) => {
        buffer += d.toString();
        if (buffer.split('\n').some((line) => parseStartedEvent(line))) resolve();
      });
      child.on('exit', (code) => {
        logFile.end();
        reject(new Error(`${spec.name} exited (${code}) before starting: ${stderr}`));
      });
    });
  }

  kill(): void {
    this.child?.kill('SIGKILL');
  }

  /** Killed with SIGKILL, then started on its store after `downMs`. */
  async restart(downMs: number, clockAheadMs = 0): Promise<void> {
    this.kill();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start(clockAheadMs);
  }
}
