/**
 * `sequencer devnet`: a local network for trying things out (what `npm start` runs). A primary and N replicas,
 * each a separate `sequencer start` child process with its own data directory and log file under DIR. Keys live
 * in DIR too and are reused, so a restart keeps the same identities and the log.
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

const CLI = fileURLToPath(new URL('../sequencer.ts', import.meta.url));
const MARKER = '.sequencer-devnet';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 25_000;
const P2P_OFFSET = 100;
const MAX_REPLICAS = 50;

export const USAGE = `Usage: sequencer devnet [--dir DIR] [--replicas N] [--base-port P] [--reset]

Runs a local devnet in the foreground: one primary and N replicas, each a separate process, until Ctrl-C.
Keys (primary.key, client.key), data (DIR/<node>/) and logs (DIR/<node>.log) stay in DIR, so a restart keeps
the same identities and log. Only the client key's address may append. The primary is given the replicas as
--peers, so it catches up from them before signing (a lost DIR/primary/ is recovered, not re-signed); with
--replicas 0 it starts with --unsafe-skip-recovery, trusting DIR/primary/. The summary is printed once it sequences.

Options:
  --dir DIR           devnet directory (default .devnet)
  --replicas N        number of replicas, 0..${MAX_REPLICAS} (default 2)
  --base-port P       RPC ports P, P+1, ...; libp2p ports P+${P2P_OFFSET}, P+${P2P_OFFSET + 1}, ... (default 7545)
  --reset             delete DIR first (only if it is a devnet directory): new keys, empty log
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
    replicas: { type: 'string', default: '2' },
    'base-port': { type: 'string', default: '7545' },
    reset: { type: 'boolean', default: false },
    'log-id': { type: 'string', default: DEFAULT_LOG_NAME },
    'chain-id': { type: 'string', default: String(DEFAULT_CHAIN_ID) },
  },
} as const satisfies CommandSpec<any>;

interface DevNode {
  readonly name: string;
  readonly role: 'primary' | 'replica';
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

function spawnNode(dir: string, name: string, role: 'primary' | 'replica', args: string[]): DevNode {
  const logFile = join(dir, `${name}.log`);
  const env = nodeRuntimeEnv(process.env);
  delete env[KEY_ENV]; // the nodes get their keys from files only
  const child = launch({
    name, script: CLI, args: ['start', ...args], nodeFlags: NODE_RUNTIME_FLAGS, env, logFile,
    // The child stops if this process dies; Ctrl-C reaches only this process, which then stops the nodes in order.
    stopWithParent: true, ownProcessGroup: true,
  });
  return { name, role, logFile, process: child };
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
 * The replicas' multiaddrs before any of them runs: their libp2p identities are created here (each node keeps
 * its own in its data directory) and their ports are fixed, so the primary can be given them as --peers.
 */
async function replicaAddresses(dir: string, replicas: number, basePort: number): Promise<string[]> {
  return Promise.all(Array.from({ length: replicas }, async (_, k) => {
    const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(join(dir, `replica-${k + 1}`))).toString();
    return `/ip4/127.0.0.1/tcp/${basePort + P2P_OFFSET + k + 1}/p2p/${peerId}`;
  }));
}

