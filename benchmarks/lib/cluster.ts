/**
 * Starts a primary, V - 1 more validators and N replicas (observers), each as its own OS process
 * (benchmarks/node-process.ts), in a temp data directory, and guarantees they are gone when the benchmark exits:
 * on normal completion, on SIGINT/SIGTERM, on an uncaught error, and (through the launcher's IPC channel) even if
 * the benchmark itself is SIGKILLed.
 *
 * With `hosts`, every node runs in its own Linux network namespace with its own address on a bridge (the chaos
 * harness's network, scripts/chaos/), optionally with delay (its relay process) and loss (nftables) between nodes
 * only; the clients reach the primary from the root namespace. Needs root and `ip`. The namespaces, links and relay
 * go with the nodes (on exit, on a signal and on failure); a SIGKILLed benchmark leaves the namespaces behind.
 */
import { NODE_RUNTIME_FLAGS, nodeRuntimeEnv } from '../../src/node/runtime.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeExit, launch, LaunchError, type LaunchedProcess } from '../../src/cli/launcher.ts';
import { toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { sleep, validatorKey } from './common.ts';
import { createNetwork, type ChaosNetwork } from '../../scripts/chaos/links.ts';
import { RelayProcess } from '../../scripts/chaos/relay.ts';
import { forceThroughRelay, lose } from '../../scripts/chaos/faults.ts';

const NODE_PROCESS = new URL('../node-process.ts', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 8_000;

export interface NodeProc {
  readonly name: string;
  readonly mode: 'primary' | 'validator' | 'replica';
  readonly process: LaunchedProcess;
  readonly pid: number;
  readonly rpc: string;
  readonly multiaddrs: string[];
  readonly peerId: string;
  readonly logFile: string;
}

export interface ClusterOptions {
  /** Validators, the primary included (default 1: the primary alone, which finalises each batch itself). */
  readonly validators?: number;
  /** Replicas: observers, which verify and store but do not vote. */
  readonly replicas: number;
  /** Client addresses (0x-hex) allowed to append. */
  readonly allow: readonly string[];
  readonly keep: boolean;
  readonly logLevel?: string;
  readonly logId?: string;
  readonly maxPendingTxs?: number;
  /** The primary's --seal-linger-ms (default: the node's, 0). */
  readonly sealLingerMs?: number;
  readonly prefix?: string;
  /** Extra node (V8) flags for every node process, e.g. --cpu-prof. */
  readonly nodeArgs?: (name: string) => string[];
  /** One network namespace per node (run.ts --hosts); undefined: every node on loopback. */
  readonly hosts?: HostsOptions;
}

/** What lies between the nodes in `hosts` mode (not between the clients and the nodes). */
export interface HostsOptions {
  /** Added to every p2p chunk by the relay (0 with no jitter either: no relay). */
  readonly delayMs: number;
  readonly jitterMs: number;
  /** Percent of the packets a node receives from another node that it drops (nftables; whole percents). */
  readonly lossPercent: number;
}

// ---- process-wide cleanup ------------------------------------------------------------------------------

const live = new Set<LaunchedProcess>();
const networks = new Set<HostsNetwork>();
const dirs = new Map<string, boolean>(); // dir -> keep
let handlersInstalled = false;
let asyncCleanup: (() => Promise<void>) | undefined;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // Last resort, synchronous: whatever is still running dies, temp dirs go.
  process.on('exit', () => {
    for (const p of live) try { p.child.kill('SIGKILL'); } catch { /* gone */ }
    for (const n of networks) n.teardown();
    for (const [dir, keep] of dirs) if (!keep) try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  });
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopping nodes...\n`);
    const hard = setTimeout(() => process.exit(130), 8000);
    hard.unref();
    void (asyncCleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

async function stopNode(p: LaunchedProcess): Promise<void> {
  await p.stop(STOP_GRACE_MS);
  live.delete(p);
}

const OWNER_FILE = 'bench-owner.pid';

/** Removes temp dirs of earlier benchmark runs that died without cleaning up (their owner pid is gone). */
function removeOrphans(): void {
  try {
    for (const name of readdirSync(tmpdir())) {
      if (!name.startsWith('seq-bench-')) continue;
      const dir = join(tmpdir(), name);
      let pid: number;
      try { pid = Number(readFileSync(join(dir, OWNER_FILE), 'utf8')); } catch { continue; } // not ours, or kept
      let alive = true;
      try { process.kill(pid, 0); } catch (e) { alive = (e as NodeJS.ErrnoException).code === 'EPERM'; }
      if (!alive) rmSync(dir, { recursive: true, force: true });
    }
  } catch { /* best effort */ }
}

// ---- per-process statistics from /proc ----------------------------------------------------------------

export interface ProcSample { rssKiB: number; hwmKiB: number; cpuTicks: number }

/** Clock ticks per second of /proc/<pid>/stat times (sysconf _SC_CLK_TCK; 100 on mainstream Linux builds). */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** VmRSS, VmHWM (peak RSS, kernel-tracked) and utime+stime of one process, or undefined if it is gone. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the comm field: state is fields[0], utime is field 14 overall -> index 11 here, stime index 12.
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), cpuTicks };
  } catch {
    return undefined;
  }
}

/** Busy and total CPU ticks of the whole machine (all cores), from the first line of /proc/stat. */
export function machineCpuTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - f[3] - f[4], total };
  } catch {
    return undefined;
  }
}

// ---- hosts mode: a namespace per node ------------------------------------------------------------------

/** Each node has its own address, so all use the same ports (and the relay forwards that one p2p port). */
const HOSTS_RPC_PORT = 8545;
const HOSTS_P2P_PORT = 7000;

/** The namespaces (scripts/chaos/links.ts) and, with a delay, the relay process (scripts/chaos/relay.ts). */
class HostsNetwork {
  readonly net: ChaosNetwork;
  private relay: RelayProcess | undefined;

  private constructor(net: ChaosNetwork) {
    this.net = net;
  }

  /** `n` namespaces, with the delay and loss of `opts` between them; torn down again if any step fails. */
  static async create(n: number, opts: HostsOptions): Promise<HostsNetwork> {
    const hosts = new HostsNetwork(createNetwork(n));
    networks.add(hosts);
    try {
      const nodes = hosts.net.topology.nodes;
      if (opts.delayMs > 0 || opts.jitterMs > 0) {
        hosts.relay = await RelayProcess.start({ port: HOSTS_P2P_PORT, routes: nodes.map((node, i) => ({ listen: hosts.net.relayIps[i], target: node.ip })) });
        await hosts.relay.setDelay({ delayMs: opts.delayMs, jitterMs: opts.jitterMs });
        for (const node of nodes) forceThroughRelay(node.ns, nodes.filter((o) => o !== node).map((o) => o.ip), HOSTS_P2P_PORT);
      }
      if (opts.lossPercent > 0) {
        // Only from the other nodes (direct or relayed): the clients and the polls, from the bridge address, lose nothing.
        nodes.forEach((node, i) => lose(node.ns, opts.lossPercent, [...nodes.map((o) => o.ip), ...hosts.net.relayIps].filter((ip) => ip !== node.ip && ip !== hosts.net.relayIps[i])));
      }
    } catch (e) {
      hosts.teardown();
      throw e;
    }
    return hosts;
  }

  /** Where the other nodes dial node i: its relay address when the relay delays traffic, else its own. */
  dialAddress(i: number): string {
    return this.relay ? this.net.relayIps[i] : this.net.topology.nodes[i].ip;
  }

  get relayPid(): number | undefined {
    return this.relay?.pid;
  }

  /** Synchronous (it also runs in the 'exit' handler); safe to call twice. */
  teardown(): void {
    this.relay?.stop();
    this.relay = undefined;
    this.net.topology.teardown();
    networks.delete(this);
  }
}

// ---- the cluster ---------------------------------------------------------------------------------------

export class Cluster {
  readonly dir: string;
  readonly nodes: NodeProc[] = [];
  private readonly keep: boolean;
  private nodeArgs: (name: string) => string[] = () => [];
  private common: string[] = [];
  private hosts: HostsNetwork | undefined;
  /** Namespace index of each node in hosts mode, in start order. */
  private readonly hostIndex = new Map<string, number>();

  private constructor(dir: string, keep: boolean) {
    this.dir = dir;
    this.keep = keep;
  }

  get primary(): NodeProc { return this.nodes[0]; }
  /** Every node but the primary: the other validators, then the observers. */
  get replicas(): NodeProc[] { return this.nodes.slice(1); }
  get validators(): NodeProc[] { return this.nodes.filter((n) => n.mode !== 'replica'); }
  get observers(): NodeProc[] { return this.nodes.filter((n) => n.mode === 'replica'); }
  /** The delaying relay's process in hosts mode with a delay (its CPU is the network's, not a node's), else undefined. */
  get relayPid(): number | undefined { return this.hosts?.relayPid; }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    installHandlers();
    removeOrphans();
    const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'seq-bench-'));
    dirs.set(dir, opts.keep);
    // Marks the dir as disposable once this process is gone (a SIGKILLed run cannot clean up after itself).
    if (!opts.keep) writeFileSync(join(dir, OWNER_FILE), String(process.pid));
    const cluster = new Cluster(dir, opts.keep);
    asyncCleanup = () => cluster.stop();
    const validatorKeys = Array.from({ length: Math.max(1, opts.validators ?? 1) }, (_, i) => validatorKey(i));
    const common = cluster.common = [
      '--log-id', opts.logId ?? 'sequencer-bench', '--log-level', opts.logLevel ?? 'warn',
      '--primary', toHex(addressFromPrivateKey(validatorKeys[0])),
      '--validators', validatorKeys.map((k) => toHex(addressFromPrivateKey(k))).join(','),
      ...opts.allow.flatMap((a) => ['--allow', a]),
      ...(opts.maxPendingTxs ? ['--max-pending-txs', String(opts.maxPendingTxs)] : []),
      ...(opts.sealLingerMs ? ['--seal-linger-ms', String(opts.sealLingerMs)] : []),
    ];
    try {
      if (opts.hosts) cluster.hosts = await HostsNetwork.create(validatorKeys.length + opts.replicas, opts.hosts);
      cluster.nodeArgs = opts.nodeArgs ?? (() => []);
      // A fresh log: no node holds anything yet, so no validator has anything to recover (nor anybody to ask).
      await cluster.spawnNode('primary', 'primary', [...common, '--unsafe-skip-recovery', 'yes'], toHex(validatorKeys[0]));
      // One after another, each given every validator already running: a full mesh, so votes need not be relayed.
      for (let i = 1; i < validatorKeys.length; i++) {
        await cluster.spawnNode(`validator${i + 1}`, 'validator', [...common, ...cluster.peersArgs(), '--unsafe-skip-recovery', 'yes'], toHex(validatorKeys[i]));
      }
      const replicas = await Promise.all(Array.from({ length: opts.replicas }, (_, i) => cluster.spawnReplica(`replica${i + 1}`)));
      cluster.nodes.splice(validatorKeys.length, replicas.length, ...replicas);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** Starts one more replica process bootstrapped to the validators (also usable after the start, e.g. to time a catch-up). */
  async spawnReplica(name: string): Promise<NodeProc> {
    return this.spawnNode(name, 'replica', [...this.common, ...this.peersArgs()]);
  }

  /** --peers for every validator running so far (the primary first): on loopback, or at its (relay) address in hosts mode. */
  private peersArgs(): string[] {
    const hosts = this.hosts;
    const peers = hosts
      ? this.validators.map((v) => `/ip4/${hosts.dialAddress(this.hostIndex.get(v.name)!)}/tcp/${HOSTS_P2P_PORT}/p2p/${v.peerId}`)
      : this.validators.flatMap((v) => v.multiaddrs.filter((m) => m.includes('/127.0.0.1/')));
    return peers.flatMap((p) => ['--peers', p]);
  }

  /** In hosts mode: the next free namespace, and the flags that make the node listen on its address there. */
  private placeNode(name: string): { wrapper?: string[]; args: string[] } {
    if (!this.hosts) return { args: [] };
    const index = this.hostIndex.size;
    const host = this.hosts.net.topology.nodes[index];
    if (!host) throw new Error(`--hosts: no namespace left for ${name} (the network was made for ${index} nodes)`);
    this.hostIndex.set(name, index);
    return {
      wrapper: ['ip', 'netns', 'exec', host.ns],
      args: ['--rpc-host', host.ip, '--rpc-port', String(HOSTS_RPC_PORT), '--p2p-host', host.ip, '--p2p-port', String(HOSTS_P2P_PORT)],
    };
  }

  private async spawnNode(name: string, mode: NodeProc['mode'], args: string[], key?: string): Promise<NodeProc> {
    const db = join(this.dir, name);
    const logFile = join(this.dir, `${name}.log`);
    const env = nodeRuntimeEnv(process.env);
    delete env.PRIVATE_KEY;
    if (key) env.PRIVATE_KEY = key;
    const place = this.placeNode(name);
    const child = launch({
      name, script: NODE_PROCESS, args: ['--mode', mode, '--db', db, '--name', name, ...place.args, ...args],
      nodeFlags: [...NODE_RUNTIME_FLAGS, ...this.nodeArgs(name)], env, logFile, stopWithParent: true, wrapper: place.wrapper,
    });
    live.add(child);
    void child.exited.then(() => live.delete(child));
    let started;
    try {
      started = await child.waitStarted(START_TIMEOUT_MS);
    } catch (e) {
      if (!(e instanceof LaunchError) || e.exit === undefined) throw e;
      const tail = child.stderr().split('\n').slice(-15).join('\n');
      throw new Error(`${name} exited (${describeExit(e.exit)}) before starting:\n${tail}`);
    }
    const node: NodeProc = { name, mode, process: child, pid: child.pid, rpc: started.rpc, multiaddrs: started.multiaddrs, peerId: started.peerId, logFile };
    this.nodes.push(node);
    return node;
  }

  /** Waits until every node is connected to every validator but itself (with one validator: to the primary). */
  async waitConnected(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const r of this.nodes) {
      const wanted = this.validators.filter((v) => v !== r).map((v) => v.peerId);
      for (;;) {
        const info = await rpcCall(r.rpc, 'sequencer_info').catch(() => undefined) as Record<string, any> | undefined;
        const connected = info && Array.isArray(info.connectedPeers) ? info.connectedPeers as string[] : [];
        if (wanted.every((p) => connected.includes(p))) break;
        if (Date.now() > deadline) throw new Error(`${r.name} did not connect to every validator within ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  }

  /** Errors logged by the nodes (lines at warn/error level), for the report. */
  logSummary(): Record<string, { warn: number; error: number; last?: string }> {
    const out: Record<string, { warn: number; error: number; last?: string }> = {};
    for (const n of this.nodes) {
      let warn = 0, error = 0, last: string | undefined;
      try {
        for (const line of readFileSync(n.logFile, 'utf8').split('\n')) {
          if (line.includes('"level":"warn"')) { warn++; last = line; } else if (line.includes('"level":"error"')) { error++; last = line; }
        }
      } catch { /* no log */ }
      out[n.name] = { warn, error, ...(last ? { last: last.slice(0, 300) } : {}) };
    }
    return out;
  }

  private stopped: Promise<void> | undefined;
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await Promise.all(this.nodes.map((n) => stopNode(n.process)));
      for (const p of [...live]) await stopNode(p);
      this.hosts?.teardown();
      if (!this.keep) rmSync(this.dir, { recursive: true, force: true });
      dirs.delete(this.dir);
    })();
    return this.stopped;
  }
}

/** A one-off JSON-RPC call (fetch); the hot paths use their own keep-alive clients. */
export async function rpcCall(url: string, method: string, params: unknown = []): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await res.json() as { result?: unknown; error?: { code: number; message: string } };
  if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code });
  return body.result;
}
