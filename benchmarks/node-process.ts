/**
 * The benchmarks' own node launcher: one sequencer node per OS process, configured from flags the same way as
 * the CLI (`start` is implied), so the benchmarks do not depend on CLI details.
 *
 *   PRIVATE_KEY=0x.. node benchmarks/node-process.ts --mode primary|validator|replica --db DIR [--rpc-host IP] [--rpc-port N]
 *     [--p2p-host IP] [--p2p-port N]
 *     [--peers MULTIADDR ...] [--allow ADDRESS ...] [--primary ADDRESS] [--validators ADDRESS,...] [--log-id NAME_OR_0xHEX] [--chain-id N]
 *     [--log-level L] [--max-pending-txs N] [--seal-linger-ms MS] [--unsafe-skip-recovery yes] [--name NAME]
 *
 * Prints the started line of `sequencer start` on stdout when ready (src/cli/started-event.ts), logs to stderr.
 * Stops cleanly on SIGTERM/SIGINT, and when its parent's IPC channel closes (src/cli/launcher.ts opens one),
 * which happens when the parent dies even by SIGKILL.
 */
import { fromHex } from '../src/core/bytes.ts';
import type { NodeConfig } from '../src/node/config.ts';
import type { Level } from '../src/core/logger.ts';
import { createLogger } from '../src/node/logger.ts';
import { startSequencer } from '../src/cli/start-sequencer.ts';
import { startedEvent } from '../src/cli/started-event.ts';
import { CHAIN_ID, logIdFor } from './lib/common.ts';

const multi = new Set(['peers', 'allow', 'validators']);
const flags: Record<string, string> = {};
const lists: Record<string, string[]> = { peers: [], allow: [], validators: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  let a = argv[i];
  if (a === 'start') continue;
  if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
  a = a.slice(2);
  const v = argv[++i];
  if (v === undefined) throw new Error(`--${a} needs a value`);
  if (multi.has(a)) lists[a].push(...v.split(',').filter(Boolean));
  else flags[a] = v;
}

const mode = flags.mode;
if (mode !== 'primary' && mode !== 'validator' && mode !== 'replica') throw new Error('--mode primary|validator|replica is required');
if (!flags.db) throw new Error('--db DIR is required');
const key = process.env.PRIVATE_KEY ? fromHex(process.env.PRIVATE_KEY, 32) : undefined;

const config: NodeConfig = {
  mode,
  dataDir: flags.db,
  // Loopback unless the benchmark runs each node in its own network namespace (run.ts --hosts): then its address there.
  rpcHost: flags['rpc-host'] ?? '127.0.0.1',
  rpcPort: Number(flags['rpc-port'] ?? 0),
  p2pHost: flags['p2p-host'] ?? '127.0.0.1',
  p2pPort: Number(flags['p2p-port'] ?? 0),
  peers: lists.peers,
  allow: lists.allow.map((a) => fromHex(a, 20)),
  primary: flags.primary ? fromHex(flags.primary, 20) : undefined,
  validators: lists.validators.length > 0 ? lists.validators.map((a) => fromHex(a, 20)) : undefined,
  privateKey: key,
  logId: logIdFor(flags['log-id'] ?? 'sequencer-bench'),
  chainId: Number(flags['chain-id'] ?? CHAIN_ID),
  maxPendingTxs: flags['max-pending-txs'] ? Number(flags['max-pending-txs']) : undefined,
  sealLingerMs: flags['seal-linger-ms'] ? Number(flags['seal-linger-ms']) : undefined,
  unsafeSkipRecovery: flags['unsafe-skip-recovery'] === 'yes',
};

const log = createLogger((flags['log-level'] ?? 'warn') as Level, { node: flags.name ?? mode });
const node = await startSequencer(config, log);
process.stdout.write(JSON.stringify(startedEvent(node, config)) + '\n');

let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info('stopping', { why });
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await node.stop();
  } catch (e) {
    log.error('stop failed', { error: (e as Error).message });
  }
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
if (process.send) process.on('disconnect', () => void shutdown('parent gone'));
