/** Shared helpers of the benchmarks: flags, keys, statistics, formatting, clocks. */
import { cpus, totalmem, release } from 'node:os';
import { readFileSync } from 'node:fs';
import { fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';

/** Epoch milliseconds with sub-millisecond resolution, comparable across worker threads of one process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- flags ---------------------------------------------------------------------------------------------

export interface FlagSpec {
  readonly [name: string]: { readonly kind: 'number' | 'string' | 'boolean'; readonly default?: number | string | boolean; readonly help: string };
}

export type Flags<S extends FlagSpec> = { [K in keyof S]: S[K]['kind'] extends 'number' ? number : S[K]['kind'] extends 'boolean' ? boolean : string };

/** Parses `--name value`, `--name=value` and bare `--flag` booleans; `--help` prints the spec and exits. */
export function parseFlags<S extends FlagSpec>(argv: readonly string[], spec: S, usage: string): Flags<S> {
  const out: Record<string, number | string | boolean> = {};
  for (const [name, s] of Object.entries(spec)) if (s.default !== undefined) out[name] = s.default;
  const help = (): never => {
    const lines = Object.entries(spec).map(([n, s]) => `  --${n}${s.kind === 'boolean' ? '' : ' ' + s.kind.toUpperCase()}`.padEnd(36) + s.help + (s.default !== undefined && s.kind !== 'boolean' ? ` (default ${s.default})` : ''));
    process.stdout.write(`${usage}\n\n${lines.join('\n')}\n`);
    process.exit(0);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') help();
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (see --help)`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const s = spec[name];
    if (!s) throw new Error(`unknown flag --${name} (see --help)`);
    if (s.kind === 'boolean') {
      out[name] = eq > 0 ? a.slice(eq + 1) !== 'false' : true;
      continue;
    }
    const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    if (s.kind === 'number') {
      const n = Number(v.replaceAll('_', ''));
      if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a non-negative number, got ${v}`);
      out[name] = n;
    } else out[name] = v;
  }
  return out as Flags<S>;
}

// ---- identities ----------------------------------------------------------------------------------------

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);

export const CHAIN_ID = 31337;
/** Deterministic keys: the benchmark log is throw-away, reproducibility matters more than secrecy. */
export const PRIMARY_KEY: Bytes = keccak256(utf8('sequencer-bench primary key'));
/** Validator `i` (0-based) of the benchmark log: the first is the primary. */
export function validatorKey(i: number): Bytes {
  return i === 0 ? PRIMARY_KEY : keccak256(utf8(`sequencer-bench validator key ${i}`));
}
export function clientKey(i: number): Bytes {
  return keccak256(utf8(`sequencer-bench client key ${i}`));
}
export function clientAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => toHex(addressFromPrivateKey(clientKey(i))));
}
export function logIdFor(name: string): Bytes {
  return name.startsWith('0x') ? fromHex(name, 32) : keccak256(utf8(name));
}

// ---- statistics ----------------------------------------------------------------------------------------

export interface Percentiles { count: number; mean: number; p50: number; p90: number; p99: number; max: number; min: number }

/** Nearest-rank percentiles of `values` (milliseconds); sorts a copy. */
export function percentiles(values: ArrayLike<number>): Percentiles | null {
  const n = values.length;
  if (n === 0) return null;
  const a = Float64Array.from(values).sort();
  const at = (p: number) => a[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i];
  const r = (x: number) => Math.round(x * 100) / 100;
  return { count: n, mean: r(sum / n), min: r(a[0]), p50: r(at(50)), p90: r(at(90)), p99: r(at(99)), max: r(a[n - 1]) };
}

/** A step function sampled over time: value(t) is the last sample at or before t. */
export class Timeline {
  readonly t: number[] = [];
  readonly v: number[] = [];
  add(t: number, v: number): void {
    this.t.push(t);
    this.v.push(v);
  }
  get last(): number {
    return this.v.length ? this.v[this.v.length - 1] : 0;
  }
  /** Value at time t (0 before the first sample). */
  valueAt(t: number): number {
    let lo = 0, hi = this.t.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.t[mid] <= t) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans < 0 ? 0 : this.v[ans];
  }
  /** First sample time at which the (non-decreasing) value is >= x, or undefined. */
  firstTimeReaching(x: number): number | undefined {
    let lo = 0, hi = this.v.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.v[mid] >= x) { ans = mid; hi = mid - 1; } else lo = mid + 1;
    }
    return ans < 0 ? undefined : this.t[ans];
  }
}

// ---- environment ---------------------------------------------------------------------------------------

export function machine(): Record<string, unknown> {
  let loadavg: string | undefined;
  try { loadavg = readFileSync('/proc/loadavg', 'utf8').trim(); } catch { /* not Linux */ }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    kernel: release(),
    node: process.version,
    loadavgAtStart: loadavg,
  };
}

export const fmt = {
  int: (n: number): string => Math.round(n).toLocaleString('en-US'),
  ms: (n: number | undefined): string => (n === undefined ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString()),
  mib: (kib: number | undefined): string => (kib === undefined ? '-' : (kib / 1024).toFixed(0)),
};

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

export function timestampName(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}
