/**
 * `sequencer devnet`: a local network for trying things out (what `npm start` runs). N validators (the first is the
 * primary, the leader of view 0) and R observers, each a separate `sequencer start` child process with its own data
 * directory and log file under DIR. Keys and the validator set live in DIR too and are reused, so a restart keeps
 * the same identities and the log. Once it runs, it prints the finalized height whenever it advances.
 */
import { NODE_RUNTIME_FLAGS, nodeRuntimeEnv } from '../../src/node/runtime.ts';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { RpcClient } from '../../src/client/rpc-client.ts';
import { toHex, type Bytes } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { CliError, UsageError, integer, oneOf, parseCommand, type CommandSpec } from '../../src/cli/args.ts';
import { LOG_LEVELS } from '../../src/cli/command-log.ts';
import { DEFAULT_CHAIN_ID, DEFAULT_LOG_NAME, KEY_ENV, generatePrivateKey, parseLogId, readKeyFile } from '../../src/cli/keys.ts';
import { loadOrCreatePeerKey } from '../../src/p2p/identity.ts';
import { describeExit, launch, LaunchError, type LaunchedProcess } from '../../src/cli/launcher.ts';
import type { StartedEvent } from '../../src/cli/started-event.ts';
import { createTopology, type Topology } from '../../src/cli/network-namespaces.ts';

const CLI = fileURLToPath(new URL('../sequencer.ts', import.meta.url));
const MARKER = '.sequencer-devnet';
/** The validator set chosen on the first run: a log's set is fixed for its life, so later runs reuse it. */
const NETWORK_FILE = 'network.json';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 25_000;
/** How often the observer's finalized height is read; a line is printed only when it changed. */
const FINALITY_POLL_MS = 1_000;
const P2P_OFFSET = 100;
const DEFAULT_VALIDATORS = 4;
const MAX_VALIDATORS = 16;
const MAX_OBSERVERS = 50;

export const USAGE = `Usage: sequencer devnet [--dir DIR] [--nodes N] [--replicas R] [--base-port P] [--reset]

Runs a local devnet in the foreground until Ctrl-C: N validators and R observers, each a separate process. The
first validator is the primary (it sequences: the leader of view 0); every validator verifies, stores and votes on
each batch, and a header is final once a quorum of them co-signed it (3 of 4 by default, so one Byzantine
validator is tolerated). Observers verify and store without voting. The summary is printed once every node is
ready, then a line "finalized height H (head T)", as the first observer sees it, whenever H advances.

Keys (primary.key, validator-<k>.key, client.key; mode 0600), data (DIR/<node>/) and logs (DIR/<node>.log) stay
in DIR, so a restart keeps the same identities and log. The validator set is written to DIR/${NETWORK_FILE} on the
first run and is the log's for good: a restart keeps it (--nodes defaults to it; another value is refused, --reset
starts a new log); observers may be added or removed between runs. Only the client key's address may append.
Every node is given every other one as --peers: the primary catches up from them before signing (a lost
DIR/primary/ is recovered, not re-signed); a lone primary (--nodes 1 --replicas 0) starts with
--unsafe-skip-recovery, trusting DIR/primary/. A DIR made by an older devnet (a primary and replicas, no
validator set) is refused: use --reset (or another --dir). --nodes 1 --replicas 2 is the former layout's network.

Options:
  --dir DIR           devnet directory (default .devnet)
  --nodes N           validators, 1..${MAX_VALIDATORS} (default ${DEFAULT_VALIDATORS}, or the set of an existing DIR)
  --replicas R        observers (non-voting replicas), 0..${MAX_OBSERVERS} (default 1)
  --base-port P       RPC ports P, P+1, ... (validators first, then observers); libp2p ports P+${P2P_OFFSET}, P+${P2P_OFFSET + 1}, ...
                      (default 7545)
  --reset             delete DIR first (only if it is a devnet directory): new keys, new validator set, empty log
  --hosts             each node in its own Linux network namespace with its own address on a bridge (10.77.x.y),
                      so the nodes talk over real interfaces (root and \`ip\` needed; removed again on exit).
                      Faults can then be injected by hand, e.g. ip netns exec <ns> nft ... (docs/chaos.md)
  --log-id ID         log id or name (default "${DEFAULT_LOG_NAME}")
  --chain-id N        EIP-712 chain id (default ${DEFAULT_CHAIN_ID})
  --log-level LEVEL   level of the nodes' logs: debug, info, warn or error (default info)
  -h, --help          show this help

The node addresses are also written to DIR/devnet.json. Exit code 0 after Ctrl-C/SIGTERM, 1 if a node fails.
`;

