/**
 * The chaos run's verdict (docs/chaos.md), a pure function over what the run collected: every node's final headers
 * and final log, every receipt a client got, and when each fault healed and finality moved again.
 * - safety: no two different final headers for one height on any two nodes; every final receipt's transactions are
 *   in every node's final log at the sequence numbers it gives, under the header it names (or that header's
 *   re-proposal in a later view, the same header but for its view); every transaction a client
 *   got any receipt for (soft included) is final somewhere; no (sender, nonce) twice in a node's final log;
 * - liveness: after each fault healed, the final height rose within `boundMs`.
 */
import { toHex } from '../../src/core/bytes.ts';
import { headerHash } from '../../src/core/header.ts';
import { parseHeader, type HeaderJson } from '../../src/wire/json.ts';

export interface FinalEntry {
  readonly seq: number;
  readonly sender: string;
  readonly nonce: string;
  readonly payload: string;
}

export interface NodeView {
  readonly name: string;
  /** Final header hash by height, 0..finalizedHeight. */
  readonly finalHeaders: readonly string[];
  /** contentKey of each final header, by height. */
  readonly finalContent: readonly string[];
  /** The final log's entries, in sequence order (as the node serves them). */
  readonly finalEntries: readonly FinalEntry[];
}

/** What a client was told about its submission (one transaction per submission in the load). */
export interface ReceiptRecord {
  readonly sender: string;
  readonly nonce: string;
  readonly payload: string;
  readonly finality: 'soft' | 'final';
  readonly height: number;
  readonly firstSeq: number;
  readonly count: number;
  readonly headerHash: string;
  /** contentKey(header): what a re-proposal of the header in a later view keeps. */
  readonly contentKey: string;
  /** Ms since the run started: sent, and answered. */
  readonly sentMs: number;
  readonly answeredMs: number;
  /** The node that answered. */
  readonly node: string;
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
  readonly receipts: readonly ReceiptRecord[];
  readonly faults: readonly FaultRecord[];
  readonly boundMs: number;
  /** What could not be read back from a node (a final height whose batch it does not serve is itself a fault). */
  readonly collectionErrors?: readonly string[];
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly string[];
}

/**
 * What a header says but for its view (its hash with view 0), hex: equal for a header and its re-proposals, which a
 * final header may become on a node that was not told it was final (docs/protocol.md §View change).
 */
export function contentKey(separator: Uint8Array, header: HeaderJson): string {
  return toHex(headerHash(separator, { ...parseHeader(header), view: 0 }));
}

function oneHeaderPerHeight(nodes: readonly NodeView[], violations: string[]): void {
  const heights = Math.max(0, ...nodes.map((n) => n.finalHeaders.length));
  for (let h = 0; h < heights; h++) {
    const seen = new Map<string, string>();
    for (const n of nodes) if (h < n.finalHeaders.length) seen.set(n.finalHeaders[h], n.name);
    if (seen.size > 1) violations.push(`safety: ${seen.size} different final headers at height ${h} (${[...seen.values()].join(', ')})`);
  }
}

function noSubmissionTwice(n: NodeView, violations: string[]): void {
  const seqsOf = new Map<string, number[]>();
  for (const e of n.finalEntries) {
    const key = `${e.sender}/${e.nonce}`;
    seqsOf.set(key, [...(seqsOf.get(key) ?? []), e.seq]);
  }
  for (const [key, seqs] of seqsOf) if (seqs.length > 1) violations.push(`safety: ${n.name} sequenced ${key} ${seqs.length} times (seq ${seqs.join(', ')})`);
}

function finalReceiptHolds(r: ReceiptRecord, n: NodeView, violations: string[]): void {
  const at = `final receipt for ${r.sender}/${r.nonce} (height ${r.height}, seq ${r.firstSeq})`;
  // The header itself, or its re-proposal in a later view (the same header but for its view: docs/protocol.md §View
  // change), which every node takes for a final header it was not told was final.
  if (n.finalHeaders[r.height] !== r.headerHash && n.finalContent[r.height] !== r.contentKey) {
    violations.push(`safety: ${at}: ${n.name}'s final header there is ${n.finalHeaders[r.height] ?? 'missing'}, not ${r.headerHash} nor a re-proposal of it`);
    return;
  }
  const bySeq = new Map(n.finalEntries.map((e) => [e.seq, e]));
  for (let seq = r.firstSeq; seq < r.firstSeq + r.count; seq++) {
    const e = bySeq.get(seq);
    if (!e || e.sender !== r.sender || e.nonce !== r.nonce || e.payload !== r.payload) {
      violations.push(`safety: ${at}: ${n.name}'s final log holds ${e ? `${e.sender}/${e.nonce} "${e.payload}"` : 'nothing'} at seq ${seq}`);
    }
  }
}

export function check(r: ChaosRecord): Verdict {
  const violations: string[] = (r.collectionErrors ?? []).map((e) => `collection: ${e}`);
  oneHeaderPerHeight(r.nodes, violations);
  for (const n of r.nodes) noSubmissionTwice(n, violations);
  for (const receipt of r.receipts) if (receipt.finality === 'final') for (const n of r.nodes) finalReceiptHolds(receipt, n, violations);
  // A soft receipt promises the transaction is not lost, not where it lands (a new leader may order it elsewhere).
  const finalAnywhere = new Set(r.nodes.flatMap((n) => n.finalEntries.map((e) => `${e.sender}/${e.nonce}/${e.payload}`)));
  for (const receipt of r.receipts) {
    if (!finalAnywhere.has(`${receipt.sender}/${receipt.nonce}/${receipt.payload}`)) violations.push(`safety: acknowledged ${receipt.sender}/${receipt.nonce} "${receipt.payload}" is not in any final log`);
  }
  for (const f of r.faults) {
    if (f.recoveredAfterMs === null || f.recoveredAfterMs > r.boundMs) {
      violations.push(`liveness: after ${f.fault} healed, finality ${f.recoveredAfterMs === null ? 'never resumed' : `resumed only after ${f.recoveredAfterMs} ms`} (bound ${r.boundMs} ms)`);
    }
  }
  return { ok: violations.length === 0, violations };
}
