/**
 * Sustained throughput and latency of V validators (the first is the primary) and N replicas (observers), each its
 * own OS process on this machine, loaded by C clients over the binary ingest WebSocket (default) or JSON-RPC
 * (`--transport http`): soft latency (submit -> receipt) and final latency (submit -> final, as an observer sees
 * it) side by side. See docs/benchmarks.md for what every figure means.
 *
 *   node benchmarks/run.ts [--validators 1] [--replicas 2] [--payload 128] [--txs-per-submission 100] [--clients 4]
 *     [--duration 20] [--warmup 3] [--rate 0] [--transport ingest|http] [--rpc-batch 1] [--inflight 0] [--out FILE] [--keep]
 *     [--idle 10] [--reference redis] [--cpu-prof] [--final-poll-ms 5] [--hosts [--delay-ms 0] [--jitter-ms 0] [--loss 0]]
 *   node benchmarks/run.ts --curve [curve flags]      latency/CPU vs throughput curve (benchmarks/curve.ts, --curve --help)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { toHex } from '../src/core/bytes.ts';
import { Cluster, CLK_TCK, machineCpuTicks, procSample, type NodeProc, type ProcSample } from './lib/cluster.ts';
import {
  CHAIN_ID, clientAddresses, clientKey, fmt, logIdFor, machine, nowMs, parseFlags, percentiles, sleep, table, Timeline,
  timestampName, type Percentiles,
} from './lib/common.ts';
import { HttpPoster } from './lib/http.ts';
import { formatProfiles, summariseProfiles } from './lib/profile.ts';
import type { FromMain, ToMain, WorkerConfig } from './client-worker.ts';

// `--curve`: the latency/CPU-versus-throughput curve, which runs this file once per point (benchmarks/curve.ts).
if (process.argv.includes('--curve')) {
  const { curveMain } = await import('./curve.ts');
  process.exit(await curveMain(process.argv.slice(2).filter((a) => a !== '--curve')));
}

const flags = parseFlags(process.argv.slice(2), {
  validators: { kind: 'number', default: 1, help: 'validator processes, the primary included (1: the primary alone finalises each batch, the issue-8 layout; 4: one Byzantine tolerated)' },
  replicas: { kind: 'number', default: 2, help: 'replica processes (observers: verify and store, no vote)' },
  payload: { kind: 'number', default: 128, help: 'bytes per transaction' },
  'txs-per-submission': { kind: 'number', default: 100, help: 'transactions per signed submission' },
  clients: { kind: 'number', default: 4, help: 'client keys / load-generator threads' },
  duration: { kind: 'number', default: 20, help: 'measured seconds (after the warm-up)' },
  warmup: { kind: 'number', default: 3, help: 'seconds of load before measuring' },
  rate: { kind: 'number', default: 0, help: 'offered load in tx/s, all clients together; 0 = open loop' },
  transport: { kind: 'string', default: 'ingest', help: "how clients submit: 'ingest' (binary WebSocket, /ingest) or 'http' (JSON-RPC sequencer_append)" },
  'rpc-batch': { kind: 'number', default: 1, help: 'http: submissions per HTTP request (JSON-RPC batch array)' },
  inflight: { kind: 'number', default: 0, help: 'open loop: requests (http) or submissions (ingest) in flight per client; 0 = 4 (http) or enough for ~4,000 tx per client (ingest)' },
  'pool-rate': { kind: 'number', default: 0, help: 'open loop: tx/s to pre-sign for (0 = automatic); past it clients sign live (counted)' },
  'poll-ms': { kind: 'number', default: 20, help: 'interval of the sequencer_info polls of every node' },
  'final-poll-ms': { kind: 'number', default: 5, help: 'interval of the extra sequencer_info polls of the node final latency is timed at (its resolution)' },
  'max-pending-txs': { kind: 'number', default: 0, help: "primary's back-pressure bound (0 = the node's default)" },
  'seal-linger-ms': { kind: 'number', default: 0, help: "primary's --seal-linger-ms (0 = seal at once, the node's default)" },
  'log-level': { kind: 'string', default: 'warn', help: "nodes' log level (logs go to <data dir>/<node>.log)" },
  out: { kind: 'string', default: '', help: 'JSON results file (default benchmarks/results/<timestamp>.json)' },
  keep: { kind: 'boolean', help: 'keep the data directory (node databases and logs)' },
  'cpu-prof': { kind: 'boolean', help: 'run the nodes under node --cpu-prof (profiles next to --out) and summarise the hot functions and categories per node' },
  idle: { kind: 'number', default: 0, help: 'before the load: measure each node\'s CPU for this many seconds with no load and no polls, then 5 s with the polls only (0 = skip)' },
  curve: { kind: 'boolean', help: 'the latency/CPU-vs-throughput curve instead (benchmarks/curve.ts; its flags: --curve --help)' },
  hosts: { kind: 'boolean', help: "each node in its own network namespace with its own address on a bridge (root and 'ip' needed); clients reach the primary from the root namespace" },
  'delay-ms': { kind: 'number', default: 0, help: '--hosts: delay added to p2p traffic between nodes (a relay process, scripts/chaos/relay.ts), not to the clients' },
  'jitter-ms': { kind: 'number', default: 0, help: '--hosts: up to this much more delay, at random, per chunk' },
  loss: { kind: 'number', default: 0, help: '--hosts: percent of the packets from other nodes each node drops (whole percents; not the clients\' packets)' },
  reference: { kind: 'string', default: '', help: "after the run: the same measurement on a reference replicated log ('redis': Redis Streams, 1 primary + --replicas replicas)" },
}, 'usage: node benchmarks/run.ts [flags]');

if (!flags.hosts && (flags['delay-ms'] || flags['jitter-ms'] || flags.loss)) throw new Error('--delay-ms, --jitter-ms and --loss need --hosts');
if (!Number.isInteger(flags.loss) || flags.loss < 0 || flags.loss > 100) throw new Error(`--loss: expected a whole percent 0-100, got ${flags.loss}`);
const hosts = flags.hosts ? { delayMs: flags['delay-ms'], jitterMs: flags['jitter-ms'], lossPercent: flags.loss } : undefined;
/** The relay's entry among the nodes' CPU samples (no node has this name). */
const RELAY_CPU_KEY = 'delay-relay';
const V = Math.max(1, flags.validators), R = flags.replicas, C = Math.max(1, flags.clients), K = Math.max(1, flags['txs-per-submission']);
if (flags.transport !== 'ingest' && flags.transport !== 'http') throw new Error(`--transport: expected ingest or http, got ${flags.transport}`);
const transport: 'ingest' | 'http' = flags.transport;
// Over ingest every submission is its own message (pipelined, not batched).
const B = transport === 'ingest' ? 1 : Math.max(1, flags['rpc-batch']);
if (transport === 'ingest' && flags['rpc-batch'] > 1) console.warn('--rpc-batch applies to --transport http only: ignored');
const inflight = flags.inflight > 0 ? flags.inflight : transport === 'ingest' ? Math.min(1024, Math.max(4, Math.ceil(4000 / K))) : 4;
const windowS = flags.duration, warmupS = flags.warmup;
const outFile = resolve(flags.out || new URL(`./results/${timestampName()}.json`, import.meta.url).pathname);
const profileDir = outFile.replace(/\.json$/, '') + '-profiles';