const SPEC = {
  name: 'devnet',
  usage: USAGE,
  options: {
    dir: { type: 'string', default: '.devnet' },
    nodes: { type: 'string' },
    replicas: { type: 'string', default: '1' },
    'base-port': { type: 'string', default: '7545' },
    reset: { type: 'boolean', default: false },
    hosts: { type: 'boolean', default: false },
    'log-id': { type: 'string', default: DEFAULT_LOG_NAME },
    'chain-id': { type: 'string', default: String(DEFAULT_CHAIN_ID) },
  },
} as const satisfies CommandSpec<any>;

type DevRole = 'primary' | 'validator' | 'observer';

/** One node of the devnet, before it runs: what `sequencer start` is given. */
interface NodePlan {
  readonly name: string;
  readonly role: DevRole;
  /** Its key file (validators only). */
  readonly keyFile?: string;
  readonly rpcPort: number;
  /** Its network namespace and address (--hosts), else undefined: loopback. */
  readonly host?: { readonly ns: string; readonly ip: string };
  readonly p2pPort: number;
  /** Its libp2p address, known before it runs (its identity is created in its data directory first). */
  readonly multiaddr: string;
}

interface DevNode extends NodePlan {
  readonly logFile: string;
  readonly process: LaunchedProcess;
  started?: StartedEvent;
}

const exists = (p: string) => access(p).then(() => true, () => false);

/** A path as the user would type it from the current directory. */
function display(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function prepareDir(dir: string, reset: boolean): Promise<void> {
  if (await exists(dir)) {
    const entries = await readdir(dir).catch((e) => { throw new CliError(`cannot read ${dir}: ${(e as Error).message}`); });
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new CliError(`${display(dir)} exists and is not a devnet directory (no ${MARKER} file); pick another --dir`);
    }
    if (reset) await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, MARKER), 'Created by `sequencer devnet`; `sequencer devnet --reset` deletes this directory.\n');
}

/** Loads DIR/<name>.key, or creates it (0600) on first run. */
async function ensureKey(file: string): Promise<Bytes> {
  if (!(await exists(file))) {
    try {
      await writeFile(file, toHex(generatePrivateKey()) + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CliError(`cannot create ${file}: ${(e as Error).message}`);
    }
  }
  return readKeyFile(file);
}

/** The key file of validator `index` (0-based): the primary keeps the name it always had. */
const validatorName = (index: number): string => index === 0 ? 'primary' : `validator-${index + 1}`;

/**
 * The validator set's size: the one recorded in DIR (a restart), else --nodes (default 4). Refuses a DIR whose log
 * was made by an older devnet (no recorded set: its primary signed as the only validator, and its store belongs to
 * that configuration) and a --nodes that would change a recorded set.
 */
async function validatorCount(dir: string, nodesFlag: string | undefined): Promise<number> {
  const requested = nodesFlag === undefined ? undefined : integer(nodesFlag, 'nodes', 1, MAX_VALIDATORS);
  const recorded = await readFile(join(dir, NETWORK_FILE), 'utf8').then((text) => {
    try {
      const v = (JSON.parse(text) as { validators?: unknown }).validators;
      if (Array.isArray(v) && v.length >= 1 && v.length <= MAX_VALIDATORS) return v.length;
    } catch { /* reported below */ }
    throw new CliError(`${display(join(dir, NETWORK_FILE))} is not a devnet's validator set; use --reset to start a new devnet`);
  }, () => undefined);
  if (recorded === undefined) {
    // Keys without a recorded set are a first run cut short (the set is recorded before any node's directory
    // exists); a primary's data directory without one is a log the former devnet ran.
    if (await exists(join(dir, 'primary'))) {
      throw new CliError(`${display(dir)} was made by an older devnet (a primary and replicas, no validator set), which this version cannot `
        + `continue: use --reset to start a new devnet there (deletes its keys and log), or pick another --dir`);
    }
    return requested ?? DEFAULT_VALIDATORS;
  }
  if (requested !== undefined && requested !== recorded) {
    throw new CliError(`${display(dir)} holds a log of ${recorded} validator${recorded === 1 ? '' : 's'} (${NETWORK_FILE}); a log's validator set `
      + `cannot change: run with --nodes ${recorded}, or --reset to start a new log with ${requested}`);
  }
  return recorded;
}

/** The validators' keys (created on the first run) and addresses, in order; records the set on the first run. */
async function ensureValidators(dir: string, n: number): Promise<{ keyFiles: string[]; addresses: string[] }> {
  const keyFiles = Array.from({ length: n }, (_, i) => join(dir, `${validatorName(i)}.key`));
  const addresses = await Promise.all(keyFiles.map(async (f) => toHex(addressFromPrivateKey(await ensureKey(f)))));
  const file = join(dir, NETWORK_FILE);
  const recorded = await readFile(file, 'utf8').then((t) => (JSON.parse(t) as { validators: string[] }).validators, () => undefined);
  if (recorded === undefined) {
    await writeFile(file, JSON.stringify({ validators: addresses }, null, 2) + '\n');
  } else if (recorded.join() !== addresses.join()) {
    throw new CliError(`the validator keys in ${display(dir)} are not the set recorded in ${NETWORK_FILE}; use --reset to start a new devnet`);
  }
  return { keyFiles, addresses };
}

/** The last line of a node's log, for a one-line failure message. */
async function lastLogLine(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const line = text.trim().split('\n').pop() ?? '';
  try {
    const j = JSON.parse(line) as { msg?: string; error?: string };
    return j.error ? `${j.msg}: ${j.error}` : (j.msg ?? line);
  } catch {
    return line.replace(/^error:\s*/, '');
  }
}

/**
 * Every node's name, role, ports and libp2p address before any of them runs: the identities are created here
 * (each node keeps its own in its data directory) and the ports are fixed, so each node can be given all the
 * others as --peers (a full mesh: batches, votes, sync and proofs need not all pass through the primary).
 */
async function planNodes(dir: string, validatorKeys: readonly string[], observers: number, basePort: number, topology?: Topology): Promise<NodePlan[]> {
  const names: { name: string; role: DevRole; keyFile?: string }[] = [
    ...validatorKeys.map((keyFile, i) => ({ name: validatorName(i), role: (i === 0 ? 'primary' : 'validator') as DevRole, keyFile })),
    ...Array.from({ length: observers }, (_, k) => ({ name: `observer-${k + 1}`, role: 'observer' as DevRole })),
  ];
  return Promise.all(names.map(async (n, i) => {
    const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir, n.name))).toString();
    const p2pPort = basePort + P2P_OFFSET + i;
    const host = topology?.nodes[i];
    const ip = host?.ip ?? '127.0.0.1';
    return { ...n, rpcPort: basePort + i, p2pPort, multiaddr: `/ip4/${ip}/tcp/${p2pPort}/p2p/${peerId}`, host };
  }));
}

