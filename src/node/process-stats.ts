/**
 * Health figures of the node process for operators (sequencer_info.process).
 *
 * Reading them has no side effect: event-loop delay and GC pauses are measured in fixed slices of time
 * (one second by default) that a timer closes independently of any reader, and a read reports the slices
 * completed within the last window (ten seconds by default). Two callers of sequencer_info therefore see
 * the same figures, instead of each one resetting the measurement the other was about to read.
 *
 * Reading them is also cheap enough to poll every few milliseconds: the memory figures are taken when a slice
 * closes (process.memoryUsage() asks V8 for the statistics of every heap space and reads /proc: microseconds, not
 * something to do per call), so a read only copies numbers.
 */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ProcessStatsJson } from '../wire/rpc-types.ts';

/** The figures as sequencer_info reports them; the wire layer owns their shape. */
export type ProcessStats = ProcessStatsJson;

export interface ProcessMonitorOptions {
  /** Length of one measurement slice; defaults to 1,000 ms. */
  readonly sliceMs?: number;
  /** Number of completed slices a read covers; defaults to 10 (a 10 s window with 1 s slices). */
  readonly windowSlices?: number;
  /** Reads the process's memory; process.memoryUsage by default (injected by tests to count the reads). */
  readonly readMemory?: () => MemoryReading;
}

/** The memory figures a read reports, as of the last refresh. */
export interface MemoryReading {
  readonly rss: number;
  readonly heapUsed: number;
}

/** What one completed slice measured, in ms. */
interface Slice {
  readonly loopDelayP99Ms: number;
  readonly gcPauseMaxMs: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export class ProcessMonitor {
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private readonly gc: PerformanceObserver;
  private readonly sliceTimer: NodeJS.Timeout;
  private readonly windowSlices: number;
  private readonly windowSeconds: number;
  /** Completed slices, oldest first, at most windowSlices of them. */
  private readonly slices: Slice[] = [];
  /** Longest GC pause in the slice being measured. */
  private gcMaxInSlice = 0;
  /** Summary of `slices`, recomputed when a slice closes so that reads are O(1) and identical between closes. */
  private summary: Slice = { loopDelayP99Ms: 0, gcPauseMaxMs: 0 };
  private readonly readMemory: () => MemoryReading;
  /** Memory as of the last slice close (or the start): at most one slice old. */
  private memory: MemoryReading;

  constructor(opts: ProcessMonitorOptions = {}) {
    const sliceMs = opts.sliceMs ?? 1_000;
    this.windowSlices = opts.windowSlices ?? 10;
    this.windowSeconds = (sliceMs * this.windowSlices) / 1_000;
    this.readMemory = opts.readMemory ?? (() => process.memoryUsage());
    this.memory = this.readMemory();
    this.delay.enable();
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gcMaxInSlice = Math.max(this.gcMaxInSlice, e.duration);
    });
    this.gc.observe({ entryTypes: ['gc'] });
    this.sliceTimer = setInterval(() => { this.closeSlice(); }, sliceMs);
    this.sliceTimer.unref(); // health figures never keep a process alive
  }

  /** The current figures (memory at most one slice old). Pure read: calling it any number of times changes nothing. */
  sample(): ProcessStats {
    return {
      rssBytes: this.memory.rss,
      heapUsedBytes: this.memory.heapUsed,
      eventLoopDelayP99Ms: round2(this.summary.loopDelayP99Ms),
      gcPauseMaxMs: round2(this.summary.gcPauseMaxMs),
      windowSeconds: this.windowSeconds,
      uptimeSeconds: Math.round(process.uptime()),
    };
  }

  stop(): void {
    clearInterval(this.sliceTimer);
    this.delay.disable();
    this.gc.disconnect();
  }

  private closeSlice(): void {
    // A per-slice p99 rather than one histogram over the window: node's event-loop histogram cannot be merged
    // into another, and the worst second is what an operator looking for stalls wants to see.
    this.slices.push({
      loopDelayP99Ms: this.delay.count > 0 ? this.delay.percentile(99) / 1e6 : 0,
      gcPauseMaxMs: this.gcMaxInSlice,
    });
    if (this.slices.length > this.windowSlices) this.slices.shift();
    this.delay.reset();
    this.gcMaxInSlice = 0;
    this.memory = this.readMemory();
    this.summary = {
      loopDelayP99Ms: Math.max(...this.slices.map((s) => s.loopDelayP99Ms)),
      gcPauseMaxMs: Math.max(...this.slices.map((s) => s.gcPauseMaxMs)),
    };
  }
}
