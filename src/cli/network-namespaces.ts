/**
 * Network namespaces for the chaos harness (docs/chaos.md) and `sequencer devnet --hosts`: one namespace per node, each with its own address on a
 * Linux bridge in the root namespace (veth pairs), so nodes talk over real interfaces that nftables can cut, and the
 * harness reaches every node from the root namespace. Needs root and `ip`. Names carry a random tag so runs do not
 * clash; `teardown` removes everything, and is safe to call twice.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Topology {
  readonly tag: string;
  readonly bridge: string;
  /** Namespace name and address of node i. */
  readonly nodes: readonly { readonly ns: string; readonly ip: string; readonly veth: string }[];
  readonly hostIp: string;
  teardown(): void;
}

/** Creates `n` namespaces on a fresh bridge, subnet 10.77.<x>.0/24 (x random, so parallel runs differ). */
export function createTopology(n: number): Topology {
  const tag = randomBytes(3).toString('hex');
  const subnet = `10.77.${1 + (parseInt(tag.slice(0, 2), 16) % 250)}`;
  const bridge = `chb${tag}`;
  const nodes = Array.from({ length: n }, (_, i) => ({ ns: `ch${tag}n${i}`, ip: `${subnet}.${10 + i}`, veth: `ch${tag}v${i}` }));
  const topology: Topology = {
    tag, bridge, nodes, hostIp: `${subnet}.1`,
    teardown() {
      for (const node of nodes) {
        try { sh('ip', ['netns', 'del', node.ns]); } catch { /* already gone */ }
        try { sh('ip', ['link', 'del', node.veth]); } catch { /* went with the namespace */ }
      }
      try { sh('ip', ['link', 'del', bridge]); } catch { /* already gone */ }
    },
  };
  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `${topology.hostIp}/24`, 'dev', bridge]);
    sh('ip', ['link', 'set', bridge, 'up']);
    for (const node of nodes) {
      sh('ip', ['netns', 'add', node.ns]);
      sh('ip', ['link', 'add', node.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.ns]);
      sh('ip', ['link', 'set', node.veth, 'master', bridge]);
      sh('ip', ['link', 'set', node.veth, 'up']);
      sh('ip', ['-n', node.ns, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', node.ns, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', node.ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    topology.teardown();
    throw e;
  }
  return topology;
}

/** Namespaces and bridges of this harness left behind by a run that was killed (name prefix `ch`). */
export function leftovers(tag: string): string[] {
  return sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`ch${tag}`));
}
