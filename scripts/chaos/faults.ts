/**
 * Network faults inside a node's namespace, with nftables (Debian's `nft`): drop what comes from (or goes to) another
 * node (partitions, symmetric or one-way), or drop a random share of every packet (`numgen random`). A peer is named
 * by all its addresses (its own and its relay address, relay.ts), so relayed traffic is cut too.
 * Faults live in the namespace's table `inet chaos`; healing deletes it. The relay's routing lives in a separate
 * table `inet chaosroute`, which healing leaves alone.
 */
import { sh } from '../../src/cli/network-namespaces.ts';

function nft(ns: string, script: string): void {
  sh('ip', ['netns', 'exec', ns, 'nft', script]);
}

function ensureTable(ns: string, table = 'chaos'): void {
  nft(ns, `add table inet ${table}`);
  nft(ns, `add chain inet ${table} input { type filter hook input priority 0 ; policy accept ; }`);
  nft(ns, `add chain inet ${table} output { type filter hook output priority 0 ; policy accept ; }`);
}

const addressSet = (addresses: readonly string[]) => `{ ${addresses.join(', ')} }`;

/** Node `ns` no longer receives packets from `peer` (any of its addresses) and, unless one-way, sends none to it. */
export function cut(ns: string, peer: readonly string[], oneWay = false): void {
  ensureTable(ns);
  nft(ns, `add rule inet chaos input ip saddr ${addressSet(peer)} drop`);
  if (!oneWay) nft(ns, `add rule inet chaos output ip daddr ${addressSet(peer)} drop`);
}

/** Node `ns` drops `percent` % of the packets it receives (only those from `from`, if given), at random. */
export function lose(ns: string, percent: number, from?: readonly string[]): void {
  ensureTable(ns);
  const source = from ? `ip saddr ${addressSet(from)} ` : '';
  nft(ns, `add rule inet chaos input ${source}numgen random mod 100 < ${Math.round(percent)} drop`);
}

export function heal(ns: string): void {
  try { nft(ns, 'delete table inet chaos'); } catch { /* no table: nothing to heal */ }
}

/**
 * Node `ns` may not dial the other nodes' p2p port directly, only their relay addresses: otherwise libp2p, having
 * learnt the direct addresses (identify), would go around the relay and its delay.
 */
export function forceThroughRelay(ns: string, otherNodeIps: readonly string[], p2pPort: number): void {
  ensureTable(ns, 'chaosroute');
  nft(ns, `add rule inet chaosroute output ip daddr ${addressSet(otherNodeIps)} tcp dport ${p2pPort} reject with tcp reset`);
}
