/**
 * The node's Prometheus metrics (docs/metrics.md lists every one): one prom-client registry per node (a test
 * process runs several nodes), holding the sequencer's own metrics, the process's (prom-client's default
 * collectors: CPU, RSS, heap, event-loop delay, GC) and libp2p's (@libp2p/prometheus-metrics, bound to the same
 * registry). Counters and histograms move as events happen, each an increment or one observation with a label
 * from a bounded set; gauges of state (heights, peers, halted, ...) are read from the node when scraped. A scrape
 * only reads: it resets nothing.
 */
import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Libp2pMetricsFactory } from '../p2p/libp2p-node.ts';
import { VERIFICATION_FAILURES, type NodeMetrics, type VerificationFailure } from '../roles/metrics.ts';
import type { Verdict } from '../roles/role.ts';
import type { AppendedWrite } from '../storage/log-store.ts';

/** Why a node is halted, as the bounded label of sequencer_halted. */
export type HaltReason =
  /** The primary equivocated (a proof is on record): a replica stops following it, a primary stops sequencing. */
  | 'equivocation'
  /** The primary's on-chain bond does not back it (withdrawal requested, slashed, gone, or unreadable). */
  | 'bond'
  /** The primary stopped sequencing after an internal error. */
  | 'internal';

export const HALT_REASONS: readonly HaltReason[] = ['equivocation', 'bond', 'internal'];

/** The node's state, read when the metrics are scraped. */
export interface MetricSources {
  /** Height of the stored tip (-1 for an empty log) and the number of entries in the log. */
  tip(): { readonly height: number; readonly nextSeq: number };
  /** Highest height of a primary-signed header this node has met (stored or seen ahead of its tip), -1 for none. */
  highestSeenHeight(): number;
  /** Highest final height; -1 until finality (certificates) exists. */
  finalizedHeight(): number;
  connectedPeers(): number;
  equivocations(): number;
  halted(): HaltReason | undefined;
  storageFault(): boolean;
  /** A primary still in its start-up recovery. */
  recovering(): boolean;
  /** The view the node is in (0 in a log of one validator), and the view it last timed out (-1: none). */
  view(): number;
  timedOutView(): number;
  ready(): boolean;
}

/** Appends (client to receipt, including forwarding on a replica) take milliseconds to seconds. */
const APPEND_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** One synced LevelDB batch write: sub-millisecond on tmpfs, milliseconds on a disk that honours fsync. */
const WRITE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

const flag = (b: boolean): number => (b ? 1 : 0);

export class PrometheusNodeMetrics implements NodeMetrics {
  readonly registry = new Registry();
  private readonly batchesSequenced: Counter;
  private readonly transactionsSequenced: Counter;
  private readonly submissionsSequenced: Counter;
  private readonly batchesStored: Counter;
  private readonly transactionsStored: Counter;
  private readonly storeWrite: Histogram;
  private readonly appendLatency: Histogram<'result'>;
  private readonly verificationFailures: Counter<'reason'>;
  private readonly viewChanges: Counter;
  private readonly gossipMessages: Counter<'verdict'>;
  private readonly syncMade: Counter;
  private readonly syncServedCount: Counter;