function spawnNode(dir: string, plan: NodePlan, peers: readonly string[], common: readonly string[]): DevNode {
  const logFile = join(dir, `${plan.name}.log`);
  const env = nodeRuntimeEnv(process.env);
  delete env[KEY_ENV]; // the nodes get their keys from files only
  const args = [
    'start', '--mode', plan.role, '--db', join(dir, plan.name), '--rpc-port', String(plan.rpcPort), '--p2p-port', String(plan.p2pPort),
    ...(plan.host ? ['--rpc-host', plan.host.ip, '--p2p-host', plan.host.ip] : []),
    ...(plan.keyFile ? ['--key-file', plan.keyFile] : []),
    // The primary signs nothing before its peers told it how far its key has signed, so a devnet restarted after
    // the primary's directory was lost resumes from them instead of equivocating. Without peers there is nobody to
    // recover from: the operator asked for a lone primary.
    ...(peers.length > 0 ? ['--peers', peers.join(',')] : plan.role === 'primary' ? ['--unsafe-skip-recovery'] : []),
    ...common,
  ];
  const child = launch({
    name: plan.name, script: CLI, args, nodeFlags: NODE_RUNTIME_FLAGS, env, logFile,
    wrapper: plan.host ? ['ip', 'netns', 'exec', plan.host.ns] : undefined,
    // The child stops if this process dies; Ctrl-C reaches only this process, which then stops the nodes in order.
    stopWithParent: true, ownProcessGroup: true,
  });
  return { ...plan, logFile, process: child };
}

/** Resolves with the node's started line; rejects (CliError) if it exits first or takes too long. */
async function waitStarted(node: DevNode): Promise<StartedEvent> {
  try {
    node.started = await node.process.waitStarted(START_TIMEOUT_MS);
    return node.started;
  } catch (e) {
    if (!(e instanceof LaunchError)) throw e;
    if (e.exit === undefined) throw new CliError(`${node.name} did not start within ${START_TIMEOUT_MS / 1000} s; see ${display(node.logFile)}`);
    throw new CliError(`${node.name} exited (${describeExit(e.exit)}) before starting: ${await lastLogLine(node.logFile)} (see ${display(node.logFile)})`);
  }
}

