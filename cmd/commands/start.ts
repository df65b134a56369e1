/** `sequencer start`: runs one node (primary or replica) in the foreground until SIGINT/SIGTERM. */
import { multiaddr } from '@multiformats/multiaddr';
import { CliError, UsageError, integer, list, oneOf, parseCommand, port, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { DEFAULT_CHAIN_ID, DEFAULT_LOG_NAME, KEY_ENV, loadKey, parseAddress, parseLogId } from '../../src/cli/keys.ts';
import type { Mode, NodeConfig } from '../../src/node/config.ts';
import type { Level } from '../../src/core/logger.ts';
import { createLogger } from '../../src/node/logger.ts';
import { LOG_LEVELS } from '../../src/cli/command-log.ts';
import { startedEvent } from '../../src/cli/started-event.ts';

const STOP_TIMEOUT_MS = 20_000;

export const USAGE = `Usage: sequencer start --mode primary|validator|replica --db DIR --rpc-port N --p2p-port N [options]

Runs a node in the foreground until SIGINT or SIGTERM. Once it is up, prints one JSON line to stdout:
  {"event":"started","mode":...,"rpc":URL,"multiaddrs":[...],"address":...,"peerId":...,"logId":...,"chainId":N}
Logs are JSON lines on stderr.

Required:
  --mode MODE             the node's role: primary (leads view 0: the first of --validators), validator (verifies,
                          stores and votes; its key is one of --validators), replica or observer (verifies and
                          stores, no vote, no key needed)
  --db DIR                data directory (created if missing; keeps the log and the libp2p identity)
  --rpc-port N            JSON-RPC port (0 picks a free one)
  --p2p-port N            libp2p TCP port (0 picks a free one)

Options:
  --rpc-host H            JSON-RPC listen address (default 127.0.0.1)
  --rpc-max-connections N concurrent JSON-RPC connections (default 256): past it, a new connection evicts the one
                          idle the longest, or is closed if all are busy. Keep it well below the process's open-file
                          limit (ulimit -n): the store and libp2p need descriptors too
  --p2p-host H            libp2p listen address (default 127.0.0.1)
  --peers MULTIADDR       peer to connect to, e.g. /ip4/127.0.0.1/tcp/7645/p2p/12D3...; repeatable or comma-separated.
                          A primary signs nothing until every one of them (or --recovery-quorum of them) has told it
                          the highest header signed with its key and it has synced up to it (until then appends get
                          -32010 not ready); so give a primary its replicas, each with its /p2p/<peer id>. A primary
                          without --peers refuses to start unless given --unsafe-skip-recovery
  --recovery-quorum K     primary: proceed once K of the --peers have answered (default: all of them), so that a
                          replica gone for good does not keep the primary not ready. RISK: a header signed with this
                          key that only the peers that did not answer hold is signed again: equivocation, slashable.
                          Keep K as high as the peers you can count on
  --allow ADDRESS         address allowed to append; repeatable or comma-separated (use the same list on every node)
  --primary ADDRESS       the primary's address (a primary derives it from its key; a replica or validator takes
                          the first of --validators when this is absent)
  --validators ADDRESS    the log's validator set, in order; repeatable or comma-separated (use the same list on
                          every node). The first leads view 0 and is the primary. A header is final once a quorum
                          (⌈(n+f+1)/2⌉ of n, f = ⌊(n−1)/3⌋) co-signed it. Default: the primary alone
  --log-id ID             0x + 64 hex digits, or a name whose keccak256 is the id (default "${DEFAULT_LOG_NAME}")
  --chain-id N            EIP-712 chain id (default ${DEFAULT_CHAIN_ID})
  --key-file FILE         file holding the node's 0x-hex private key, mode 0600 (wins over the ${KEY_ENV} env variable)
  --max-pending N         primary back-pressure bound, in transactions admitted but not yet durable (beyond it:
                          -32006 overloaded, retry later; one submission larger than N: -32005 too large)
  --seal-linger-ms MS     primary: let a small queue wait up to MS ms for more submissions before sealing it
                          (default 0: at once). Fewer, larger batches at low load: less CPU per transaction on
                          every node, for up to MS ms more latency
  --view-timeout-ms MS    validator of a set of more than one: time a view out (and move to the next leader) after
                          MS ms without progress while work is pending; doubled per failed view in a row (default
                          1000; 0: never time out, only follow the view changes the others make)
  --unsafe-censor ADDRESS FAULT INJECTION (tests, chaos runs): when this validator leads a view it never sequences
                          submissions of ADDRESS (repeatable): a censoring leader the others must replace
  --bond-contract ADDRESS the SequencerBond deployment holding the primary's bond (with --chain-rpc): the node
                          trusts the primary only while that bond is active. Once a withdrawal is requested, or the
                          bond is slashed or gone, a replica stops following and a primary stops sequencing (appends
                          get -32009 node halted); a replica also waits while the bond cannot be read. The node
                          refuses to start if --chain-rpc cannot be reached, is not chain --chain-id, or the address
                          holds no SequencerBond of the committed build with parameters in its bounds
  --chain-rpc URL         Ethereum JSON-RPC URL of the chain --chain-id (for --bond-contract)
  --unsafe-skip-recovery  primary: sign at once on top of the local store, without asking --peers for the highest
                          header signed with this key; required to start a primary without --peers (logged as a
                          warning at start-up). RISK: if the store lost batches its peers hold (lost or
                          restored disk, another data directory), the primary signs those heights again: that is
                          equivocation, and anyone holding both headers can slash its bond. Use only when the
                          store is known to be complete, or the log is new and no peer holds anything
  --log-level LEVEL       debug, info, warn or error (default info)
  -h, --help              show this help

Key: a primary needs one (${KEY_ENV}=0x... in the environment, or --key-file); a replica may run without.
`;

const SPEC = {
  name: 'start',
  usage: USAGE,
  options: {
    mode: { type: 'string' },
    db: { type: 'string' },
    'rpc-port': { type: 'string' },
    'p2p-port': { type: 'string' },
    'rpc-host': { type: 'string', default: '127.0.0.1' },
    'rpc-max-connections': { type: 'string' },
    'p2p-host': { type: 'string', default: '127.0.0.1' },
    peers: { type: 'string', multiple: true },
    allow: { type: 'string', multiple: true },
    primary: { type: 'string' },
    validators: { type: 'string', multiple: true },
    'log-id': { type: 'string', default: DEFAULT_LOG_NAME },
    'chain-id': { type: 'string', default: String(DEFAULT_CHAIN_ID) },
    'key-file': { type: 'string' },
    'max-pending': { type: 'string' },
    'seal-linger-ms': { type: 'string' },
    'view-timeout-ms': { type: 'string' },
    'unsafe-censor': { type: 'string', multiple: true },
    'bond-contract': { type: 'string' },
    'chain-rpc': { type: 'string' },
    'unsafe-skip-recovery': { type: 'boolean', default: false },
    'recovery-quorum': { type: 'string' },
  },
} as const satisfies CommandSpec<any>;

type Values = ReturnType<typeof parseCommand<typeof SPEC.options>>['values'];

/** Flags (and the environment) -> NodeConfig. Throws UsageError/CliError with one-line messages. */
export async function configFromFlags(values: Values, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  const modeFlag = oneOf<Mode | 'observer'>(required(values.mode, 'mode'), 'mode', ['primary', 'validator', 'replica', 'observer']);
  const mode: Mode = modeFlag === 'observer' ? 'replica' : modeFlag;
  const dataDir = required(values.db, 'db');
  const rpcPort = port(required(values['rpc-port'], 'rpc-port'), 'rpc-port');
  const p2pPort = port(required(values['p2p-port'], 'p2p-port'), 'p2p-port');
  const rpcHost = required(values['rpc-host'], 'rpc-host');
  const p2pHost = required(values['p2p-host'], 'p2p-host');
  const peers = list(values.peers);
  const anonymousPeers: string[] = [];
  for (const p of peers) {
    try {
      if (!multiaddr(p).getComponents().some((c) => c.name === 'p2p')) anonymousPeers.push(p);
    } catch (e) {
      throw new UsageError(`--peers: '${p}' is not a valid multiaddr (${(e as Error).message})`);
    }
  }
  const allow = list(values.allow).map((a) => parseAddress(a, 'allow'));
  const validators = values.validators !== undefined ? list(values.validators).map((a) => parseAddress(a, 'validators')) : undefined;
  // A primary is its key's address (checked against the first validator when the node starts); others default to it.
  const primary = values.primary !== undefined ? parseAddress(values.primary, 'primary') : mode === 'primary' ? undefined : validators?.[0];
  if (mode !== 'primary' && !primary) throw new UsageError(`a ${mode} needs the primary's address: --primary ADDRESS or --validators ADDRESS,...`);
  const logId = parseLogId(values['log-id'] ?? DEFAULT_LOG_NAME);
  const chainId = integer(values['chain-id'] ?? String(DEFAULT_CHAIN_ID), 'chain-id', 1);
  const maxPendingTxs = values['max-pending'] !== undefined ? integer(values['max-pending'], 'max-pending', 1) : undefined;
  const sealLingerMs = values['seal-linger-ms'] !== undefined ? integer(values['seal-linger-ms'], 'seal-linger-ms', 0, 1000) : undefined;
  if (sealLingerMs !== undefined && mode !== 'primary') throw new UsageError('--seal-linger-ms is for a primary only');
  const viewTimeoutMs = values['view-timeout-ms'] !== undefined ? integer(values['view-timeout-ms'], 'view-timeout-ms', 0, 60_000) : undefined;
  if (viewTimeoutMs !== undefined && (mode === 'replica' || (validators?.length ?? 1) < 2)) throw new UsageError('--view-timeout-ms is for a validator of a set of more than one (--validators)');
  const unsafeCensor = values['unsafe-censor'] !== undefined ? list(values['unsafe-censor']).map((a) => parseAddress(a, 'unsafe-censor')) : undefined;
  if (unsafeCensor !== undefined && (mode === 'replica' || (validators?.length ?? 1) < 2)) throw new UsageError('--unsafe-censor is for a validator of a set of more than one (--validators)');
  const rpcMaxConnections = values['rpc-max-connections'] !== undefined ? integer(values['rpc-max-connections'], 'rpc-max-connections', 1) : undefined;
  const unsafeSkipRecovery = values['unsafe-skip-recovery'] ?? false;
  if (unsafeSkipRecovery && mode !== 'primary') throw new UsageError('--unsafe-skip-recovery is for a primary only');
  if (mode === 'primary' && !unsafeSkipRecovery && anonymousPeers.length > 0) {
    throw new UsageError(`--peers: '${anonymousPeers[0]}' has no /p2p/<peer id>; a primary waits for each of its peers at start-up and must know who they are`);
  }
  const privateKey = await loadKey(values['key-file'], env);
  if (mode !== 'replica' && !privateKey) throw new UsageError(`a ${mode} needs a private key: set ${KEY_ENV}=0x... or pass --key-file FILE`);
  // Checked after the key, so that a primary given neither hears first that it needs a key.
  if (mode === 'primary' && !unsafeSkipRecovery && peers.length === 0) {
    throw new UsageError('a primary without --peers has nobody to recover a lost or old store from: give it its replicas (--peers), '
      + 'or accept the risk with --unsafe-skip-recovery (see --help)');
  }
  let recoveryQuorum: number | undefined;
  if (values['recovery-quorum'] !== undefined) {
    if (mode !== 'primary' || unsafeSkipRecovery) throw new UsageError('--recovery-quorum is for a primary that recovers at start-up (not with --unsafe-skip-recovery)');
    recoveryQuorum = integer(values['recovery-quorum'], 'recovery-quorum', 1, peers.length);
  }
  if ((values['bond-contract'] === undefined) !== (values['chain-rpc'] === undefined)) throw new UsageError('--bond-contract and --chain-rpc go together');
  const bond = values['bond-contract'] !== undefined
    ? { contract: parseAddress(values['bond-contract'], 'bond-contract'), chainRpc: rpcUrl(values['chain-rpc']!, 'chain-rpc') }
    : undefined;
  return { mode, dataDir, rpcHost, rpcPort, p2pHost, p2pPort, peers, allow, primary, validators, privateKey, logId, chainId, maxPendingTxs, sealLingerMs, viewTimeoutMs, unsafeCensor, rpcMaxConnections, unsafeSkipRecovery, recoveryQuorum, bond };
}

/** One line out of an error and its causes (LevelDB and libp2p wrap the useful part). */
function describe(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e; cur && parts.length < 4; cur = (cur as { cause?: unknown }).cause) {
    // Some libraries embed an inner error's stack in the message: keep only the first part.
    const m = (cur instanceof Error ? cur.message : String(cur)).split(/\n\s+at /)[0].trim();
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
  }
  return parts.join(': ').replace(/\s*\n\s*/g, ' ');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const level = oneOf<Level>(values['log-level'] ?? 'info', 'log-level', LOG_LEVELS);
  const config = await configFromFlags(values);
  const log = createLogger(level);
  if (config.allow.length === 0) log.warn('the allowlist is empty: every append will be refused (pass --allow ADDRESS)');

  // Signals are handled from here on, so one that arrives while the node is starting still stops it cleanly.
  let signalled: string | undefined;
  let onStopRequest: (() => void) | undefined;
  const stopRequested = new Promise<void>((resolve) => { onStopRequest = resolve; });
  const request = (why: string): void => {
    if (signalled) {
      log.warn('already stopping', { signal: why });
      return;
    }
    signalled = why;
    log.info('stopping', { signal: why });
    onStopRequest!();
  };
  const onSigint = () => request('SIGINT');
  const onSigterm = () => request('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // Started by `sequencer devnet` with an IPC channel: stop when the parent goes away, even if it was killed.
  const onDisconnect = () => request('parent exited');
  if (process.send) process.on('disconnect', onDisconnect);

  try {
    const { startSequencer } = await import('../../src/cli/start-sequencer.ts');
    let node;
    try {
      node = await startSequencer(config, log);
    } catch (e) {
      throw new CliError(`cannot start the ${config.mode}: ${describe(e)}`);
    }
    if (!signalled) process.stdout.write(JSON.stringify(startedEvent(node, config)) + '\n');
    await stopRequested;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS); });
    const result = await Promise.race([node.stop().then(() => 'stopped' as const), timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      log.error('the node did not stop in time; exiting anyway', { timeoutMs: STOP_TIMEOUT_MS });
      return 1;
    }
    log.info('stopped');
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('disconnect', onDisconnect);
  }
}
