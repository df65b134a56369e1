/** Health figures of the node process for operators (sequencer_info.process). */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProcessStats {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** p99 of event-loop delay since the previous call (ms): how long work waited for the one JS thread. */
  readonly eventLoopDelayP99Ms: number;
  readonly uptimeSeconds: number;
}

export class ProcessMonitor {
  private readonly delay = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.delay.enable();
  }

  sample(): ProcessStats {
    const mem = process.memoryUsage();
    const p99 = this.delay.count > 0 ? this.delay.percentile(99) / 1e6 : 0;
    this.delay.reset();
    return { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, eventLoopDelayP99Ms: Math.round(p99 * 100) / 100, uptimeSeconds: Math.round(process.uptime()) };
  }

  stop(): void {
    this.delay.disable();
  }
}
