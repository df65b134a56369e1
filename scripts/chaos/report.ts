/**
 * The chaos run's report (docs/chaos.md): everything collected and the verdict as JSON, and a summary for people:
 * the faults with their times and recovery, the receipts, the final height, view changes, and the check results.
 */
import type { ChaosRecord, Verdict } from './check.ts';

export interface ChaosReport extends ChaosRecord {
  readonly seed: number;
  readonly durationS: number;
  readonly options: Readonly<Record<string, unknown>>;
  readonly finalHeight: number;
  /** The highest view any node reached, and the view changes the nodes went through (summed, since each last start). */
  readonly highestView: number;
  readonly viewChanges: number;
  readonly failedAttempts: number;
  readonly verdict: Verdict;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function summarize(r: ChaosReport): string {
  const final = r.receipts.filter((x) => x.finality === 'final');
  const finalLatency = final.map((x) => x.answeredMs - x.sentMs).sort((a, b) => a - b);
  const recovered = r.faults.flatMap((f) => (f.recoveredAfterMs === null ? [] : [f.recoveredAfterMs]));
  const lines = [
    `chaos run: seed ${r.seed}, ${r.durationS} s, options ${JSON.stringify(r.options)}`,
    `faults (${r.faults.length}):`,
    ...r.faults.map((f) => `  ${seconds(f.startedMs).padStart(7)} – ${seconds(f.healedMs).padStart(7)}  ${f.fault}: finality resumed ${f.recoveredAfterMs === null ? 'NEVER' : `${f.recoveredAfterMs} ms`} after healing`),
    `receipts: ${r.receipts.length} (${r.receipts.length - final.length} soft, ${final.length} final; final latency p50 ${finalLatency[Math.floor(finalLatency.length / 2)] ?? '-'} ms, max ${finalLatency.at(-1) ?? '-'} ms); ${r.failedAttempts} attempts refused or unanswered, retried`,
    `final height ${r.finalHeight}; highest view ${r.highestView}, view changes ${r.viewChanges}; recovery after healing: max ${recovered.length ? Math.max(...recovered) : '-'} ms (bound ${r.boundMs} ms)`,
    r.verdict.ok ? 'checks: safety and liveness hold' : `VIOLATIONS (${r.verdict.violations.length}):\n${r.verdict.violations.slice(0, 50).map((v) => `  ${v}`).join('\n')}`,
  ];
  return lines.join('\n');
}