/** Resolves once the primary sequences: it has heard from every replica (docs/protocol.md §Primary start-up). */
async function waitReady(node: DevNode, stopped: Promise<unknown>): Promise<boolean> {
  const rpc = new RpcClient(node.started!.rpc);
  const deadline = Date.now() + START_TIMEOUT_MS;
  let done = false;
  void stopped.then(() => { done = true; });
  let reason: unknown;
  while (!done) {
    reason = await rpc.info().then((i) => i.notReady, (e: Error) => e.message);
    if (reason === null) return true;
    if (Date.now() > deadline) throw new CliError(`the primary is not ready after ${START_TIMEOUT_MS / 1000} s (${String(reason)}); see ${display(node.logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function stopAll(nodes: readonly DevNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => {
    const { killed } = await n.process.stop(STOP_TIMEOUT_MS);
    if (killed) process.stderr.write(`${n.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killed it\n`);
  }));
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const dir = resolve(values.dir ?? '.devnet');
  const replicas = integer(values.replicas ?? '2', 'replicas', 0, MAX_REPLICAS);
  const basePort = integer(values['base-port'] ?? '7545', 'base-port', 1, 65535 - P2P_OFFSET - replicas);
  const logIdArg = values['log-id'] ?? DEFAULT_LOG_NAME;
  const logId = toHex(parseLogId(logIdArg));
  const chainId = String(integer(values['chain-id'] ?? String(DEFAULT_CHAIN_ID), 'chain-id', 1));
  const logLevel = oneOf(values['log-level'] ?? 'info', 'log-level', LOG_LEVELS);
  if (values.dir === '') throw new UsageError('--dir: must not be empty');

  await prepareDir(dir, values.reset ?? false);
  const primaryKeyFile = join(dir, 'primary.key');
  const clientKeyFile = join(dir, 'client.key');
  const primaryAddress = toHex(addressFromPrivateKey(await ensureKey(primaryKeyFile)));
  const clientAddress = toHex(addressFromPrivateKey(await ensureKey(clientKeyFile)));
  const common = ['--allow', clientAddress, '--log-id', logId, '--chain-id', chainId, '--log-level', logLevel];

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

  try {
    // The primary signs nothing before its replicas told it how far its key has signed, so a devnet restarted
    // after the primary's directory was lost resumes from the replicas instead of equivocating.
    const replicaPeers = await replicaAddresses(dir, replicas, basePort);
    const primary = spawnNode(dir, 'primary', 'primary', [
      '--mode', 'primary', '--db', join(dir, 'primary'),
      '--rpc-port', String(basePort), '--p2p-port', String(basePort + P2P_OFFSET),
      // Without replicas there is nobody to recover from: the operator asked for a lone primary.
      '--key-file', primaryKeyFile, ...(replicas > 0 ? ['--peers', replicaPeers.join(',')] : ['--unsafe-skip-recovery']), ...common,
    ]);
    nodes.push(primary);
    watch(primary);
    const startedPrimary = await Promise.race([waitStarted(primary), stopped.then(() => undefined)]);
    if (startedPrimary) {
      // Replicas start one after another, each given the primary and the replicas before it, so the devnet is
      // a full mesh: batches, sync and equivocation proofs do not all have to pass through the primary.
      const addressOf = (started: { multiaddrs: string[] }) => started.multiaddrs.find((m) => m.includes('/p2p/')) ?? started.multiaddrs[0];
      const known = [addressOf(startedPrimary)];
      let all = true;
      for (let i = 1; i <= replicas && all; i++) {
        const r = spawnNode(dir, `replica-${i}`, 'replica', [
          '--mode', 'replica', '--db', join(dir, `replica-${i}`),
          '--rpc-port', String(basePort + i), '--p2p-port', String(basePort + P2P_OFFSET + i),
          '--peers', known.join(','), '--primary', primaryAddress, ...common,
        ]);
        nodes.push(r);
        watch(r);
        const started = await Promise.race([waitStarted(r), stopped.then(() => undefined)]);
        if (started) known.push(addressOf(started));
        else all = false;
      }
      if (all && !stopping && await waitReady(primary, stopped)) {
        await writeFile(join(dir, 'devnet.json'), JSON.stringify({
          logId, chainId: Number(chainId), primaryAddress, clientAddress, clientKeyFile,
          nodes: nodes.map((n) => ({ name: n.name, role: n.role, pid: n.process.pid, rpc: n.started!.rpc, multiaddrs: n.started!.multiaddrs, peerId: n.started!.peerId, log: n.logFile })),
        }, null, 2) + '\n');
        printSummary(dir, nodes, { logId, logIdArg, chainId, primaryAddress, clientAddress, clientKeyFile });
      }
    }
  } catch (e) {
    shutdown(1);
    await stopped;
    throw e;
  }
  const code = await stopped;
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.stderr.write(code === 0 ? 'devnet stopped\n' : '');
  return code;
}

function printSummary(dir: string, nodes: readonly DevNode[], o: {
  logId: string; logIdArg: string; chainId: string; primaryAddress: string; clientAddress: string; clientKeyFile: string;
}): void {
  const width = Math.max(...nodes.map((n) => n.name.length));
  const rpc = (n: DevNode) => n.started!.rpc.replace(/\/$/, '');
  const cli = 'npx sequencer';
  const key = quote(display(o.clientKeyFile));
  const primary = nodes[0];
  const replica = nodes[1];
  const last = nodes[nodes.length - 1];
  const out = [
    `Sequencer devnet is running: ${nodes.length} node${nodes.length === 1 ? '' : 's'}, data in ${display(dir)}`,
    '',
    ...nodes.map((n) => `  ${n.name.padEnd(width)}  ${n.role.padEnd(7)}  rpc ${rpc(n)}  p2p ${n.started!.multiaddrs[0] ?? '-'}  pid ${n.process.pid}`),
    '',
    ...nodes.map((n) => `  ${n.name.padEnd(width)}  explorer ${rpc(n)}/explorer`),
    '',
    `  log id      ${o.logId}${o.logIdArg.startsWith('0x') ? '' : ` (keccak256 of "${o.logIdArg}")`}, chain id ${o.chainId}`,
    `  primary     ${o.primaryAddress}`,
    `  client key  ${display(o.clientKeyFile)} (address ${o.clientAddress}, the only sender allowed to append)`,
    `  node logs   ${display(join(dir, '<node>.log'))}; addresses in ${display(join(dir, 'devnet.json'))}`,
    '',
    'Try:',
    `  ${cli} append --rpc ${rpc(primary)} --key-file ${key} hello`,
    ...(replica ? [`  ${cli} append --rpc ${rpc(replica)} --key-file ${key} 'via a replica'`] : []),
    `  ${cli} read --rpc ${rpc(last)} --text`,
    `  ${cli} info --rpc ${rpc(last)}`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(out.join('\n'));
}
