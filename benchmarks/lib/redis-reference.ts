/**
 * The reference replicated log: Redis Streams (Debian's redis-server) with one primary and N replicas, each its
 * own process on loopback, every one with an append-only file (`appendonly yes`, `appendfsync everysec`: Redis's
 * default AOF durability, an fsync per second, not per write; RDB snapshots off). Loaded the way run.ts loads the
 * sequencer, but with XADD of one `payloadBytes` entry per command (no signatures, no hash chain, no receipts):
 * C worker threads, each one connection speaking RESP over node:net with `pipeline` XADDs in flight.
 *
 * Measured like run.ts: entries/s stored by every replica (XLEN of each replica, polled every pollMs),
 * submit -> reply (the primary's ack; Redis replication is asynchronous, the ack says nothing about replicas),
 * submit -> present on every replica (the replica's last stream id, polled), CPU µs per entry per process
 * (/proc/<pid>/stat, children included: an AOF rewrite runs in a forked child).
 *
 *   node benchmarks/lib/redis-reference.ts [--replicas 2] [--payload 128] [--duration 10] [--warmup 3] [--clients 2] [--pipeline 64]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CLK_TCK, machineCpuTicks } from './cluster.ts';
import { fmt, nowMs, percentiles, sleep, Timeline, type Percentiles } from './common.ts';

const STREAM = 'seqbench';

// ---- RESP --------------------------------------------------------------------------------------------

type Resp = string | number | null | Resp[] | Error;

/** Parses one RESP value at `pos`; returns [value, next position] or undefined if incomplete. */
function parseResp(buf: Buffer, pos: number): [Resp, number] | undefined {
  if (pos >= buf.length) return undefined;
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = buf[pos];
  const line = buf.toString('latin1', pos + 1, eol);
  switch (type) {
    case 0x2b: return [line, eol + 2]; // +
    case 0x2d: return [new Error(line), eol + 2]; // -
    case 0x3a: return [Number(line), eol + 2]; // :
    case 0x24: { // $
      const n = Number(line);
      if (n < 0) return [null, eol + 2];
      if (buf.length < eol + 2 + n + 2) return undefined;
      return [buf.toString('latin1', eol + 2, eol + 2 + n), eol + 2 + n + 2];
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return [null, eol + 2];
      const arr: Resp[] = [];
      let p = eol + 2;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, p);
        if (!r) return undefined;
        arr.push(r[0]);
        p = r[1];
      }
      return [arr, p];
    }
    default: throw new Error(`RESP: unexpected byte ${type} at ${pos}`);
  }
}

function encode(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** A pipelining RESP connection: replies come back in command order. */
class RespConn {
  private readonly sock: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: ((r: Resp) => void)[] = [];
  onReply?: (r: Resp) => void;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      let pos = 0;
      for (;;) {
        const r = parseResp(this.buf, pos);
        if (!r) break;
        pos = r[1];
        const w = this.waiting.shift();
        if (w) w(r[0]); else this.onReply?.(r[0]);
      }
      this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    });
  }

  static open(port: number): Promise<RespConn> {
    return new Promise((res, rej) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => res(new RespConn(s)));
      s.once('error', rej);
    });
  }

  call(...args: string[]): Promise<Resp> {
    return new Promise((res) => { this.waiting.push(res); this.sock.write(encode(args)); });
  }

  /** Raw write, replies go to onReply (the load generator's path). */
  write(b: Buffer): boolean { return this.sock.write(b); }
  close(): void { this.sock.destroy(); }
}

/** Stream id "ms-seq" as one comparable number, relative to `baseMs` (seq < 1e6 per ms at these rates). */
const idNum = (id: string, baseMs: number): number => {
  const dash = id.indexOf('-');
  return (Number(id.slice(0, dash)) - baseMs) * 1e6 + Number(id.slice(dash + 1));
};

// ---- the load generator (worker thread) --------------------------------------------------------------

interface LoadConfig { port: number; payloadBytes: number; pipeline: number; /** entries/s of this client; 0 = open loop */ rate: number; startAt: number; windowAt: number; endAt: number; baseMs: number; sampleEvery: number }
interface LoadDone { sent: number; acked: number; ackedInWindow: number; errors: number; submitT: Float64Array; ackT: Float64Array; id: Float64Array; cpuMsInWindow: number }

