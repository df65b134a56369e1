/**
 * The chaos run's network (docs/chaos.md), on top of the namespaces and bridge of src/cli/network-namespaces.ts:
 * every node also gets a relay address on the bridge (relay.ts listens there for it), and the whole run is torn
 * down on exit, on SIGINT or SIGTERM and on failure; `leftovers` says what of a run is still there.
 */
import { createTopology, sh, type Topology } from '../../src/cli/network-namespaces.ts';

export interface ChaosNetwork {
  readonly topology: Topology;
  /** Node i's relay address (in the root namespace, on the bridge). */
  readonly relayIps: readonly string[];
}

/** Namespaces for `n` nodes on a fresh bridge, with a relay address per node. */
export function createNetwork(n: number): ChaosNetwork {
  const topology = createTopology(n);
  const subnet = topology.hostIp.split('.').slice(0, 3).join('.');
  const relayIps = topology.nodes.map((_, i) => `${subnet}.${100 + i}`);
  try {
    // Removed with the bridge at teardown.
    for (const ip of relayIps) sh('ip', ['addr', 'add', `${ip}/32`, 'dev', topology.bridge]);
  } catch (e) {
    topology.teardown();
    throw e;
  }
  return { topology, relayIps };
}

/** Namespaces and links of run `tag` still present (none once it tore down). */
export function leftovers(tag: string): string[] {
  const namespaces = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]);
  const links = sh('ip', ['-o', 'link', 'show']).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '');
  return [...namespaces, ...links].filter((name) => name.includes(tag));
}

/**
 * Runs `cleanup` (synchronous: kills and `ip` commands) if the process is interrupted before `release` is called;
 * then exits 130 (SIGINT) or 143 (SIGTERM).
 */
export function cleanupOnSignal(cleanup: () => void): { release(): void } {
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
