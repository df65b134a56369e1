/**
 * Latency and CPU versus throughput: one open-loop run of benchmarks/run.ts finds the maximum rate stored by
 * every replica (and measures the idle nodes first), then paced runs at fractions of it. Each point is its own
 * run.ts process with a fresh cluster. Writes the JSON and an SVG plot to benchmarks/results/.
 *
 *   node benchmarks/curve.ts [--fractions 0.1,0.25,0.5,0.75,0.9] [--duration 10] [--warmup 3] [--idle 10] [...]
 *   node benchmarks/run.ts --curve [same flags]           (npm run bench -- --curve)
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, machine, parseFlags, table, timestampName, type Percentiles } from './lib/common.ts';
import { svgPanels, type Series } from './lib/plot.ts';

const RUN = fileURLToPath(new URL('./run.ts', import.meta.url));
const log = (line: string) => process.stderr.write(line + '\n');

const SPEC = {
  fractions: { kind: 'string', default: '0.1,0.25,0.5,0.75,0.9', help: 'paced points, as fractions of the measured maximum' },
  duration: { kind: 'number', default: 10, help: 'measured seconds per point' },
  warmup: { kind: 'number', default: 3, help: 'warm-up seconds per point' },
  'max-duration': { kind: 'number', default: 0, help: 'measured seconds of the open-loop maximum run (0 = --duration)' },
  idle: { kind: 'number', default: 10, help: 'seconds of idle-CPU measurement before the maximum run (0 = skip)' },
  'max-rate': { kind: 'number', default: 0, help: 'skip the open-loop run and use this maximum (tx/s)' },
  validators: { kind: 'number', default: 1, help: 'validator processes, the primary included (run.ts --validators)' },
  replicas: { kind: 'number', default: 2, help: 'replica processes (observers)' },
  clients: { kind: 'number', default: 4, help: 'client threads' },
  payload: { kind: 'number', default: 128, help: 'bytes per transaction' },
  'txs-per-submission': { kind: 'number', default: 100, help: 'transactions per submission' },
  'rpc-batch': { kind: 'number', default: 1, help: 'submissions per HTTP request' },
  inflight: { kind: 'number', default: 0, help: 'open-loop requests (http) or submissions (ingest) in flight per client; 0 = run.ts chooses' },
  'poll-ms': { kind: 'number', default: 20, help: 'sequencer_info poll interval (replica latency resolution)' },
  out: { kind: 'string', default: '', help: 'JSON file (default benchmarks/results/curve-<timestamp>.json; the SVG goes next to it)' },
  'svg-copy': { kind: 'string', default: '', help: 'also copy the SVG here (e.g. docs/bench-curve.svg)' },
  replot: { kind: 'string', default: '', help: 'no runs: redraw the SVG, table and targets of an earlier curve JSON (written back to that file)' },
} as const;

interface Point {
  label: string;
  fraction: number | null;
  mode: 'open-loop' | 'paced';
  offeredTxPerS: number | null;
  file: string;
  ok: boolean;
  error?: string;
  storedByAllTxPerS?: number;
  receiptTxPerS?: number;
  receipt?: Percentiles | null;
  allReplicas?: Percentiles | null;
  allReplicasMissing?: number;
  /** submit -> final at an observer (run.ts latencyFinal), and the rate made final. */
  final?: Percentiles | null;
  finalTxPerS?: number | null;
  perReplicaP99?: (number | null)[];
  cpuPercent?: Record<string, number | undefined>;
  cpuMicrosPerTx?: Record<string, number | null>;
  /** CPU per tx after subtracting each node's idle+poll CPU (the benchmark's polls cost the same at any rate). */
  cpuMicrosPerTxNetOfIdlePolls?: Record<string, number | null>;
  foreignCpuPercent?: number;
  errors?: Record<string, number>;
  lateSends?: number;
  signedDuringRun?: number;
}

function runPoint(args: string[]): Promise<number> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [RUN, ...args], { stdio: 'inherit' });
    child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0)));
  });
}