  /** `mode` and `version` label sequencer_info (two values each: bounded). */
  constructor(info: { mode: string; version: string }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'sequencer_info', help: 'Always 1; labels say what the node is', labelNames: ['mode', 'version'], registers })
      .set(info, 1);
    this.batchesSequenced = new Counter({ name: 'sequencer_batches_sequenced_total', help: 'Batches this primary sealed, signed and made durable', registers });
    this.transactionsSequenced = new Counter({ name: 'sequencer_transactions_sequenced_total', help: 'Transactions (log entries) this primary sequenced', registers });
    this.submissionsSequenced = new Counter({ name: 'sequencer_submissions_sequenced_total', help: 'Signed submissions this primary sequenced', registers });
    this.batchesStored = new Counter({ name: 'sequencer_batches_stored_total', help: 'Batches this node stored durably (sequenced or verified)', registers });
    this.transactionsStored = new Counter({ name: 'sequencer_transactions_stored_total', help: 'Transactions (log entries) this node stored durably', registers });
    this.storeWrite = new Histogram({ name: 'sequencer_store_write_seconds', help: 'Time of one synced batch write to the store', buckets: WRITE_BUCKETS, registers });
    this.appendLatency = new Histogram({
      name: 'sequencer_append_seconds', help: 'Time from a submission reaching the node to its receipt (or error)',
      labelNames: ['result'], buckets: APPEND_BUCKETS, registers,
    });
    this.verificationFailures = new Counter({ name: 'sequencer_verification_failures_total', help: 'Batches refused, by the verification stage that failed', labelNames: ['reason'], registers });
    for (const reason of VERIFICATION_FAILURES) this.verificationFailures.inc({ reason }, 0);
    this.gossipMessages = new Counter({ name: 'sequencer_gossip_messages_total', help: 'Batch gossip messages judged by the validator, by verdict', labelNames: ['verdict'], registers });
    for (const verdict of ['accept', 'ignore', 'reject'] as const) this.gossipMessages.inc({ verdict }, 0);
    this.syncMade = new Counter({ name: 'sequencer_sync_requests_made_total', help: 'Ranged sync requests this node sent to peers', registers });
    this.syncServedCount = new Counter({ name: 'sequencer_sync_requests_served_total', help: 'Ranged sync requests of peers this node answered', registers });
    this.viewChanges = new Counter({ name: 'sequencer_view_changes_total', help: 'Views this node entered (on a timeout certificate) since it started', registers });
  }

  /** The node entered a new view. */
  viewEntered(): void {
    this.viewChanges.inc();
  }

  /** Registers the gauges read from the node's state at each scrape. */
  observe(sources: MetricSources): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('sequencer_head_height', 'Height of the stored tip (-1: empty log)', () => sources.tip().height);
    gauge('sequencer_finalized_height', 'Highest final height (-1: none; finality does not exist yet)', () => sources.finalizedHeight());
    gauge('sequencer_highest_seen_height', 'Highest height of a primary-signed header this node has met (-1: none)', () => sources.highestSeenHeight());
    gauge('sequencer_entries', 'Entries in the stored log (the next sequence number)', () => sources.tip().nextSeq);
    gauge('sequencer_peers', 'Connected libp2p peers', () => sources.connectedPeers());
    gauge('sequencer_equivocations', 'Equivocation proofs on record', () => sources.equivocations());
    gauge('sequencer_storage_fault', '1 while the store refuses writes (disk full, I/O error), else 0', () => flag(sources.storageFault()));
    gauge('sequencer_recovering', '1 while a primary runs its start-up recovery, else 0', () => flag(sources.recovering()));
    gauge('sequencer_ready', '1 when GET /readyz answers 200, else 0', () => flag(sources.ready()));
    gauge('sequencer_view', 'The view this node is in (docs/protocol.md §View change)', () => sources.view());
    gauge('sequencer_timed_out_view', 'The view this validator last timed out (-1: none)', () => sources.timedOutView());
    new Gauge({
      name: 'sequencer_halted', help: '1 for the reason the node is halted, 0 for the others', labelNames: ['reason'], registers,
      collect() {
        const reason = sources.halted();
        for (const r of HALT_REASONS) this.set({ reason: r }, flag(r === reason));
      },
    });
  }

  /** libp2p's own metrics, in this registry; the process metrics are collected once, by the constructor. */
  libp2p(): Libp2pMetricsFactory {
    // The factory keeps its metric objects in a module-wide map by name and, unless told to preserve them, clears
    // that map (and prom-client's global registry, which the node does not use) when created: so a second node in
    // the same process registers fresh objects in its own registry. (Several nodes in one process is a test setup;
    // a metric libp2p registers lazily, after the next node started, lands in that node's registry.)
    return prometheusMetrics({ registry: this.registry, collectDefaultMetrics: false });
  }

  /** For LogStore.onAppended: every batch stored, by either role. */
  stored(tip: { readonly nextSeq: number }, write: AppendedWrite): void {
    this.batchesStored.inc();
    this.transactionsStored.inc(tip.nextSeq - write.prevTip.nextSeq);
    this.storeWrite.observe(write.seconds);
  }

  appended(seconds: number, ok: boolean): void {
    this.appendLatency.observe({ result: ok ? 'ok' : 'error' }, seconds);
  }

  gossip(verdict: Verdict): void {
    this.gossipMessages.inc({ verdict });
  }

  // ---- NodeMetrics (the roles' calls) ----

  sequenced(transactions: number, submissions: number): void {
    this.batchesSequenced.inc();
    this.transactionsSequenced.inc(transactions);
    this.submissionsSequenced.inc(submissions);
  }

  verificationFailed(reason: VerificationFailure): void {
    this.verificationFailures.inc({ reason });
  }

  syncRequested(): void {
    this.syncMade.inc();
  }

  syncServed(): void {
    this.syncServedCount.inc();
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
