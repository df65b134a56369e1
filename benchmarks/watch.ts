/**
 * Benchmark of the SDK's watchEntries (docs/sdk.md §Performance): entries per second verified and yielded by one
 * client following a log live. A primary (in this process, JSON-RPC on loopback) is preloaded with `--preload`
 * entries, then one client follows from sequence 0 (server push) while `--live` more are appended; every batch
 * is verified (header signature, links, every submission's signature, entry chain, Merkle root) before its
 * entries are yielded. Reported: the backlog phase (catching up on the preloaded entries) and the whole run.
 *
 *   node benchmarks/watch.ts                                  # native crypto (Node)
 *   node --conditions=pure-js-crypto benchmarks/watch.ts      # the pure-JS crypto a browser runs
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backend } from '#crypto';
import { toHex } from '../src/core/bytes.ts';
import { silentLogger } from '../src/core/logger.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { startSequencer } from '../src/cli/start-sequencer.ts';
import { createSequencerClient } from '../src/client/index.ts';
import { CHAIN_ID, PRIMARY_KEY, clientKey, logIdFor, machine, nowMs, parseFlags } from './lib/common.ts';

const flags = parseFlags(process.argv.slice(2), {
  preload: { kind: 'number', default: 100_000, help: 'entries appended before the client starts' },
  live: { kind: 'number', default: 50_000, help: 'entries appended while the client follows' },
  'txs-per-submission': { kind: 'number', default: 100, help: 'transactions per signed submission' },
  payload: { kind: 'number', default: 128, help: 'payload bytes per transaction' },
  'server-push': { kind: 'boolean', default: true, help: 'follow with the node\'s /events stream (false: polling)' },
  final: { kind: 'boolean', default: false, help: 'watchEntries({ finality: \'final\' }): each range also waits for and checks a finality certificate' },
}, 'node benchmarks/watch.ts [flags]');

const dir = await mkdtemp(join(tmpdir(), 'seq-bench-watch-'));
const logId = logIdFor('sequencer-bench-watch');
const key = clientKey(0);
const primary = await startSequencer({
  mode: 'primary', dataDir: dir, rpcHost: '127.0.0.1', rpcPort: 0, p2pHost: '127.0.0.1', p2pPort: 0, peers: [],
  allow: [addressFromPrivateKey(key)], primary: addressFromPrivateKey(PRIMARY_KEY), privateKey: PRIMARY_KEY, unsafeSkipRecovery: true,
  logId, chainId: CHAIN_ID,
}, silentLogger);
const client = createSequencerClient({ url: primary.rpcUrl, logId: toHex(logId), chainId: CHAIN_ID, primary: addressFromPrivateKey(PRIMARY_KEY) });
const per = flags['txs-per-submission'];
const payload = new Uint8Array(flags.payload).fill(0x61);

/** Appends `n` entries, 8 submissions in flight. */
async function appendEntries(n: number): Promise<void> {
  let left = Math.ceil(n / per);
  const worker = async () => {
    while (left-- > 0) await client.append({ account: { privateKey: key }, transactions: Array.from({ length: per }, () => payload) });
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

try {
  await appendEntries(flags.preload);
  const preloaded = (await client.info()).entries;
  const total = preloaded + Math.ceil(flags.live / per) * per;
  const start = nowMs();
  const live = appendEntries(flags.live);
  let seen = 0;
  let backlogMs = 0;
  const watcher = client.watchEntries({ fromSeq: 0, serverPush: flags['server-push'], finality: flags.final ? 'final' : 'soft' });
  for await (const e of watcher) {
    if (e.seq !== seen) throw new Error(`expected seq ${seen}, got ${e.seq}`);
    seen++;
    if (seen === preloaded) backlogMs = nowMs() - start;
    if (seen === total) break;
  }
  const totalMs = nowMs() - start;
  await live;
  const result = {
    backend: backend.name, finality: flags.final ? 'final' : 'soft', preloaded, live: total - preloaded, txsPerSubmission: per, payloadBytes: flags.payload,
    backlogEntriesPerSecond: Math.round((preloaded * 1000) / backlogMs),
    overallEntriesPerSecond: Math.round((total * 1000) / totalMs),
    seconds: +(totalMs / 1000).toFixed(2),
    machine: machine(),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await primary.stop();
  await rm(dir, { recursive: true, force: true });
}