export async function curveMain(argv: string[]): Promise<number> {
  let f = parseFlags(argv, SPEC, 'usage: node benchmarks/curve.ts [flags]   (or node benchmarks/run.ts --curve [flags])');
  const stamp = timestampName();
  const old = f.replot ? JSON.parse(readFileSync(f.replot, 'utf8')) as Record<string, any> : undefined;
  if (old) f = { ...old.config, fractions: (old.config.fractions as number[]).join(','), 'svg-copy': f['svg-copy'], replot: f.replot };
  const outFile = resolve(old ? f.replot : f.out || fileURLToPath(new URL(`./results/curve-${stamp}.json`, import.meta.url)));
  const base = outFile.replace(/\.json$/, '');
  const svgFile = base + '.svg';
  mkdirSync(dirname(outFile), { recursive: true });
  const fractions = f.fractions.split(',').map(Number).filter((x) => x > 0 && x <= 1.5).sort((a, b) => a - b);
  const common = [
    '--validators', String(f.validators ?? 1), '--replicas', String(f.replicas), '--clients', String(f.clients), '--payload', String(f.payload),
    '--txs-per-submission', String(f['txs-per-submission']), '--rpc-batch', String(f['rpc-batch']), '--poll-ms', String(f['poll-ms']),
    '--warmup', String(f.warmup),
  ];
  const points: Point[] = [];
  let idle: Record<string, any> | undefined;
  const started: string = old?.startedAt ?? new Date().toISOString();
  const t0 = old ? Date.now() - old.wallSeconds * 1000 : Date.now();
  if (old) {
    points.push(...old.points as Point[]);
    idle = old.idle ?? undefined;
    return finishWith(old.maxTxPerSecStoredByAll ?? 0);
  }

  const measure = async (label: string, fraction: number | null, rate: number, extra: string[]): Promise<Point> => {
    const file = `${base}-${label.replace(/[^a-z0-9.]+/gi, '_')}.json`;
    log(`\n=== curve point ${label}${rate ? ` (${fmt.int(rate)} tx/s offered)` : ''} ===`);
    const args = [...common, '--duration', String(fraction === null && f['max-duration'] ? f['max-duration'] : f.duration), '--out', file, ...extra,
      ...(rate > 0 ? ['--rate', String(Math.round(rate))] : ['--inflight', String(f.inflight)])];
    const code = await runPoint(args);
    const p: Point = { label, fraction, mode: rate > 0 ? 'paced' : 'open-loop', offeredTxPerS: rate > 0 ? Math.round(rate) : null, file, ok: false };
    let j: Record<string, any>;
    try {
      j = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      p.error = `run.ts exited ${code} without results`;
      return p;
    }
    if (j.idle) idle = j.idle;
    const r = j.results;
    const nodes = j.nodes as Record<string, any>[];
    const storedAll = r.minReplicaTxPerSecStored ?? r.primaryTxPerSecStored;
    const polls = idle?.cpuPercentPollsOnly as Record<string, number | undefined> | undefined;
    Object.assign(p, {
      ok: code === 0,
      ...(code !== 0 ? { error: `run.ts exited ${code}` } : {}),
      storedByAllTxPerS: storedAll,
      receiptTxPerS: r.primaryTxPerSecFromReceipts,
      receipt: r.latencyReceipt,
      allReplicas: r.latencyAllReplicas,
      allReplicasMissing: r.latencyAllReplicasMissing,
      final: r.latencyFinal ?? null,
      finalTxPerS: r.txPerSecFinal ?? null,
      perReplicaP99: nodes.slice(1).map((n) => n.latency?.p99 ?? null),
      cpuPercent: Object.fromEntries(nodes.map((n) => [n.name, n.cpuPercentInWindow])),
      cpuMicrosPerTx: Object.fromEntries(nodes.map((n) => [n.name, n.cpuMicrosPerTx])),
      cpuMicrosPerTxNetOfIdlePolls: Object.fromEntries(nodes.map((n) => {
        const base = polls?.[n.name];
        return [n.name, base !== undefined && n.cpuPercentInWindow !== undefined && n.txPerSecStored > 0
          ? Math.round((Math.max(0, n.cpuPercentInWindow - base) / 100 / n.txPerSecStored) * 1e7) / 10 : null];
      })),
      foreignCpuPercent: r.cpuPercentInWindow?.foreignProcesses,
      errors: r.errorsByCode,
      lateSends: r.lateSendsPaced,
      signedDuringRun: j.clients?.signedDuringRun,
    } satisfies Partial<Point>);
    return p;
  };

  // 1. The maximum (open loop), with the idle measurement first.
  let max = f['max-rate'];
  const finish = () => finishWith(max);
  if (!max) {
    const p = await measure('max', null, 0, f.idle > 0 ? ['--idle', String(f.idle)] : []);
    points.push(p);
    if (!p.storedByAllTxPerS) { log(`curve: the open-loop run failed (${p.error ?? 'no throughput'})`); return finish(); }
    max = p.storedByAllTxPerS;
    log(`\ncurve: maximum stored by every replica ${fmt.int(max)} tx/s; paced points at ${fractions.map((x) => `${x * 100}%`).join(', ')}`);
  }
  // 2. Paced points.
  for (const fr of fractions) points.push(await measure(`${Math.round(fr * 100)}pct`, fr, fr * max, []));
  return finish();

  function finishWith(max: number): number {
    const ok = points.filter((p) => p.storedByAllTxPerS);
    const paced = ok.filter((p) => p.mode === 'paced').sort((a, b) => a.storedByAllTxPerS! - b.storedByAllTxPerS!);
    const open = ok.filter((p) => p.mode === 'open-loop');
    const nodeNames = Object.keys(ok[0]?.cpuMicrosPerTx ?? {});
    const warnings: string[] = [];
    for (const p of ok) if ((p.foreignCpuPercent ?? 0) > 15) warnings.push(`WARNING: point ${p.label}: processes outside the benchmark used ${p.foreignCpuPercent}% of a core during its window${p.mode === 'open-loop' ? ' — the maximum, and so every paced rate derived from it, is understated; rerun when the machine is quiet or pass --max-rate' : ''}.`);

    // ---- targets (from the performance issue) ----
    const at = (fr: number) => paced.find((p) => p.fraction === fr);
    const checks: { target: string; measured: string; pass: boolean | null }[] = [];
    for (const fr of [0.1, 0.25, 0.5]) {
      const p = at(fr);
      checks.push({ target: `${fr * 100}% of max: p99 submit->receipt <= 20 ms`, measured: p?.receipt ? `${fmt.ms(p.receipt.p99)} ms` : 'not measured', pass: p?.receipt ? p.receipt.p99 <= 20 : null });
      checks.push({ target: `${fr * 100}% of max: p99 submit->stored by every replica <= 50 ms`, measured: p?.allReplicas ? `${fmt.ms(p.allReplicas.p99)} ms` : 'not measured', pass: p?.allReplicas ? p.allReplicas.p99 <= 50 : null });
    }
    // Issue 9's targets (meant for --validators 4): submit -> final at half the maximum.
    const half = at(0.5);
    checks.push({ target: `50% of max: p50 / p99 submit->final <= 20 / 250 ms (${f.validators ?? 1} validator${(f.validators ?? 1) === 1 ? '' : 's'})`, measured: half?.final ? `${fmt.ms(half.final.p50)} / ${fmt.ms(half.final.p99)} ms` : 'not measured', pass: half?.final ? half.final.p50 <= 20 && half.final.p99 <= 250 : null });
    const p25 = at(0.25), pmax = open[0];
    for (const n of nodeNames) {
      const a = p25?.cpuMicrosPerTx?.[n], b = pmax?.cpuMicrosPerTx?.[n];
      const an = p25?.cpuMicrosPerTxNetOfIdlePolls?.[n], bn = pmax?.cpuMicrosPerTxNetOfIdlePolls?.[n];
      checks.push({
        target: `${n}: CPU/tx at 25% <= 1.5x CPU/tx at max`,
        measured: a && b ? `${a} vs ${b} us (x${(a / b).toFixed(2)})${an && bn ? `; net of idle+polls ${an} vs ${bn} (x${(an / bn).toFixed(2)})` : ''}` : 'not measured',
        pass: a && b ? a / b <= 1.5 : null,
      });
    }
    for (const n of nodeNames) {
      const v = idle?.cpuPercentNoPolls?.[n] as number | undefined;
      checks.push({ target: `${n}: idle < 1% of a core`, measured: v === undefined ? 'not measured' : `${v}%`, pass: v === undefined ? null : v < 1 });
    }
    if (pmax) checks.push({ target: 'bulk stored by every replica >= 150k tx/s (open loop, defaults)', measured: `${fmt.int(pmax.storedByAllTxPerS!)} tx/s`, pass: pmax.storedByAllTxPerS! >= 150_000 });

    // ---- plot ----
    const xy = (ps: Point[], y: (p: Point) => number | null | undefined) => ps.map((p) => [p.storedByAllTxPerS!, y(p) ?? NaN] as const);
    const latSeries: Series[] = [
      { name: 'submit->receipt p50', color: '#1f77b4', dash: '5 3', points: xy(paced, (p) => p.receipt?.p50), extra: xy(open, (p) => p.receipt?.p50) },
      { name: 'submit->receipt p99', color: '#1f77b4', points: xy(paced, (p) => p.receipt?.p99), extra: xy(open, (p) => p.receipt?.p99) },
      { name: 'submit->stored by every replica p50', color: '#d62728', dash: '5 3', points: xy(paced, (p) => p.allReplicas?.p50), extra: xy(open, (p) => p.allReplicas?.p50) },
      { name: 'submit->stored by every replica p99', color: '#d62728', points: xy(paced, (p) => p.allReplicas?.p99), extra: xy(open, (p) => p.allReplicas?.p99) },
      ...(ok.some((p) => p.final) ? [
        { name: 'submit->final (observer) p50', color: '#2ca02c', dash: '5 3', points: xy(paced, (p) => p.final?.p50), extra: xy(open, (p) => p.final?.p50) },
        { name: 'submit->final (observer) p99', color: '#2ca02c', points: xy(paced, (p) => p.final?.p99), extra: xy(open, (p) => p.final?.p99) },
      ] : []),
    ];
    const palette = ['#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
    const cpuSeries: Series[] = nodeNames.flatMap((n, i) => [
      { name: `${n}`, color: palette[i % palette.length], points: xy(paced, (p) => p.cpuMicrosPerTx?.[n]), extra: xy(open, (p) => p.cpuMicrosPerTx?.[n]) },
      ...(idle ? [{ name: `${n}, net of idle+poll CPU`, color: palette[i % palette.length], dash: '3 3', points: xy(paced, (p) => p.cpuMicrosPerTxNetOfIdlePolls?.[n]), extra: xy(open, (p) => p.cpuMicrosPerTxNetOfIdlePolls?.[n]) }] : []),
    ]);
    const m = machine();
    const svg = svgPanels([
      {
        title: `Latency vs throughput: ${f.validators ?? 1} validator(s) + ${f.replicas} replicas, ${f['txs-per-submission']} tx x ${f.payload} B per submission`,
        xLabel: 'tx/s stored by every replica (measured)', yLabel: 'latency, ms (log scale)', yLog: true, series: latSeries,
        hlines: [{ y: 20, label: 'target p99 receipt 20 ms', color: '#1f77b4' }, { y: 50, label: 'target p99 every replica 50 ms', color: '#d62728' }],
      },
      { title: 'CPU per transaction per node', xLabel: 'tx/s stored by every replica (measured)', yLabel: 'CPU µs per tx (one core)', series: cpuSeries },
    ], {
      caption: [
        `Filled points: paced runs (${fractions.map((x) => `${x * 100}%`).join(', ')} of the maximum); hollow: the open-loop maximum (latency there is queueing at ${f.clients}x${f.inflight} requests in flight).`,
        `${started.slice(0, 16)} UTC, ${m.cpus} cores (${m.cpuModel}), ${f.duration} s per point, replica latency polled every ${f['poll-ms']} ms (an upper bound, resolution ~ one poll); every process on one machine.`,
        `CPU of processes outside the benchmark during each window (% of one core): ${ok.map((p) => `${p.label} ${p.foreignCpuPercent ?? '-'}`).join(', ')}.`,
      ],
    });
    writeFileSync(svgFile, svg);
    if (f['svg-copy']) copyFileSync(svgFile, resolve(f['svg-copy']));

    const result = {
      benchmark: 'sequencer latency/CPU vs throughput curve',
      startedAt: started,
      wallSeconds: Math.round((Date.now() - t0) / 1000),
      config: { ...f, fractions },
      machine: m,
      maxTxPerSecStoredByAll: max || null,
      idle: idle ?? null,
      points,
      targets: checks,
      warnings,
      svg: svgFile,
    };
    writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

    // ---- report ----
    const rows = [['point', 'offered tx/s', 'stored by all tx/s', 'receipt p50', 'p99', 'all replicas p50', 'p99', 'final p50', 'p99', ...nodeNames.map((n) => `${n} us/tx`), 'other procs %', 'errors']];
    for (const p of points) {
      rows.push([
        p.label + (p.ok ? '' : ' (!)'), p.offeredTxPerS === null ? 'open loop' : fmt.int(p.offeredTxPerS), p.storedByAllTxPerS === undefined ? '-' : fmt.int(p.storedByAllTxPerS),
        fmt.ms(p.receipt?.p50), fmt.ms(p.receipt?.p99), fmt.ms(p.allReplicas?.p50), fmt.ms(p.allReplicas?.p99), fmt.ms(p.final?.p50), fmt.ms(p.final?.p99),
        ...nodeNames.map((n) => String(p.cpuMicrosPerTx?.[n] ?? '-') + (p.cpuMicrosPerTxNetOfIdlePolls?.[n] != null ? ` (${p.cpuMicrosPerTxNetOfIdlePolls[n]})` : '')),
        p.foreignCpuPercent === undefined ? '-' : String(p.foreignCpuPercent),
        p.errors && Object.keys(p.errors).length ? Object.entries(p.errors).map(([k, v]) => `${k}:${v}`).join(' ') : '0',
      ]);
    }
    process.stdout.write([
      '', `curve: ${f.validators ?? 1} validators, ${f.replicas} replicas, ${f.clients} clients, ${f['txs-per-submission']} tx x ${f.payload} B per submission, ${f.duration} s per point (latency ms; us/tx = CPU µs per tx stored, in brackets net of idle+poll CPU)`, '',
      table(rows), '',
      ...(idle ? [`idle, % of one core (${idle.seconds} s, no load, no polls): ${Object.entries(idle.cpuPercentNoPolls).map(([k, v]) => `${k} ${v}`).join(', ')}; polls only: ${Object.entries(idle.cpuPercentPollsOnly).map(([k, v]) => `${k} ${v}`).join(', ')}`, ''] : []),
      'targets:',
      ...checks.map((c) => `  [${c.pass === null ? ' -  ' : c.pass ? 'pass' : 'FAIL'}] ${c.target}: ${c.measured}`),
      ...(warnings.length ? ['', ...warnings] : []),
      '', `curve JSON: ${outFile}`, `curve plot: ${svgFile}${f['svg-copy'] ? ` (copied to ${resolve(f['svg-copy'])})` : ''}`, '',
    ].join('\n'));
    return points.every((p) => p.ok) ? 0 : 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) process.exit(await curveMain(process.argv.slice(2)));
