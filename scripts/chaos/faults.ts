/**
 * Network faults inside a node's namespace, with nftables (Debian's `nft`): drop what comes from (or goes to)
 * another node's address (partitions, symmetric or one-way), or drop a random share of every packet (`numgen random`).
 * Each namespace has its own table `inet chaos`; healing flushes it.
 */
import { sh } from './netns.ts';

function nft(ns: string, script: string): void {
  sh('ip', ['netns', 'exec', ns, 'nft', script]);
}

function ensureTable(ns: string): void {
  nft(ns, 'add table inet chaos');
  nft(ns, 'add chain inet chaos input { type filter hook input priority 0 ; policy accept ; }');
  nft(ns, 'add chain inet chaos output { type filter hook output priority 0 ; policy accept ; }');
}

/** Node `ns` no longer receives packets from `fromIp` (and, unless one-way, sends none to it). */
export function cut(ns: string, fromIp: string, oneWay = false): void {
  ensureTable(ns);
  nft(ns, `add rule inet chaos input ip saddr ${fromIp} drop`);
  if (!oneWay) nft(ns, `add rule inet chaos output ip daddr ${fromIp} drop`);
}

/** Node `ns` drops `percent` % of the packets it receives, at random. */
export function lose(ns: string, percent: number): void {
  ensureTable(ns);
  nft(ns, `add rule inet chaos input numgen random mod 100 < ${Math.round(percent)} drop`);
}

export function heal(ns: string): void {
  try { nft(ns, 'delete table inet chaos'); } catch { /* no table: nothing to heal */ }
}
