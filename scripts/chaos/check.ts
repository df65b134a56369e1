/**
 * The chaos run's verdict (docs/chaos.md), a pure function over what the run collected: every node's final headers
 * and final log, every receipt a client got, and when each fault healed and finality moved again.
 * - safety: no two different final headers for one height on any two nodes; every transaction a client got a
 *   receipt for is in the final log, exactly once; no transaction anywhere in the final log twice;
 * - liveness: after each fault healed, the final height rose within `boundMs`.
 */
export interface NodeView {
  readonly name: string;
  /** Final header hash by height, 0..finalizedHeight. */
  readonly finalHeaders: readonly string[];
  /** Payloads of the final log's entries, in sequence order (as the node serves them). */
  readonly finalPayloads: readonly string[];
}

export interface FaultRecord {
  readonly fault: string;
  readonly startedMs: number;
  readonly healedMs: number;
  /** Ms from healing until the final height rose past what it was at healing; null if it never did. */
  readonly recoveredAfterMs: number | null;
}

export interface ChaosRecord {
  readonly nodes: readonly NodeView[];
  /** Payloads clients got a receipt for. */
  readonly acknowledged: readonly string[];
  readonly faults: readonly FaultRecord[];
  readonly boundMs: number;
  /** What could not be read back from a node (a final height whose batch it does not serve is itself a fault). */
  readonly collectionErrors?: readonly string[];
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly string[];
}

export function check(r: ChaosRecord): Verdict {
  const violations: string[] = (r.collectionErrors ?? []).map((e) => `collection: ${e}`);
  const heights = Math.max(0, ...r.nodes.map((n) => n.finalHeaders.length));
  for (let h = 0; h < heights; h++) {
    const seen = new Map<string, string>();
    for (const n of r.nodes) if (h < n.finalHeaders.length) seen.set(n.finalHeaders[h], n.name);
    if (seen.size > 1) violations.push(`safety: ${seen.size} different final headers at height ${h} (${[...seen.values()].join(', ')})`);
  }
  for (const n of r.nodes) {
    const counts = new Map<string, number>();
    for (const p of n.finalPayloads) counts.set(p, (counts.get(p) ?? 0) + 1);
    for (const [p, c] of counts) if (c > 1) violations.push(`safety: ${n.name} holds "${p}" ${c} times in its final log`);
  }
  const longest = r.nodes.reduce<NodeView | undefined>((a, n) => (a && a.finalPayloads.length >= n.finalPayloads.length ? a : n), undefined);
  const final = new Set(longest?.finalPayloads ?? []);
  for (const p of r.acknowledged) if (!final.has(p)) violations.push(`safety: acknowledged "${p}" is not in the final log`);
  for (const f of r.faults) {
    if (f.recoveredAfterMs === null || f.recoveredAfterMs > r.boundMs) {
      violations.push(`liveness: after ${f.fault} healed, finality ${f.recoveredAfterMs === null ? 'never resumed' : `resumed only after ${f.recoveredAfterMs} ms`} (bound ${r.boundMs} ms)`);
    }
  }
  return { ok: violations.length === 0, violations };
}