/** The tx/s the clients pre-sign for. */
function poolRate(): number {
  // Rough ceilings for this code on a small machine; a run that exceeds them says so (signedDuringRun).
  const autoRate = K >= 50 ? 100_000 : K >= 10 ? 40_000 : transport === 'ingest' ? 12_000 : 6_000;
  return flags.rate > 0 ? flags.rate * 1.1 : flags['pool-rate'] || autoRate;
}

/** Open loop: how much to pre-sign. Past it clients sign on the spot; the report says so if it happens. */
function poolSubmissionsPerClient(): number {
  const seconds = warmupS + windowS + 2;
  const rate = poolRate();
  const subs = Math.ceil((rate / C) * seconds / K / B) * B;
  // Keep the pre-signed pool within ~2 GiB of JSON across the clients.
  const perSubBytes = K * (2 * flags.payload + 12) + 300;
  return Math.max(B * inflight * 2, Math.min(subs, Math.floor(2 * 2 ** 30 / C / perSubBytes)));
}

const log = (line: string) => process.stderr.write(line + '\n');

// ---- node polling: one sequencer_info loop per node, every poll-ms -------------------------------------

class Poller {
  readonly node: NodeProc;
  readonly entries = new Timeline();
  private readonly http: HttpPoster;
  private running = true;
  private done: Promise<void>;
  polls = 0;
  errors = 0;
  rttTotal = 0;
  /** The node's finalizedHeight over time (-1: nothing final yet, or a node without finality). */
  readonly finalized = new Timeline();
  /** Largest event-loop delay p99 the node reported (sequencer_info.process), in the measured window. */
  loopDelayMaxMs = 0;
  gcPauseMaxMs = 0;
  measuring = false;

  constructor(node: NodeProc, intervalMs: number) {
    this.node = node;
    this.http = new HttpPoster(node.rpc, 1);
    this.done = this.loop(intervalMs);
  }