async function loadWorker(cfg: LoadConfig): Promise<void> {
  const conn = await RespConn.open(cfg.port);
  // A few pre-encoded commands with different random payloads, reused round-robin.
  const cmds = Array.from({ length: 16 }, () => {
    const payload = Buffer.alloc(cfg.payloadBytes);
    for (let i = 0; i < payload.length; i++) payload[i] = 0x61 + Math.floor(Math.random() * 26);
    return encode(['XADD', STREAM, '*', 'd', payload]);
  });
  const sentAt: number[] = []; // FIFO of submit times
  let head = 0, sent = 0, acked = 0, ackedInWindow = 0, errors = 0, k = 0;
  const cap = 1 << 20;
  const submitT = new Float64Array(cap), ackT = new Float64Array(cap), id = new Float64Array(cap);
  let n = 0;
  let cpu0 = process.threadCpuUsage(), cpuMs = 0;
  let stopped = false;
  let resolveDone!: () => void;
  const allAcked = new Promise<void>((r) => { resolveDone = r; });
  const pump = () => {
    if (cfg.rate > 0) return;
    const batch: Buffer[] = [];
    while (!stopped && sent - acked < cfg.pipeline) {
      batch.push(cmds[k++ & 15]);
      sentAt.push(nowMs());
      sent++;
    }
    if (batch.length) conn.write(batch.length === 1 ? batch[0] : Buffer.concat(batch));
  };
  /** Paced: every ms, send what is due on a fixed schedule (latency counts from the scheduled time). */
  const paced = async () => {
    const interval = 1000 / cfg.rate;
    let t = cfg.startAt;
    while (!stopped) {
      const now = nowMs();
      const batch: Buffer[] = [];
      while (t <= now && t < cfg.endAt && sent - acked < 100_000) {
        batch.push(cmds[k++ & 15]);
        sentAt.push(t);
        sent++;
        t += interval;
      }
      if (batch.length) conn.write(batch.length === 1 ? batch[0] : Buffer.concat(batch));
      await sleep(1);
    }
  };
  conn.onReply = (r) => {
    const at = nowMs();
    const t = sentAt[head++];
    if (head > 65536) { sentAt.splice(0, head); head = 0; }
    acked++;
    if (r instanceof Error) errors++;
    else {
      if (at >= cfg.windowAt && at < cfg.endAt) ackedInWindow++;
      if (t >= cfg.windowAt && t < cfg.endAt && acked % cfg.sampleEvery === 0 && n < cap) {
        submitT[n] = t; ackT[n] = at; id[n] = idNum(r as string, cfg.baseMs); n++;
      }
    }
    if (stopped && acked === sent) resolveDone();
    else if (!stopped && sent - acked <= cfg.pipeline / 2) pump();
  };
  setTimeout(() => { cpu0 = process.threadCpuUsage(); }, cfg.windowAt - nowMs());
  setTimeout(() => { const c = process.threadCpuUsage(cpu0); cpuMs = (c.user + c.system) / 1000; stopped = true; if (acked === sent) resolveDone(); }, cfg.endAt - nowMs());
  await sleep(Math.max(0, cfg.startAt - nowMs()));
  if (cfg.rate > 0) void paced(); else pump();
  await allAcked;
  conn.close();
  const done: LoadDone = { sent, acked, ackedInWindow, errors, submitT: submitT.slice(0, n), ackT: ackT.slice(0, n), id: id.slice(0, n), cpuMsInWindow: cpuMs };
  parentPort!.postMessage(done);
}

if (!isMainThread && (workerData as { redisLoad?: LoadConfig })?.redisLoad) void loadWorker((workerData as { redisLoad: LoadConfig }).redisLoad);

// ---- processes ---------------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
    s.on('error', rej);
  });
}

/** utime+stime+cutime+cstime ticks (children: an AOF rewrite forks). */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch { return undefined; }
}

function rssKiB(pid: number): number | undefined {
  try { return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]); } catch { return undefined; }
}

export function redisVersion(): string | undefined {
  try { return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim(); } catch { return undefined; }
}

interface RedisProc { name: string; port: number; child: ChildProcess; conn?: RespConn }

