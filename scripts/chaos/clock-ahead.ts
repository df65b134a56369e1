/**
 * Preloaded (`node --import`) into a node the chaos harness starts with its wall clock ahead: the node has no
 * clock-offset option, and src/ is not the harness's to change, so this moves what the process reads as the time
 * (Date.now and `new Date()`) by CHAOS_CLOCK_AHEAD_MS. Monotonic time (performance.now, timers) is untouched, as with
 * a real machine whose wall clock is wrong.
 */
const aheadMs = Number(process.env.CHAOS_CLOCK_AHEAD_MS ?? 0);

if (aheadMs !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class AheadDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + aheadMs);
      else super(...(args as [string | number | Date]));
    }

    static override now(): number {
      return realNow() + aheadMs;
    }
  }
  globalThis.Date = AheadDate as DateConstructor;
}