  private async loop(intervalMs: number): Promise<void> {
    while (this.running) {
      const sent = nowMs();
      try {
        const info = await this.http.call('sequencer_info') as { entries: number; finalizedHeight?: number; process?: { eventLoopDelayP99Ms: number; gcPauseMaxMs: number } };
        const at = nowMs();
        if (this.measuring && info.process) {
          this.loopDelayMaxMs = Math.max(this.loopDelayMaxMs, info.process.eventLoopDelayP99Ms);
          this.gcPauseMaxMs = Math.max(this.gcPauseMaxMs, info.process.gcPauseMaxMs);
        }
        this.rttTotal += at - sent;
        this.polls++;
        if (info.entries !== this.entries.last || this.entries.t.length === 0) this.entries.add(at, info.entries);
        const finalized = info.finalizedHeight ?? -1;
        if (finalized !== this.finalized.last || this.finalized.t.length === 0) this.finalized.add(at, finalized);
      } catch {
        this.errors++;
      }
      const wait = intervalMs - (nowMs() - sent);
      if (wait > 0) await sleep(wait);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    this.http.close();
  }
}

// ---- main ----------------------------------------------------------------------------------------------

const logIdName = `sequencer-bench-${Date.now()}`;
const allow = clientAddresses(C);
log(`starting ${V} validator${V === 1 ? '' : 's'} (the first is the primary) + ${R} replicas (separate processes)...`);
const cluster = await Cluster.start({
  validators: V, replicas: R, allow, keep: flags.keep, logLevel: flags['log-level'], logId: logIdName,
  maxPendingTxs: flags['max-pending-txs'] || undefined,
  sealLingerMs: flags['seal-linger-ms'] || undefined,
  hosts,
  nodeArgs: flags['cpu-prof'] ? (name) => ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${name}.cpuprofile`] : undefined,
});
let exitCode = 0;
let result: Record<string, unknown> | undefined;
try {
  result = await run(cluster);
  exitCode = (result.nodesDied as string[]).length ? 1 : 0;
} catch (e) {
  log(`benchmark failed: ${(e as Error).stack ?? e}`);
  exitCode = 1;
} finally {
  await cluster.stop();
  if (flags.keep) log(`data kept in ${cluster.dir}`);
}
if (result) {
  if (flags['cpu-prof']) {
    const profiles = summariseProfiles(profileDir, 25);
    result.cpuProfiles = {
      dir: profileDir,
      note: 'self time over the whole process life (start-up, warm-up and drain included; busy time only, idle excluded), by category and by function, per node; a sample counts in the category of its innermost categorised frame',
      profiles,
    };
    process.stdout.write(`\nCPU profiles (${profileDir}):` + formatProfiles(profiles, 12));
  }
  if (flags.reference && exitCode === 0) {
    if (flags.reference !== 'redis') {
      log(`--reference ${flags.reference}: only 'redis' is supported`);
    } else {
      const { runRedisReference, formatComparison } = await import('./lib/redis-reference.ts');
      try {
        // Open loop (Redis's maximum), then paced at the rate our run stored on every replica (latency at equal load).
        const opts = { replicas: R, payloadBytes: flags.payload, durationS: windowS, warmupS, pollMs: flags['poll-ms'], log };
        log(`\nreference: Redis Streams, 1 primary + ${R} replicas, open loop...`);
        const refs = [await runRedisReference(opts)];
        const ours = (result.results as { minReplicaTxPerSecStored: number | null }).minReplicaTxPerSecStored;
        if (ours) {
          log(`reference: Redis Streams paced at ${fmt.int(ours)} entries/s (our rate)...`);
          refs.push(await runRedisReference({ ...opts, rate: ours }));
        }
        result.reference = refs;
        process.stdout.write('\n' + formatComparison(result, refs) + '\n');
      } catch (e) {
        log(`reference run skipped: ${(e as Error).message}`);
        result.reference = { skipped: (e as Error).message };
      }
    }
  }
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  log(`results written to ${outFile}`);
}
process.exit(exitCode);

async function run(cluster: Cluster): Promise<Record<string, unknown>> {
  await cluster.waitConnected();
  for (const n of cluster.nodes) log(`  ${n.name.padEnd(9)} pid ${n.pid}  ${n.rpc}`);
  const died: string[] = [];
  for (const n of cluster.nodes) void n.process.exited.then(({ code, signal }) => died.push(`${n.name} exited (${code ?? signal})`));
  const idle = flags.idle > 0 ? await measureIdle(cluster, flags.idle, flags['poll-ms']) : undefined;

  // Clients: pre-build and pre-sign the pools in worker threads (in parallel, before anything is timed).
  const perClient = poolSubmissionsPerClient();
  log(`clients: pre-signing ${fmt.int(perClient)} submissions x ${K} tx each per client (${C} clients, worker threads)...`);
  const workers: Worker[] = [];
  const ready: Extract<ToMain, { type: 'ready' }>[] = [];
  const progress: Extract<ToMain, { type: 'progress' }>[] = [];
  const done: Extract<ToMain, { type: 'done' }>[] = [];
  const readyAll = Promise.all(Array.from({ length: C }, (_, i) => new Promise<void>((res, rej) => {
    const cfg: WorkerConfig = {
      index: i, clients: C, url: cluster.primary.rpc, transport, key: toHex(clientKey(i)), logId: toHex(logIdFor(logIdName)), chainId: CHAIN_ID,
      payloadBytes: flags.payload, txsPerSubmission: K, rpcBatch: B, inflight: inflight,
      rate: flags.rate > 0 ? flags.rate / C : 0, poolSubmissions: perClient, drainMs: 30_000,
    };
    const w = new Worker(new URL('./client-worker.ts', import.meta.url), { workerData: cfg });
    workers.push(w);
    w.on('message', (m: ToMain) => {
      if (m.type === 'ready') { ready[i] = m; res(); } else if (m.type === 'progress') progress[i] = m; else if (m.type === 'done') done[i] = m;
    });
    w.on('error', rej);
  })));
  const genStart = nowMs();
  await readyAll;
  const genMs = nowMs() - genStart;
  const poolMiB = ready.reduce((s, r) => s + r.poolBytes, 0) / 2 ** 20;
  log(`clients ready in ${(genMs / 1000).toFixed(1)} s (pool ${poolMiB.toFixed(0)} MiB of ${transport === 'ingest' ? 'wire-form submissions' : 'JSON'})`);

  const pollMs = flags['poll-ms'];
  const pollers = cluster.nodes.map((n) => new Poller(n, pollMs));
  const procStart = new Map(cluster.nodes.map((n) => [n.name, procSample(n.pid)]));
  const rssPeak = new Map<string, number>();
  const series: Record<string, unknown>[] = [];

  const startAt = nowMs() + 300;
  const tW0 = startAt + warmupS * 1000, tW1 = tW0 + windowS * 1000;
  const endAt = tW1;
  for (const w of workers) w.postMessage({ type: 'go', startAt, windowAt: tW0, endAt } satisfies FromMain);

  // CPU of every process over exactly the measured window.
  const cpuAt: Record<'w0' | 'w1', Map<string, ProcSample | undefined>> = { w0: new Map(), w1: new Map() };
  let benchCpu0 = process.cpuUsage(), benchCpu1 = benchCpu0, mainCpu0 = process.threadCpuUsage(), mainCpu1 = mainCpu0;
  let machine0 = machineCpuTicks(), machine1 = machine0;
  const sampleCpu = (which: 'w0' | 'w1') => {
    for (const n of cluster.nodes) cpuAt[which].set(n.name, procSample(n.pid));
    if (cluster.relayPid !== undefined) cpuAt[which].set(RELAY_CPU_KEY, procSample(cluster.relayPid));
    if (which === 'w0') { benchCpu0 = process.cpuUsage(); mainCpu0 = process.threadCpuUsage(); machine0 = machineCpuTicks(); }
    else { benchCpu1 = process.cpuUsage(); mainCpu1 = process.threadCpuUsage(); machine1 = machineCpuTicks(); }
  };
  setTimeout(() => sampleCpu('w0'), tW0 - nowMs());
  setTimeout(() => sampleCpu('w1'), tW1 - nowMs());

  // Final latency is timed at the first observer (verifies certificates, votes nothing); without one, at the last validator.
  const finalIdx = cluster.nodes.indexOf(cluster.observers[0] ?? cluster.nodes[cluster.nodes.length - 1]);
  const finalNodeName = cluster.nodes[finalIdx].name;
  // A finer poll of that node alone: a 20 ms resolution would be as large as the 20 ms p50 target (~3 % of a core at 5 ms).
  const finalPoll = new Poller(cluster.nodes[finalIdx], Math.max(1, flags['final-poll-ms']));

  // Progress: one line per second.
  const primaryPoll = pollers[0];
  let lastT = nowMs(), lastEntries = primaryPoll.entries.last;
  const ticker = setInterval(() => {
    const t = nowMs();
    const e = primaryPoll.entries.last;
    const rate = (e - lastEntries) / ((t - lastT) / 1000);
    lastT = t; lastEntries = e;
    for (const n of cluster.nodes) {
      const s = procSample(n.pid);
      if (s) rssPeak.set(n.name, Math.max(rssPeak.get(n.name) ?? 0, s.rssKiB));
    }
    const errors: Record<string, number> = {};
    for (const p of progress) if (p) for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
    const inflight = progress.reduce((s, p) => s + (p?.inflight ?? 0), 0);
    const reps = pollers.slice(1).map((p) => p.entries.last);
    const phase = t < startAt ? 'start' : t < tW0 ? 'warmup' : t < tW1 ? 'measure' : 'drain';
    for (const p of pollers) p.measuring = phase === 'measure';
    series.push({ t: Math.round((t - startAt) / 100) / 10, phase, primaryTxPerS: Math.round(rate), primaryEntries: e, replicaEntries: reps, inflight, errors });
    const errText = Object.keys(errors).length ? Object.entries(errors).map(([k, v]) => `${k}:${v}`).join(' ') : '0';
    log(`[${((t - startAt) / 1000).toFixed(0).padStart(3)}s ${phase.padEnd(7)}] primary ${fmt.int(rate).padStart(9)} tx/s  entries ${fmt.int(e).padStart(11)} | others ${reps.map((r) => fmt.int(r)).join(' ')} | finalized height ${finalPoll.finalized.last} (${finalNodeName}) | in flight ${inflight} | errors ${errText}`);
  }, 1000);

  // Wait for the clients: they stop at endAt and then drain what is in flight.
  await new Promise<void>((res, rej) => {
    const check = setInterval(() => {
      if (died.length) { clearInterval(check); rej(new Error(died.join('; '))); }
      if (done.filter(Boolean).length === C) { clearInterval(check); res(); }
    }, 50);
  });
  const clientsDoneAt = nowMs();
  await Promise.all(workers.map((w) => w.terminate()));

  // Final count at the primary, then wait for every other node to store it, and (if finality runs at all) for the
  // last height to be final where final latency is timed.
  const endInfo = await new HttpPoster(cluster.primary.rpc, 1).call('sequencer_info') as { entries: number; height: number };
  const finalEntries = endInfo.entries;
  const settleDeadline = nowMs() + 60_000;
  while (nowMs() < settleDeadline && pollers.some((p) => p.entries.last < finalEntries)) await sleep(pollMs);
  const finalityDeadline = Math.min(settleDeadline, nowMs() + 20_000);
  while (nowMs() < finalityDeadline && finalPoll.finalized.last >= 0 && finalPoll.finalized.last < endInfo.height) await sleep(pollMs);
  await sleep(2 * pollMs);
  clearInterval(ticker);
  await Promise.all([...pollers, finalPoll].map((p) => p.stop()));
  const procEnd = new Map(cluster.nodes.map((n) => [n.name, procSample(n.pid)]));

  // ---- analysis ----------------------------------------------------------------------------------------
  const subs = { sent: 0, acked: 0, inWindow: 0 };
  let txsAckedInWindow = 0, subsAckedInWindow = 0, lastAck = 0, totalAckedTxs = 0;
  const primaryLat: number[] = [];
  const replicaLat: number[][] = pollers.slice(1).map(() => []);
  const replicaMissing = pollers.slice(1).map(() => 0);
  /** submit -> the moment the LAST replica stored it (max over replicas per submission). */
  const allReplicasLat: number[] = [];
  let allReplicasMissing = 0;
  /** submit -> the moment each node's finalizedHeight covered the submission's batch (poll resolution), ms. */
  const finalLat: number[][] = pollers.map(() => []);
  const finalMissing = pollers.map(() => 0);
  /** The same at the finality node, from its finer poll: the headline figure. */
  const headlineFinalLat: number[] = [];
  let headlineFinalMissing = 0;
  /** Each acked batch's end (the sequence number after its last entry), by height: what a final height covers. */
  const batchEndByHeight = new Map<number, number>();
  for (const d of done) {
    const n = d.submitT.length;
    subs.sent += n;
    for (let i = 0; i < n; i++) {
      const ack = d.ackT[i];
      if (ack > 0) {
        batchEndByHeight.set(d.height[i], d.batchEnd[i]);
        subs.acked++;
        totalAckedTxs += d.txs[i];
        if (ack > lastAck) lastAck = ack;
        if (ack >= tW0 && ack < tW1) { txsAckedInWindow += d.txs[i]; subsAckedInWindow++; }
      }
      const sub = d.submitT[i];
      if (sub < tW0 || sub >= tW1 || !(ack > 0)) continue;
      subs.inWindow++;
      primaryLat.push(ack - sub);
      let lastStored = -Infinity, missing = false;
      pollers.slice(1).forEach((p, r) => {
        const stored = p.entries.firstTimeReaching(d.endSeq[i]);
        if (stored === undefined) { replicaMissing[r]++; missing = true; }
        else { replicaLat[r].push(Math.max(0, stored - sub)); if (stored > lastStored) lastStored = stored; }
      });
      if (pollers.length > 1) { if (missing) allReplicasMissing++; else allReplicasLat.push(Math.max(0, lastStored - sub)); }
      pollers.forEach((p, k) => {
        const final = p.finalized.firstTimeReaching(d.height[i]);
        if (final === undefined) finalMissing[k]++;
        else finalLat[k].push(Math.max(0, final - sub));
      });
      const final = finalPoll.finalized.firstTimeReaching(d.height[i]);
      if (final === undefined) headlineFinalMissing++;
      else headlineFinalLat.push(Math.max(0, final - sub));
    }
  }
  const windowRate = (tl: Timeline) => (tl.valueAt(tW1) - tl.valueAt(tW0)) / windowS;
  // Transactions made final per second in the window, from a node's finalized heights and the batches' ends.
  const knownHeights = [...batchEndByHeight.keys()].sort((a, b) => a - b);
  const entriesFinalAt = (height: number): number => {
    let lo = 0, hi = knownHeights.length - 1, best = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (knownHeights[mid] <= height) { best = mid; lo = mid + 1; } else hi = mid - 1; }
    return best < 0 ? 0 : batchEndByHeight.get(knownHeights[best])!;
  };
  const finalRate = (tl: Timeline) => tl.last < 0 ? null : Math.round((entriesFinalAt(tl.valueAt(tW1)) - entriesFinalAt(tl.valueAt(tW0))) / windowS);
  const errors: Record<string, number> = {};
  for (const d of done) for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
  const cpuPct = (name: string) => {
    const a = cpuAt.w0.get(name), b = cpuAt.w1.get(name);
    return a && b ? Math.round(((b.cpuTicks - a.cpuTicks) / CLK_TCK / windowS) * 1000) / 10 : undefined;
  };
  const pct = (seconds: number) => Math.round((seconds / windowS) * 1000) / 10;
  const benchCpuPct = pct((benchCpu1.user + benchCpu1.system - benchCpu0.user - benchCpu0.system) / 1e6);
  const mainThreadCpuPct = pct((mainCpu1.user + mainCpu1.system - mainCpu0.user - mainCpu0.system) / 1e6);
  const clientThreadsCpuPct = done.map((d) => pct(d.cpuMsInWindow / 1000));
  const nodesCpuPct = cluster.nodes.reduce((s, n) => s + (cpuPct(n.name) ?? 0), 0);
  // Whole machine over the window, in % of one core; whatever is not ours is foreign load that skews the figures.
  const machineBusyPct = machine0 && machine1 ? pct((machine1.busy - machine0.busy) / CLK_TCK) : undefined;
  const machineCapacityPct = machine0 && machine1 ? pct((machine1.total - machine0.total) / CLK_TCK) : undefined;
  // --hosts --delay-ms: the relay forwards all p2p traffic on the same cores; neither a node's CPU nor foreign load.
  const relayCpuPct = cluster.relayPid === undefined ? undefined : cpuPct(RELAY_CPU_KEY);
  const foreignCpuPct = machineBusyPct === undefined ? undefined : Math.max(0, Math.round((machineBusyPct - nodesCpuPct - benchCpuPct - (relayCpuPct ?? 0)) * 10) / 10);

  const nodes = cluster.nodes.map((n, idx) => {
    const p = pollers[idx];
    const reached = p.entries.firstTimeReaching(finalEntries);
    return {
      name: n.name,
      mode: n.mode,
      pid: n.pid,
      txPerSecStored: Math.round(windowRate(p.entries)),
      /** Transactions this node saw become final per second in the window (null: nothing final). */
      txPerSecFinal: finalRate(p.finalized),
      /** submit -> final as this node saw it (finalizedHeight polls), submissions sent in the window. */
      latencyFinal: percentiles(finalLat[idx]),
      latencyFinalMissing: finalMissing[idx],
      finalEntries: p.entries.last,
      reachedFinalCount: reached !== undefined,
      /** ms from the last receipt at the primary until this node's entries covered the final count. */
      msToFinalAfterLastReceipt: reached !== undefined ? Math.round(reached - lastAck) : null,
      lagAtWindowEnd: pollers[0].entries.valueAt(tW1) - p.entries.valueAt(tW1),
      latency: idx === 0 ? percentiles(primaryLat) : percentiles(replicaLat[idx - 1]),
      latencyMissing: idx === 0 ? 0 : replicaMissing[idx - 1],
      cpuPercentInWindow: cpuPct(n.name),
      /** CPU time this node spent per transaction it stored in the window (µs of one core). */
      cpuMicrosPerTx: (() => {
        const c = cpuPct(n.name), r = windowRate(p.entries);
        return c !== undefined && r > 0 ? Math.round((c / 100 / r) * 1e6 * 10) / 10 : null;
      })(),
      rssKiB: { start: procStart.get(n.name)?.rssKiB, end: procEnd.get(n.name)?.rssKiB, peakSampled: rssPeak.get(n.name), peakHwm: procEnd.get(n.name)?.hwmKiB },
      polls: { count: p.polls, errors: p.errors, meanRttMs: p.polls ? Math.round((p.rttTotal / p.polls) * 100) / 100 : null },
      /** Worst p99 event-loop delay the node reported over one poll interval during the window (ms). */
      eventLoopDelayP99MaxMs: p.loopDelayMaxMs,
      /** Longest GC pause the node reported during the window (ms). */
      gcPauseMaxMs: p.gcPauseMaxMs,
    };
  });

  const signedLive = done.reduce((s, d) => s + d.signedLive, 0);
  const notes = [
    `All processes share this machine (${machine().cpus} cores): the primary, ${V - 1} other validators, ${R} replica(s) and the ${C} client threads compete for the same CPUs, so the figures are a lower bound for a deployment with one machine per node and clients elsewhere.`,
    transport === 'ingest'
      ? 'Submissions were built, signed (EIP-712, secp256k1) and encoded in their wire form before the timed phase: signing is the client\'s cost on its own machine. The clients still pay the WebSocket framing and receipt decoding (not checking) during the run.'
      : 'Submissions were built, signed (EIP-712, secp256k1) and serialised to JSON before the timed phase: signing is the client\'s cost on its own machine. The clients still pay JSON-RPC/HTTP and receipt parsing during the run.',
    `Latency to a replica is measured by polling its sequencer_info every ${pollMs} ms (mean RTT in nodes[].polls): it is an upper bound with a resolution of about one poll interval.`,
    `Final latency is submit -> the first poll of ${finalNodeName}'s sequencer_info whose finalizedHeight covers the receipt's height (${cluster.observers.length ? 'an observer: it forms certificates from the votes it receives, it votes nothing' : 'no observer ran: the last validator'}), polled every ${Math.max(1, flags['final-poll-ms'])} ms for that (the table's finality columns: every ${pollMs} ms, each node); final throughput is the transactions of the heights it saw become final in the window.`,
    flags.rate > 0 ? 'Paced mode: latency counts from each request\'s scheduled send time, so client-side queueing is included (no coordinated omission).' : `Open loop: each client keeps ${inflight} requests in flight; latency then mostly reflects queueing at that concurrency, use --rate for latency at a fixed load.`,
    ...(signedLive > 0 ? [`WARNING: the pre-signed pool (sized for ${fmt.int(poolRate())} tx/s) ran out and clients signed ${signedLive} submissions during the run, competing for CPU: rerun with --pool-rate ${Math.ceil(totalAckedTxs / (warmupS + windowS) * 1.5)}.`] : []),
    ...(flags['cpu-prof'] ? ['The nodes ran under --cpu-prof, which costs throughput.'] : []),
    ...(died.length ? [`WARNING: ${died.join('; ')}`] : []),
    ...(foreignCpuPct !== undefined && foreignCpuPct > 15 ? [`WARNING: processes outside the benchmark used ${foreignCpuPct}% of a core during the window: the machine was not quiet, expect noisy figures.`] : []),
  ];

  const result = {
    benchmark: 'sequencer throughput/latency',
    startedAt: new Date(startAt).toISOString(),
    config: {
      validators: V, replicas: R, payloadBytes: flags.payload, txsPerSubmission: K, clients: C, durationS: windowS, warmupS,
      rateTxPerS: flags.rate, mode: flags.rate > 0 ? 'paced' : 'open-loop', transport, rpcBatch: B, inflightPerClient: inflight, pollMs,
      maxPendingTxs: flags['max-pending-txs'] || 'node default',
      network: hosts ? { namespacePerNode: true, ...hosts } : 'loopback',
    },
    machine: machine(),
    notes,
    results: {
      primaryTxPerSecFromReceipts: Math.round(txsAckedInWindow / windowS),
      primarySubmissionsPerSec: Math.round(subsAckedInWindow / windowS),
      primaryTxPerSecStored: nodes[0].txPerSecStored,
      /** submit -> receipt at the client (ms), submissions sent in the window. */
      latencyReceipt: percentiles(primaryLat),
      /** submit -> stored by EVERY replica (the slowest one, per submission; poll resolution), ms. */
      latencyAllReplicas: percentiles(allReplicasLat),
      latencyAllReplicasMissing: allReplicasMissing,
      /** submit -> final as `latencyFinalNode` saw it (ms; poll resolution), beside latencyReceipt (soft). */
      latencyFinal: percentiles(headlineFinalLat),
      latencyFinalNode: finalNodeName,
      latencyFinalMissing: headlineFinalMissing,
      finalPollMs: Math.max(1, flags['final-poll-ms']),
      /** Transactions made final per second in the window, as `latencyFinalNode` saw it; null if nothing became final. */
      txPerSecFinal: finalRate(finalPoll.finalized),
      minReplicaTxPerSecStored: nodes.length > 1 ? Math.min(...nodes.slice(1).map((n) => n.txPerSecStored)) : null,
      totalTxsSequenced: finalEntries,
      totalTxsAcked: totalAckedTxs,
      submissions: { ...subs, failed: done.reduce((s, d) => s + d.failed, 0) },
      requests: done.reduce((s, d) => s + d.requests, 0),
      retriedSubmissions: done.reduce((s, d) => s + d.retries, 0),
      errorsByCode: errors,
      clientDrainMs: Math.round(clientsDoneAt - tW1),
      cpuPercentInWindow: {
        note: '% of one core, averaged over the measured window',
        nodes: Object.fromEntries(cluster.nodes.map((n) => [n.name, cpuPct(n.name)])),
        benchProcess: benchCpuPct, benchMainThread: mainThreadCpuPct, clientThreads: clientThreadsCpuPct,
        machineBusy: machineBusyPct, machineCapacity: machineCapacityPct, foreignProcesses: foreignCpuPct, relay: relayCpuPct,
      },
      lateSendsPaced: done.reduce((s, d) => s + d.lateSends, 0),
    },
    ...(idle ? { idle } : {}),
    clients: { poolSizedForTxPerSec: poolRate(), poolSubmissionsPerClient: perClient, poolMiB: Math.round(poolMiB), preSignSeconds: Math.round(genMs / 100) / 10, signedDuringRun: signedLive },
    nodes,
    nodeLogs: cluster.logSummary(),
    nodesDied: died,
    series,
  };

  // ---- report ------------------------------------------------------------------------------------------
  const lat = (p: Percentiles | null) => p ? [fmt.ms(p.p50), fmt.ms(p.p90), fmt.ms(p.p99), fmt.ms(p.max)] : ['-', '-', '-', '-'];
  const rows: string[][] = [['node', 'mode', 'tx/s stored', 'lat p50 ms', 'p90', 'p99', 'max', 'final +ms', 'finality p50 ms', 'p99', 'cpu %', 'cpu us/tx', 'loop delay ms', 'gc max ms', 'rss MiB start', 'end', 'peak']];
  for (const n of nodes) {
    rows.push([n.name, n.mode, fmt.int(n.txPerSecStored), ...lat(n.latency), n.msToFinalAfterLastReceipt === null ? 'never' : String(n.msToFinalAfterLastReceipt),
      ...lat(n.latencyFinal).filter((_, k) => k === 0 || k === 2),
      n.cpuPercentInWindow === undefined ? '-' : n.cpuPercentInWindow.toFixed(0), n.cpuMicrosPerTx === null ? '-' : String(n.cpuMicrosPerTx), String(n.eventLoopDelayP99MaxMs), String(n.gcPauseMaxMs), fmt.mib(n.rssKiB.start), fmt.mib(n.rssKiB.end), fmt.mib(n.rssKiB.peakHwm)]);
  }
  const r = result.results;
  process.stdout.write([
    '',
    `${result.config.mode}${flags.rate > 0 ? ` at ${fmt.int(flags.rate)} tx/s` : ''}: ${V} validator${V === 1 ? '' : 's'}, ${R} replica${R === 1 ? '' : 's'}, ${C} clients, ${K} tx x ${flags.payload} B per submission, ${transport === 'ingest' ? 'binary ingest (WebSocket)' : `JSON-RPC over HTTP, ${B} submission(s) per request`}, ${windowS} s measured after ${warmupS} s warm-up`,
    `network: ${hosts ? `a namespace per node, between nodes ${hosts.delayMs} ms delay${hosts.jitterMs ? ` + up to ${hosts.jitterMs} ms jitter` : ''}, ${hosts.lossPercent} % loss${hosts.delayMs || hosts.jitterMs ? ' (the delay is a relay process forwarding all p2p traffic on the same cores: its CPU is the "delay relay" figure)' : ''}` : 'loopback'}`,
    `sequenced at the primary (receipts): ${fmt.int(r.primaryTxPerSecFromReceipts)} tx/s, ${fmt.int(r.primarySubmissionsPerSec)} submissions/s`,
    `slowest replica stored:              ${r.minReplicaTxPerSecStored === null ? '-' : fmt.int(r.minReplicaTxPerSecStored)} tx/s`,
    `final at ${r.latencyFinalNode}:${' '.repeat(Math.max(1, 26 - r.latencyFinalNode.length))}${r.txPerSecFinal === null ? 'nothing became final' : `${fmt.int(r.txPerSecFinal)} tx/s${r.primaryTxPerSecFromReceipts > 0 ? ` (${Math.round((r.txPerSecFinal / r.primaryTxPerSecFromReceipts) * 100)} % of the receipts' rate)` : ''}`}`,
    `latency (ms)      p50     p90     p99     max     count   soft = submit -> receipt; final = submit -> final at ${r.latencyFinalNode}`,
    ...([['soft', r.latencyReceipt, 0], ['final', r.latencyFinal, r.latencyFinalMissing]] as const).map(([label, p, missing]) =>
      `  ${label.padEnd(8)} ${lat(p).map((x) => x.padStart(7)).join(' ')}   ${p ? fmt.int(p.count) : '-'}${missing ? ` (${fmt.int(missing)} never final)` : ''}`),
    `total sequenced ${fmt.int(r.totalTxsSequenced)} tx; submissions sent ${fmt.int(r.submissions.sent)}, acked ${fmt.int(r.submissions.acked)}, failed ${r.submissions.failed}; errors ${Object.keys(errors).length ? JSON.stringify(errors) : 'none'}`,
    `CPU in the window (% of one core): nodes ${nodesCpuPct.toFixed(0)}, clients+measurement ${benchCpuPct.toFixed(0)} (client threads ${clientThreadsCpuPct.map((c) => c.toFixed(0)).join('/')}, main ${mainThreadCpuPct.toFixed(0)}), ${relayCpuPct === undefined ? '' : `delay relay ${relayCpuPct.toFixed(0)}, `}other processes ${foreignCpuPct ?? '-'}; machine busy ${machineBusyPct ?? '-'} of ${machineCapacityPct ?? '-'}`,
    `latency: primary = submit -> receipt, replica = submit -> stored at that replica (poll ${pollMs} ms); stored by every replica p50/p99 ${fmt.ms(r.latencyAllReplicas?.p50)} / ${fmt.ms(r.latencyAllReplicas?.p99)} ms`,
    ...(idle ? [`idle (% of one core, ${idle.seconds} s, no load): ${Object.entries(idle.cpuPercentNoPolls).map(([k, v]) => `${k} ${v ?? '-'}`).join(', ')}; with ${pollMs} ms polls only: ${Object.entries(idle.cpuPercentPollsOnly).map(([k, v]) => `${k} ${v ?? '-'}`).join(', ')}`] : []),
    '',
    table(rows),
    '',
    ...notes.map((n) => `* ${n}`),
    '',
  ].join('\n'));
  return result;
}

/**
 * Idle CPU: `seconds` with no load and no polls (the node's own background work: timers, GossipSub heartbeats,
 * LevelDB), then 5 s with only the benchmark's sequencer_info polls (their cost, to subtract when comparing the
 * CPU per transaction at low rates). % of one core per node, from /proc/<pid>/stat.
 */
async function measureIdle(cluster: Cluster, seconds: number, pollMs: number) {
  const over = async (s: number) => {
    const a = new Map(cluster.nodes.map((n) => [n.name, procSample(n.pid)]));
    const t0 = nowMs();
    await sleep(s * 1000);
    const dt = (nowMs() - t0) / 1000;
    return Object.fromEntries(cluster.nodes.map((n) => {
      const x = a.get(n.name), y = procSample(n.pid);
      return [n.name, x && y ? Math.round(((y.cpuTicks - x.cpuTicks) / CLK_TCK / dt) * 1000) / 10 : undefined];
    }));
  };
  log(`idle: ${seconds} s with no load and no polls...`);
  await sleep(1000); // let start-up work settle
  const cpuPercentNoPolls = await over(seconds);
  const pollers = cluster.nodes.map((n) => new Poller(n, pollMs));
  const pollSeconds = 5;
  const cpuPercentPollsOnly = await over(pollSeconds);
  await Promise.all(pollers.map((p) => p.stop()));
  log(`idle % of a core: ${JSON.stringify(cpuPercentNoPolls)}; polls only: ${JSON.stringify(cpuPercentPollsOnly)}`);
  return {
    note: '% of one core per node: no load and no polls, then only the sequencer_info polls of the benchmark (every pollMs). /proc/<pid>/stat has 10 ms ticks: +-0.1% over 10 s.',
    seconds, pollMs, cpuPercentNoPolls, pollSeconds, cpuPercentPollsOnly,
  };
}