/**
 * Resolves once every node is ready: the primary sequences (it has heard from every peer, docs/protocol.md §Primary
 * start-up) and no validator is still recovering. False if the devnet stopped first.
 */
async function waitReady(nodes: readonly DevNode[], stopped: Promise<unknown>): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let done = false;
  void stopped.then(() => { done = true; });
  const pending = new Set(nodes);
  while (!done) {
    for (const node of [...pending]) {
      const reason = await new RpcClient(node.started!.rpc).info().then((i) => i.notReady, (e: Error) => e.message);
      if (reason === null) pending.delete(node);
      else if (Date.now() > deadline) throw new CliError(`${node.name} is not ready after ${START_TIMEOUT_MS / 1000} s (${reason}); see ${display(node.logFile)}`);
    }
    if (pending.size === 0) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Prints "finalized height H (head T)" each time `node`'s finalized height changes, reading it every
 * FINALITY_POLL_MS (so at most a line a second), until `stopped` settles. A failed read is skipped: the next says.
 */
async function followFinality(node: DevNode, stopped: Promise<unknown>): Promise<void> {
  const rpc = new RpcClient(node.started!.rpc, { timeoutMs: FINALITY_POLL_MS * 5 });
  let done = false;
  void stopped.then(() => { done = true; });
  let printed: number | undefined;
  while (!done) {
    const info = await rpc.info().catch(() => undefined);
    // finalizedHeight is -1 until something is final (and absent from a node that predates finality).
    const finalized = info?.finalizedHeight;
    if (!done && typeof finalized === 'number' && finalized >= 0 && finalized !== printed) {
      printed = finalized;
      process.stdout.write(`finalized height ${finalized} (head ${info!.height})\n`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, FINALITY_POLL_MS)), stopped]);
  }
}

async function stopAll(nodes: readonly DevNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    const { killed } = await n.process.stop(STOP_TIMEOUT_MS);
    if (killed) process.stderr.write(`${n.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killed it\n`);
  }));
}

