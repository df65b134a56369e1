/**
 * The chaos run's schedule of faults (docs/chaos.md): drawn from a seed (mulberry32), so the same seed and options
 * give the same list, printed before the run. Victims are node indices; the current leader is resolved when the
 * fault starts (a view change may have moved it). Without `leaderFaults`, a fault never strikes the current leader:
 * a fault that would is moved to the next node.
 */
import { MAX_CLOCK_SKEW_MS } from '../../src/core/limits.ts';

export type FaultPlan =
  | { readonly kind: 'kill'; readonly victim: number }
  | { readonly kind: 'kill-leader' }
  | { readonly kind: 'clock-ahead-leader'; readonly aheadMs: number }
  | { readonly kind: 'partition'; readonly victim: number }
  | { readonly kind: 'one-way-partition'; readonly victim: number; readonly from: number }
  | { readonly kind: 'loss'; readonly percent: number }
  | { readonly kind: 'delay'; readonly delayMs: number; readonly jitterMs: number };

export interface ScheduledFault {
  /** Pause before the fault starts, and how long it is held before healing. */
  readonly gapMs: number;
  readonly holdMs: number;
  readonly plan: FaultPlan;
}

export interface ScheduleOptions {
  readonly seed: number;
  /** Validators and the observer. */
  readonly nodes: number;
  readonly leaderFaults: boolean;
  /** Delay faults need the relay on the path. */
  readonly relay: boolean;
  readonly clockAheadMs: number;
  readonly count: number;
}

/** A small deterministic generator (mulberry32): the same seed, the same schedule. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function drawSchedule(o: ScheduleOptions): ScheduledFault[] {
  const rand = random(o.seed);
  const node = () => Math.floor(rand() * o.nodes);
  const kinds: FaultPlan['kind'][] = ['kill', 'partition', 'one-way-partition', 'loss',
    ...(o.relay ? ['delay' as const] : []), ...(o.leaderFaults ? ['kill-leader' as const, 'clock-ahead-leader' as const] : [])];
  const draw = (kind: FaultPlan['kind']): FaultPlan => {
    switch (kind) {
      case 'kill': return { kind, victim: node() };
      case 'kill-leader': return { kind };
      // Either within the skew a verifier allows (its headers are taken; later leaders seal on its timestamps) or
      // beyond it (its batches are not valid yet anywhere: the others must time it out).
      case 'clock-ahead-leader': return { kind, aheadMs: rand() < 0.5 ? o.clockAheadMs : 2 * MAX_CLOCK_SKEW_MS };
      case 'partition': return { kind, victim: node() };
      case 'one-way-partition': {
        const victim = node();
        return { kind, victim, from: (victim + 1 + Math.floor(rand() * (o.nodes - 1))) % o.nodes };
      }
      case 'loss': return { kind, percent: 5 + Math.floor(rand() * 16) };
      case 'delay': return { kind, delayMs: 5 + Math.floor(rand() * 76), jitterMs: Math.floor(rand() * 41) };
    }
  };
  return Array.from({ length: o.count }, (_, i) => ({
    gapMs: 1_000 + Math.floor(rand() * 2_000),
    holdMs: 1_500 + Math.floor(rand() * 1_500),
    // With leader faults on, the first fault kills the leader: every run, however short, shows a failover.
    plan: draw(i === 0 && o.leaderFaults ? 'kill-leader' : kinds[Math.floor(rand() * kinds.length)]),
  }));
}

export function describePlan(p: FaultPlan, name: (i: number) => string): string {
  switch (p.kind) {
    case 'kill': return `kill -9 ${name(p.victim)}, restarted on its store`;
    case 'kill-leader': return 'kill -9 the leader, restarted on its store';
    case 'clock-ahead-leader': return `the leader restarted with its clock ${p.aheadMs} ms ahead (restarted right at healing)`;
    case 'partition': return `partition: ${name(p.victim)} cut off from every node, both ways`;
    case 'one-way-partition': return `one-way partition: ${name(p.victim)} hears nothing from ${name(p.from)}`;
    case 'loss': return `loss: every node drops ${p.percent} % of incoming packets`;
    case 'delay': return `delay: every p2p hop ${p.delayMs} ms + up to ${p.jitterMs} ms jitter (relay)`;
  }
}
