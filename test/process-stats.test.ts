/** The process health figures of sequencer_info: reading them must not change them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessMonitor, type ProcessStats } from '../src/node/process-stats.ts';

function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) { /* the delay under test */ }
}

/** The windowed figures (memory and uptime are instantaneous readings). */
const windowed = (s: ProcessStats) => ({ loop: s.eventLoopDelayP99Ms, gc: s.gcPauseMaxMs, window: s.windowSeconds });

test('two consecutive reads see the same measurements, and a stall shows up in both', async () => {
  const monitor = new ProcessMonitor({ sliceMs: 100, windowSlices: 20 });
  try {
    await sleep(50);
    blockEventLoop(150);
    await sleep(250); // the slice holding the stall closes
    const first = monitor.sample();
    const second = monitor.sample();
    assert.deepEqual(windowed(second), windowed(first));
    assert.equal(first.windowSeconds, 2);
    assert.ok(first.eventLoopDelayP99Ms >= 100, `stall of 150 ms reported as ${first.eventLoopDelayP99Ms} ms`);
    // A reader that comes later, within the window, still sees it: nobody consumed it.
    await sleep(300);
    assert.ok(monitor.sample().eventLoopDelayP99Ms >= 100);
  } finally {
    monitor.stop();
  }
});

test('a stall leaves the figures once it is older than the window', async () => {
  const monitor = new ProcessMonitor({ sliceMs: 50, windowSlices: 4 });
  try {
    await sleep(20);
    blockEventLoop(250);
    await sleep(120);
    assert.ok(monitor.sample().eventLoopDelayP99Ms >= 200);
    await sleep(400);
    assert.ok(monitor.sample().eventLoopDelayP99Ms < 200);
  } finally {
    monitor.stop();
  }
});

test('memory is read once per slice, off the request path: any number of reads in between cost no heap statistics', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  let reads = 0;
  const monitor = new ProcessMonitor({ sliceMs: 1_000, readMemory: () => ({ rss: ++reads * 1_000, heapUsed: reads }) });
  try {
    const before = reads;
    for (let i = 0; i < 1_000; i++) monitor.sample();
    assert.equal(reads - before, 0, 'sample() read the memory itself');
    assert.equal(monitor.sample().rssBytes, before * 1_000);
    t.mock.timers.tick(1_000); // a slice closes: one fresh reading for every reader of the next second
    assert.equal(reads - before, 1);
    for (let i = 0; i < 1_000; i++) monitor.sample();
    assert.equal(reads - before, 1);
    assert.deepEqual([monitor.sample().rssBytes, monitor.sample().heapUsedBytes], [reads * 1_000, reads]);
  } finally {
    monitor.stop();
  }
});