async function startRedis(name: string, dir: string, port: number, primaryPort?: number): Promise<RedisProc> {
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `${name}.rdb`,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--appendfilename', `${name}.aof`, '--appenddirname', `${name}-aof`,
    '--save', '', '--daemonize', 'no', '--protected-mode', 'no', '--logfile', join(dir, `${name}.log`),
    ...(primaryPort ? ['--replicaof', '127.0.0.1', String(primaryPort)] : []),
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await RespConn.open(port);
      const pong = await conn.call('PING');
      if (pong === 'PONG') return { name, port, child, conn };
      conn.close();
    } catch { /* not yet */ }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server ${name} did not start (see ${join(dir, `${name}.log`)})`);
    await sleep(50);
  }
}

// ---- the run -----------------------------------------------------------------------------------------

export interface RedisReferenceOptions {
  replicas: number;
  payloadBytes: number;
  durationS: number;
  warmupS: number;
  pollMs: number;
  clients?: number;
  pipeline?: number;
  /** Paced load, entries/s of all clients together; 0 or absent = open loop. */
  rate?: number;
  log?: (line: string) => void;
}

export async function runRedisReference(o: RedisReferenceOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const version = redisVersion();
  if (!version) throw new Error('redis-server is not installed (Debian: apt-get install -y redis-server)');
  const C = o.clients ?? 2, P = o.pipeline ?? 64;
  const dir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'redis-ref-'));
  const procs: RedisProc[] = [];
  const stopAll = () => {
    for (const p of procs) { p.conn?.close(); try { p.child.kill('SIGKILL'); } catch { /* gone */ } }
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  };
  process.once('exit', stopAll);
  try {
    const p0 = await freePort();
    procs.push(await startRedis('primary', dir, p0));
    for (let i = 1; i <= o.replicas; i++) procs.push(await startRedis(`replica${i}`, dir, await freePort(), p0));
    // Wait until every replica is in sync with the primary.
    for (const r of procs.slice(1)) {
      const deadline = Date.now() + 15_000;
      while (!String(await r.conn!.call('INFO', 'replication')).includes('master_link_status:up')) {
        if (Date.now() > deadline) throw new Error(`${r.name} did not connect to the primary`);
        await sleep(50);
      }
    }
    const rate = o.rate ?? 0;
    log(`  redis: ${version.split(' ').slice(0, 3).join(' ')}; primary :${p0}, replicas ${procs.slice(1).map((p) => ':' + p.port).join(' ')}; AOF appendfsync everysec; ${C} client threads, ${rate > 0 ? `paced at ${fmt.int(rate)} entries/s` : `${P} pipelined XADDs each (open loop)`}`);

    // Pollers: XLEN and last id of every process.
    const baseMs = Date.now() - 1000;
    const counts = procs.map(() => new Timeline());
    const lastIds = procs.map(() => new Timeline());
    let polling = true;
    const pollLoops = procs.map(async (p, i) => {
      while (polling) {
        const sent = nowMs();
        const [len, last] = await Promise.all([p.conn!.call('XLEN', STREAM), p.conn!.call('XREVRANGE', STREAM, '+', '-', 'COUNT', '1')]);
        const at = nowMs();
        const n = typeof len === 'number' ? len : 0;
        if (n !== counts[i].last || counts[i].t.length === 0) counts[i].add(at, n);
        const id = Array.isArray(last) && Array.isArray(last[0]) ? idNum(last[0][0] as string, baseMs) : -1;
        if (id !== lastIds[i].last || lastIds[i].t.length === 0) lastIds[i].add(at, id);
        const wait = o.pollMs - (nowMs() - sent);
        if (wait > 0) await sleep(wait);
      }
    });

    const startAt = nowMs() + 300, tW0 = startAt + o.warmupS * 1000, tW1 = tW0 + o.durationS * 1000;
    const pids = procs.map((p) => p.child.pid!);
    const cpuAt: { w0?: (number | undefined)[]; w1?: (number | undefined)[] } = {};
    let m0 = machineCpuTicks(), m1 = m0;
    setTimeout(() => { cpuAt.w0 = pids.map(cpuTicks); m0 = machineCpuTicks(); }, tW0 - nowMs());
    setTimeout(() => { cpuAt.w1 = pids.map(cpuTicks); m1 = machineCpuTicks(); }, tW1 - nowMs());
    const benchCpu0 = process.cpuUsage();
    const ticker = setInterval(() => log(`  redis [${((nowMs() - startAt) / 1000).toFixed(0).padStart(3)}s] entries ${counts.map((c) => fmt.int(c.last)).join(' / ')}`), 1000);
    const results = await Promise.all(Array.from({ length: C }, () => new Promise<LoadDone>((res, rej) => {
      const cfg: LoadConfig = { port: p0, payloadBytes: o.payloadBytes, pipeline: P, rate: rate / C, startAt, windowAt: tW0, endAt: tW1, baseMs, sampleEvery: 4 };
      const w = new Worker(new URL(import.meta.url), { workerData: { redisLoad: cfg } });
      w.once('message', (m: LoadDone) => { res(m); void w.terminate(); });
      w.once('error', rej);
    })));
    // Let the replicas catch up with the final count.
    const finalLen = await procs[0].conn!.call('XLEN', STREAM) as number;
    const settle = Date.now() + 30_000;
    while (Date.now() < settle && counts.some((c) => c.last < finalLen)) await sleep(o.pollMs);
    await sleep(2 * o.pollMs);
    clearInterval(ticker);
    polling = false;
    await Promise.all(pollLoops);
    const benchCpu = process.cpuUsage(benchCpu0);
    const rss = pids.map(rssKiB);

    // Analysis.
    const windowS = o.durationS;
    const stored = counts.map((c) => (c.valueAt(tW1) - c.valueAt(tW0)) / windowS);
    const cpuPct = pids.map((_, i) => {
      const a = cpuAt.w0?.[i], b = cpuAt.w1?.[i];
      return a !== undefined && b !== undefined ? ((b - a) / CLK_TCK / windowS) * 100 : undefined;
    });
    const ackLat: number[] = [], allLat: number[] = [];
    let missing = 0;
    for (const d of results) {
      for (let i = 0; i < d.submitT.length; i++) {
        ackLat.push(d.ackT[i] - d.submitT[i]);
        let last = -Infinity, miss = false;
        for (const tl of lastIds.slice(1)) {
          const t = tl.firstTimeReaching(d.id[i]);
          if (t === undefined) miss = true; else last = Math.max(last, t);
        }
        if (miss) missing++; else allLat.push(Math.max(0, last - d.submitT[i]));
      }
    }
    const r1 = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 10) / 10);
    const nodes = procs.map((p, i) => ({
      name: p.name, port: p.port, pid: pids[i], entriesPerSecStored: Math.round(stored[i]), cpuPercentInWindow: r1(cpuPct[i]),
      cpuMicrosPerEntry: cpuPct[i] !== undefined && stored[i] > 0 ? r1((cpuPct[i]! / 100 / stored[i]) * 1e6) : null, rssKiBEnd: rss[i],
    }));
    const machineBusy = m0 && m1 ? ((m1.busy - m0.busy) / CLK_TCK / windowS) * 100 : undefined;
    const out = {
      system: 'Redis Streams (XADD), asynchronous replication',
      version,
      config: {
        replicas: o.replicas, payloadBytes: o.payloadBytes, durationS: windowS, warmupS: o.warmupS, clients: C, pipelinePerClient: rate > 0 ? null : P, pollMs: o.pollMs,
        mode: rate > 0 ? 'paced' : 'open-loop', rateEntriesPerS: rate,
        durability: 'appendonly yes, appendfsync everysec (Redis default AOF policy: fsync once a second, in the background) on every process; RDB snapshots off; auto AOF rewrite at Redis defaults',
        entry: `one XADD per entry: field "d" = ${o.payloadBytes} bytes; no signatures, hash chain or receipts`,
      },
      results: {
        entriesPerSecAckedByPrimary: Math.round(results.reduce((s, d) => s + d.ackedInWindow, 0) / windowS),
        primaryEntriesPerSecStored: Math.round(stored[0]),
        minReplicaEntriesPerSecStored: Math.round(Math.min(...stored.slice(1))),
        totalEntries: finalLen,
        errors: results.reduce((s, d) => s + d.errors, 0),
        latencyAck: percentiles(ackLat),
        latencyAllReplicas: percentiles(allLat),
        latencyAllReplicasMissing: missing,
        latencyNote: `sampled every 4th entry sent in the window${rate > 0 ? ', from its scheduled send time' : ''}; ack = XADD reply from the primary; all replicas = first poll (${o.pollMs} ms) at which every replica's last stream id covered the entry`,
        cpuPercentInWindow: { nodes: Object.fromEntries(nodes.map((n) => [n.name, n.cpuPercentInWindow])), loadGenerator: r1((benchCpu.user + benchCpu.system) / 1e4 / (windowS + o.warmupS)), machineBusy: r1(machineBusy) },
      },
      nodes,
    };
    return out;
  } finally {
    for (const p of procs) { p.conn?.close(); p.child.kill('SIGTERM'); }
    await Promise.all(procs.map((p) => p.child.exitCode !== null ? undefined : new Promise<void>((res) => {
      const t = setTimeout(() => { try { p.child.kill('SIGKILL'); } catch { /* gone */ } res(); }, 5000);
      p.child.once('exit', () => { clearTimeout(t); res(); });
    })));
    process.removeListener('exit', stopAll);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- side by side ------------------------------------------------------------------------------------

const lat = (p: Percentiles | null | undefined) => (p ? `${fmt.ms(p.p50)} / ${fmt.ms(p.p99)}` : '-');

/** One row per system: our run.ts result and the Redis reference. */
export function formatComparison(ours: Record<string, any>, refs: readonly Record<string, any>[]): string {
  const r = ours.results, nodes = ours.nodes as { name: string; cpuMicrosPerTx: number | null }[];
  const ref = refs[0];
  const cpu = (xs: (number | null)[]) => xs.map((x) => (x === null || x === undefined ? '-' : String(x))).join(' / ');
  const mode = ours.config.mode === 'paced' ? `paced ${fmt.int(ours.config.rateTxPerS)} tx/s` : `open loop, ${ours.config.clients}x${ours.config.inflightPerClient} requests of ${ours.config.txsPerSubmission} tx`;
  const rows = [
    ['system', 'entries/s stored by every replica', 'ack p50 / p99 ms', 'all replicas p50 / p99 ms', 'cpu us/entry primary / replicas', 'load'],
    [`sequencer ${ours.config.replicas}r`, fmt.int(r.minReplicaTxPerSecStored ?? 0), lat(r.latencyReceipt), lat(r.latencyAllReplicas), cpu(nodes.map((n) => n.cpuMicrosPerTx)), mode],
    ...refs.map((x) => [`redis ${String(x.version).match(/v=(\S+)/)?.[1] ?? ''} ${x.config.replicas}r`, fmt.int(x.results.minReplicaEntriesPerSecStored),
      lat(x.results.latencyAck), lat(x.results.latencyAllReplicas), cpu((x.nodes as { cpuMicrosPerEntry: number | null }[]).map((n) => n.cpuMicrosPerEntry)),
      x.config.mode === 'paced' ? `paced ${fmt.int(x.config.rateEntriesPerS)} XADD/s (${x.config.clients} connections)` : `open loop, ${x.config.clients}x${x.config.pipelinePerClient} pipelined XADD`]),
  ];
  const w = rows[0].map((_, c) => Math.max(...rows.map((x) => x[c].length)));
  return [
    `side by side (${ref.version}; AOF appendfsync everysec; ours: a synced LevelDB write per batch, Redis: fsync once a second):`,
    ...rows.map((x) => x.map((cell, c) => (c === 0 || c === 5 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join('  ')),
  ].join('\n');
}

// ---- standalone ------------------------------------------------------------------------------------------

if (isMainThread && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parseFlags } = await import('./common.ts');
  const f = parseFlags(process.argv.slice(2), {
    replicas: { kind: 'number', default: 2, help: 'replica processes' },
    payload: { kind: 'number', default: 128, help: 'bytes per entry' },
    duration: { kind: 'number', default: 10, help: 'measured seconds' },
    warmup: { kind: 'number', default: 3, help: 'seconds of load before measuring' },
    clients: { kind: 'number', default: 2, help: 'load-generator threads (one connection each)' },
    pipeline: { kind: 'number', default: 64, help: 'XADDs in flight per connection (open loop)' },
    rate: { kind: 'number', default: 0, help: 'paced load in entries/s, all clients together (0 = open loop)' },
    'poll-ms': { kind: 'number', default: 20, help: 'replica poll interval' },
  }, 'usage: node benchmarks/lib/redis-reference.ts [flags]');
  try {
    const ref = await runRedisReference({ replicas: f.replicas, payloadBytes: f.payload, durationS: f.duration, warmupS: f.warmup, clients: f.clients, pipeline: f.pipeline, rate: f.rate, pollMs: f['poll-ms'] });
    process.stdout.write(JSON.stringify(ref, null, 2) + '\n');
    process.exit(0);
  } catch (e) {
    process.stderr.write(`redis reference skipped: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
