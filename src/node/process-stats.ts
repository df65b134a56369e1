/** Health figures of the node process for operators (sequencer_info.process). */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProcessStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** p99 of event-loop delay since the previous sample (ms): how long work waited for the one JS thread. */
  readonly eventLoopDelayP99Ms: number;
  /** Longest garbage-collection pause since the previous sample (ms). */
  readonly gcPauseMaxMs: number;
  readonly uptimeSeconds: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export class ProcessMonitor {
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });
  private readonly gc: PerformanceObserver;
  private gcMax = 0;

  constructor() {
    this.delay.enable();
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.gcMax = Math.max(this.gcMax, e.duration);
    });
    this.gc.observe({ entryTypes: ['gc'] });
  }

  sample(): ProcessStats {
    const mem = process.memoryUsage();
    const p99 = this.delay.count > 0 ? this.delay.percentile(99) / 1e6 : 0;
    const gc = this.gcMax;
    this.delay.reset();
    this.gcMax = 0;
    return { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopDelayP99Ms: round2(p99), gcPauseMaxMs: round2(gc), uptimeSeconds: Math.round(process.uptime()) };
  }

  stop(): void {
    this.delay.disable();
    this.gc.disconnect();
  }
}
