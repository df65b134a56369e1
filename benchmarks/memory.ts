/**
 * Memory of a replica as its log grows: a primary and one replica (separate processes) take bulk submissions
 * until the log holds --entries entries; at each checkpoint the load pauses, the replica catches up, the
 * processes settle, and the RSS of both is recorded. The goal is a flat curve: nodes keep only the tip in memory.
 * With --sync-check, a fresh replica is then started and its RSS followed while it catches up the whole log
 * over the sync protocol (the other path by which batches reach a replica).
 *
 *   node benchmarks/memory.ts [--entries 1000000] [--payload 128] [--txs-per-submission 1000] [--sync-check] [--keep]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { domainSeparator } from '../src/core/eip712.ts';
import { SubmissionSigner } from '../src/client/submission-signer.ts';
import { submissionToJson } from '../src/wire/json.ts';
import { Cluster, procSample, type NodeProc } from './lib/cluster.ts';
import { CHAIN_ID, clientAddresses, clientKey, fmt, logIdFor, machine, nowMs, parseFlags, sleep, table, timestampName } from './lib/common.ts';
import { HttpPoster } from './lib/http.ts';

const flags = parseFlags(process.argv.slice(2), {
  entries: { kind: 'number', default: 1_000_000, help: 'grow the log to this many entries' },
  payload: { kind: 'number', default: 128, help: 'bytes per transaction' },
  'txs-per-submission': { kind: 'number', default: 1000, help: 'transactions per submission (protocol max 1024)' },
  inflight: { kind: 'number', default: 4, help: 'submissions in flight' },
  checkpoints: { kind: 'string', default: '100000,250000,500000,1000000', help: 'entry counts at which to measure (those above --entries are dropped; --entries is always one)' },
  'settle-ms': { kind: 'number', default: 1000, help: 'pause before each measurement, after the replica caught up' },
  'sync-check': { kind: 'boolean', help: 'afterwards, start a fresh replica and follow its RSS while it syncs the whole log' },
  'log-level': { kind: 'string', default: 'warn', help: "nodes' log level" },
  out: { kind: 'string', default: '', help: 'JSON results file (default benchmarks/results/memory-<timestamp>.json)' },
  keep: { kind: 'boolean', help: 'keep the data directory' },
}, 'usage: node benchmarks/memory.ts [flags]');

const K = Math.min(1024, Math.max(1, flags['txs-per-submission']));
const target = Math.floor(flags.entries);
const checkpoints = [...new Set([...flags.checkpoints.split(',').map((x) => Number(x.replaceAll('_', ''))).filter((x) => x > 0 && x < target), target])].sort((a, b) => a - b);
const outFile = resolve(flags.out || new URL(`./results/memory-${timestampName()}.json`, import.meta.url).pathname);
const log = (line: string) => process.stderr.write(line + '\n');

const logIdName = `sequencer-bench-memory-${Date.now()}`;
const cluster = await Cluster.start({ replicas: 1, allow: clientAddresses(1), keep: flags.keep, logLevel: flags['log-level'], logId: logIdName, prefix: 'seq-bench-mem-' });
let exitCode = 0;
try {
  await run(cluster);
} catch (e) {
  log(`memory benchmark failed: ${(e as Error).stack ?? e}`);
  exitCode = 1;
} finally {
  await cluster.stop();
  if (flags.keep) log(`data kept in ${cluster.dir}`);
}
process.exit(exitCode);

async function entriesOf(http: HttpPoster): Promise<number> {
  return ((await http.call('sequencer_info')) as { entries: number }).entries;
}

async function waitEntries(http: HttpPoster, n: number, timeoutMs: number, onTick?: (e: number) => void): Promise<number> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    const e = await entriesOf(http);
    onTick?.(e);
    if (e >= n) return nowMs();
    if (nowMs() > deadline) throw new Error(`timed out at ${e} entries waiting for ${n}`);
    await sleep(50);
  }
}

function mem(node: NodeProc) {
  const s = procSample(node.pid);
  return { rssKiB: s?.rssKiB, hwmKiB: s?.hwmKiB };
}

async function run(cluster: Cluster): Promise<void> {
  await cluster.waitConnected();
  const [primary, replica] = cluster.nodes;
  log(`primary pid ${primary.pid} ${primary.rpc}; replica pid ${replica.pid} ${replica.rpc}; growing to ${fmt.int(target)} entries (${K} tx x ${flags.payload} B per submission)`);
  const signer = new SubmissionSigner(clientKey(0), domainSeparator({ chainId: CHAIN_ID, logId: logIdFor(logIdName) }));
  const toPrimary = new HttpPoster(primary.rpc, flags.inflight);
  const primaryInfo = new HttpPoster(primary.rpc, 1);
  const replicaInfo = new HttpPoster(replica.rpc, 1);
  let nonce = BigInt(Date.now()) * 1000n;
  const errors: Record<string, number> = {};
  let issued = 0, acked = 0;

  const submission = (n: number): string => {
    const buf = randomBytes(n * flags.payload);
    const transactions = Array.from({ length: n }, (_, i) => new Uint8Array(buf.buffer, buf.byteOffset + i * flags.payload, flags.payload));
    return `{"jsonrpc":"2.0","id":1,"method":"sequencer_append","params":[${JSON.stringify(submissionToJson(signer.sign({ nonce: nonce++, transactions })))}]}`;
  };

  async function growTo(n: number): Promise<void> {
    const slot = async () => {
      while (issued < n) {
        const count = Math.min(K, n - issued);
        issued += count;
        const body = submission(count);
        for (let attempt = 0; ; attempt++) {
          let code: number | string;
          try {
            const res = await toPrimary.post(body) as { result?: { count: number }; error?: { code: number; message: string } };
            if (res.result) { acked += res.result.count; break; }
            code = res.error?.code ?? 'missing';
            if (code !== -32006 && code !== -32008) throw new Error(`append failed: ${JSON.stringify(res.error)}`);
          } catch (e) {
            if (!(e as { code?: unknown }).code || typeof (e as { code?: unknown }).code === 'number') throw e;
            code = 'transport';
          }
          errors[code] = (errors[code] ?? 0) + 1;
          if (attempt > 200) throw new Error(`giving up after ${attempt} retries (${code})`);
          await sleep(Math.min(200, 5 * (attempt + 1)));
        }
      }
    };
    await Promise.all(Array.from({ length: flags.inflight }, slot));
  }

  const baseline = { entries: 0, primary: mem(primary), replica: mem(replica) };
  log(`baseline: primary ${fmt.mib(baseline.primary.rssKiB)} MiB, replica ${fmt.mib(baseline.replica.rssKiB)} MiB`);
  const points: Record<string, unknown>[] = [];
  const t0 = nowMs();
  let prevT = t0, prevEntries = 0;
  for (const c of checkpoints) {
    const tick = setInterval(() => log(`  ... ${fmt.int(acked)} acked`), 5000);
    await growTo(c);
    clearInterval(tick);
    const grownAt = nowMs();
    const replicaAt = await waitEntries(replicaInfo, c, 120_000);
    await sleep(flags['settle-ms']);
    const p = { entries: c, primary: mem(primary), replica: mem(replica), primaryEntries: await entriesOf(primaryInfo),
      elapsedS: Math.round((grownAt - t0) / 100) / 10, txPerSec: Math.round((c - prevEntries) / ((grownAt - prevT) / 1000)),
      replicaLagMs: Math.round(replicaAt - grownAt) };
    points.push(p);
    log(`${fmt.int(c).padStart(10)} entries: replica RSS ${fmt.mib(p.replica.rssKiB)} MiB (peak ${fmt.mib(p.replica.hwmKiB)}), primary RSS ${fmt.mib(p.primary.rssKiB)} MiB (peak ${fmt.mib(p.primary.hwmKiB)}); ${fmt.int(p.txPerSec)} tx/s since the previous point, replica +${p.replicaLagMs} ms`);
    prevT = nowMs();
    prevEntries = c;
  }

  let sync: Record<string, unknown> | undefined;
  if (flags['sync-check']) {
    log(`sync check: starting a fresh replica to catch up ${fmt.int(target)} entries...`);
    const startAt = nowMs();
    const late = await cluster.spawnReplica('late-replica');
    const lateInfo = new HttpPoster(late.rpc, 1);
    let peakSampled = 0;
    const samples: { t: number; entries: number; rssKiB?: number }[] = [];
    let lastLog = 0;
    const doneAt = await waitEntries(lateInfo, target, 600_000, (e) => {
      const m = mem(late);
      peakSampled = Math.max(peakSampled, m.rssKiB ?? 0);
      const t = nowMs();
      if (t - lastLog > 1000) {
        lastLog = t;
        samples.push({ t: Math.round((t - startAt) / 100) / 10, entries: e, rssKiB: m.rssKiB });
        log(`  late replica: ${fmt.int(e)} entries, RSS ${fmt.mib(m.rssKiB)} MiB`);
      }
    });
    await sleep(flags['settle-ms']);
    const end = mem(late);
    sync = {
      entries: target, seconds: Math.round((doneAt - startAt) / 100) / 10, txPerSec: Math.round(target / ((doneAt - startAt) / 1000)),
      rssKiBEnd: end.rssKiB, rssKiBPeakSampled: peakSampled, hwmKiB: end.hwmKiB, samples,
    };
    log(`sync check: ${fmt.int(target)} entries in ${sync.seconds} s (${fmt.int(sync.txPerSec as number)} tx/s incl. start-up), RSS ${fmt.mib(end.rssKiB)} MiB, peak ${fmt.mib(end.hwmKiB)} MiB`);
    lateInfo.close();
  }
  toPrimary.close(); primaryInfo.close(); replicaInfo.close();

  type Point = { entries: number; replica: { rssKiB?: number; hwmKiB?: number }; primary: { rssKiB?: number; hwmKiB?: number }; txPerSec: number; replicaLagMs: number };
  const pts = points as Point[];
  const slope = (f: (p: Point) => number | undefined, a: Point | undefined, b: Point | undefined) => a && b && a !== b && f(a) !== undefined && f(b) !== undefined
    ? Math.round(((f(b)! - f(a)!) / 1024 / ((b.entries - a.entries) / 100_000)) * 10) / 10 : null;
  const first = pts[0], prev = pts[pts.length - 2], last = pts[pts.length - 1];
  const result = {
    benchmark: 'sequencer memory vs log size',
    startedAt: new Date(t0).toISOString(),
    config: { entries: target, payloadBytes: flags.payload, txsPerSubmission: K, inflight: flags.inflight, checkpoints, settleMs: flags['settle-ms'] },
    machine: machine(),
    notes: [
      'RSS = VmRSS of the process after the replica caught up and a settle pause; peak = VmHWM (kernel-tracked peak RSS since start).',
      'Growth per 100k entries is the RSS difference between two checkpoints divided by the entries between them / 100k, first->last and over the last interval: about 0 means flat memory. V8 heap sizing and LevelDB caches make the first checkpoints climb to a plateau, so the last interval is the telling figure.',
      'The load is bulk (large submissions, signed on the fly by this process): it measures memory, not throughput.',
    ],
    baseline,
    checkpoints: points,
    growthMiBPer100kEntries: {
      firstToLast: { replicaRss: slope((p) => p.replica.rssKiB, first, last), primaryRss: slope((p) => p.primary.rssKiB, first, last) },
      lastInterval: { replicaRss: slope((p) => p.replica.rssKiB, prev, last), primaryRss: slope((p) => p.primary.rssKiB, prev, last) },
    },
    syncCheck: sync ?? null,
    errorsByCode: errors,
    nodeLogs: cluster.logSummary(),
  };

  const rows = [['entries', 'replica RSS MiB', 'replica peak', 'primary RSS MiB', 'primary peak', 'tx/s', 'replica lag ms']];
  rows.push(['0', fmt.mib(baseline.replica.rssKiB), fmt.mib(baseline.replica.hwmKiB), fmt.mib(baseline.primary.rssKiB), fmt.mib(baseline.primary.hwmKiB), '-', '-']);
  for (const p of pts) rows.push([fmt.int(p.entries), fmt.mib(p.replica.rssKiB), fmt.mib(p.replica.hwmKiB), fmt.mib(p.primary.rssKiB), fmt.mib(p.primary.hwmKiB), fmt.int(p.txPerSec), String(p.replicaLagMs)]);
  const g = result.growthMiBPer100kEntries;
  process.stdout.write(`\n${table(rows)}\n\nRSS growth per 100k entries: replica ${g.firstToLast.replicaRss ?? '-'} MiB first->last checkpoint, ${g.lastInterval.replicaRss ?? '-'} MiB over the last interval; primary ${g.firstToLast.primaryRss ?? '-'} / ${g.lastInterval.primaryRss ?? '-'} MiB\n`);
  if (sync) process.stdout.write(`fresh replica syncing ${fmt.int(target)} entries: ${sync.seconds} s, RSS at the end ${fmt.mib(sync.rssKiBEnd as number)} MiB, peak ${fmt.mib(sync.hwmKiB as number)} MiB\n`);
  if (Object.keys(errors).length) process.stdout.write(`retried errors: ${JSON.stringify(errors)}\n`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  log(`results written to ${outFile}`);
}