/** One network namespace per node on a fresh bridge (--hosts): root and `ip` are needed. */
function hostsTopology(nodes: number): Topology {
  if (process.getuid?.() !== 0) throw new CliError('--hosts creates network namespaces: run it as root');
  try {
    return createTopology(nodes);
  } catch (e) {
    throw new CliError(`--hosts: could not create the network namespaces (is iproute2's \`ip\` installed?): ${(e as Error).message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  if (values.dir === '') throw new UsageError('--dir: must not be empty');
  const dir = resolve(values.dir ?? '.devnet');
  const observers = integer(values.replicas ?? '1', 'replicas', 0, MAX_OBSERVERS);
  if (values.nodes !== undefined) integer(values.nodes, 'nodes', 1, MAX_VALIDATORS); // a usage error before DIR is touched
  const logIdArg = values['log-id'] ?? DEFAULT_LOG_NAME;
  const logId = toHex(parseLogId(logIdArg));
  const chainId = String(integer(values['chain-id'] ?? String(DEFAULT_CHAIN_ID), 'chain-id', 1));
  const logLevel = oneOf(values['log-level'] ?? 'info', 'log-level', LOG_LEVELS);

  await prepareDir(dir, values.reset ?? false);
  const validatorsN = await validatorCount(dir, values.nodes);
  const basePort = integer(values['base-port'] ?? '7545', 'base-port', 1, 65535 - P2P_OFFSET - validatorsN - observers);
  const validators = await ensureValidators(dir, validatorsN);
  const clientKeyFile = join(dir, 'client.key');
  const clientAddress = toHex(addressFromPrivateKey(await ensureKey(clientKeyFile)));
  const common = ['--validators', validators.addresses.join(','), '--allow', clientAddress, '--log-id', logId, '--chain-id', chainId, '--log-level', logLevel];

  const nodes: DevNode[] = [];
  let stopping = false;
  let onStop: ((code: number) => void) | undefined;
  const stopped = new Promise<number>((r) => { onStop = r; });
  const shutdown = (code: number, why?: string): void => {
    if (stopping) return;
    stopping = true;
    if (why) process.stderr.write(`${why}\n`);
    void stopAll(nodes).then(() => onStop!(code));
  };
  const onSigint = () => shutdown(0, '\nstopping the devnet...');
  const onSigterm = () => shutdown(0, 'stopping the devnet...');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  const watch = (n: DevNode): void => {
    void n.process.exited.then((exit) => {
      if (!stopping && n.started) shutdown(1, `${n.name} exited unexpectedly (${describeExit(exit)}); see ${display(n.logFile)}; stopping the devnet`);
    });
  };

  let following: Promise<void> | undefined;
  let topology: Topology | undefined;
  try {
    if (values.hosts) topology = hostsTopology(validatorsN + observers);
    const plans = await planNodes(dir, validators.keyFiles, observers, basePort, topology);
    // All at once: each node redials its peers until they listen, and a validator may wait for the others to recover.
    for (const plan of plans) {
      const node = spawnNode(dir, plan, plans.filter((p) => p !== plan).map((p) => p.multiaddr), common);
      nodes.push(node);
      watch(node);
    }
    const started = await Promise.race([Promise.all(nodes.map(waitStarted)), stopped.then(() => undefined)]);
    if (started && !stopping && await waitReady(nodes, stopped)) {
      await writeFile(join(dir, 'devnet.json'), JSON.stringify({
        logId, chainId: Number(chainId), primaryAddress: validators.addresses[0], validators: validators.addresses, clientAddress, clientKeyFile,
        nodes: nodes.map((n) => ({ name: n.name, role: n.role, pid: n.process.pid, rpc: n.started!.rpc, multiaddrs: n.started!.multiaddrs, peerId: n.started!.peerId, log: n.logFile, namespace: n.host?.ns ?? null })),
      }, null, 2) + '\n');
      const watched = nodes.find((n) => n.role === 'observer') ?? nodes[nodes.length - 1];
      printSummary(dir, nodes, watched, { logId, logIdArg, chainId, validators: validators.addresses, clientAddress, clientKeyFile });
      following = followFinality(watched, stopped);
    }
  } catch (e) {
    shutdown(1);
    await stopped;
    topology?.teardown();
    throw e;
  }
  const code = await stopped;
  await following;
  topology?.teardown();
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.stderr.write(code === 0 ? 'devnet stopped\n' : '');
  return code;
}

function printSummary(dir: string, nodes: readonly DevNode[], watched: DevNode, o: {
  logId: string; logIdArg: string; chainId: string; validators: readonly string[]; clientAddress: string; clientKeyFile: string;
}): void {
  const width = Math.max(...nodes.map((n) => n.name.length));
  const rpc = (n: DevNode) => n.started!.rpc.replace(/\/$/, '');
  const cli = 'npx sequencer';
  const key = quote(display(o.clientKeyFile));
  const n = o.validators.length;
  const f = Math.floor((n - 1) / 3);
  const quorum = Math.ceil((n + f + 1) / 2);
  const primary = nodes[0];
  const other = nodes[1];
  const observers = nodes.length - n;
  const out = [
    `Sequencer devnet is running: ${n} validator${n === 1 ? '' : 's'} (quorum ${quorum}, ${f} Byzantine tolerated) and ${observers} observer${observers === 1 ? '' : 's'}, data in ${display(dir)}`,
    '',
    ...nodes.map((d) => `  ${d.name.padEnd(width)}  ${d.role.padEnd(9)}  rpc ${rpc(d)}  p2p ${d.started!.multiaddrs[0] ?? '-'}  pid ${d.process.pid}`),
    '',
    ...nodes.map((d) => `  ${d.name.padEnd(width)}  explorer ${rpc(d)}/explorer`),
    '',
    `  log id      ${o.logId}${o.logIdArg.startsWith('0x') ? '' : ` (keccak256 of "${o.logIdArg}")`}, chain id ${o.chainId}`,
    ...o.validators.map((a, i) => `  ${i === 0 ? 'validators' : ''.padEnd(10)}  ${a}  ${i === 0 ? 'primary (leads view 0)' : nodes[i].name}`),
    `  client key  ${display(o.clientKeyFile)} (address ${o.clientAddress}, the only sender allowed to append)`,
    `  node logs   ${display(join(dir, '<node>.log'))}; addresses in ${display(join(dir, 'devnet.json'))}`,
    '',
    'Try:',
    `  ${cli} append --rpc ${rpc(primary)} --key-file ${key} hello`,
    ...(other ? [`  ${cli} append --rpc ${rpc(other)} --key-file ${key} 'via ${other.role === 'observer' ? 'an observer' : 'a validator'}'`] : []),
    `  ${cli} append --rpc ${rpc(primary)} --key-file ${key} --wait final 'once final'   # with its finality certificate`,
    `  ${cli} read --rpc ${rpc(watched)} --text`,
    `  ${cli} info --rpc ${rpc(watched)}              # finalizedHeight, view, leader, validators`,
    '',
    `Press Ctrl-C to stop. Below: the finalized height as ${watched.name} sees it, whenever it advances.`,
    '',
  ];
  process.stdout.write(out.join('\n'));
}
