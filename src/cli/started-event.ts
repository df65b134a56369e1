/**
 * The one JSON line a node process prints on stdout once it serves (`sequencer start`, and the benchmarks'
 * benchmarks/node-process.ts): what a supervisor needs to reach it. Logs go to stderr, so stdout carries only this.
 */
import { toHex } from '../core/bytes.ts';
import type { Mode, NodeConfig } from '../node/config.ts';
import type { SequencerNode } from '../node/sequencer-node.ts';

export interface StartedEvent {
  readonly event: 'started';
  readonly mode: Mode;
  /** The JSON-RPC URL. */
  readonly rpc: string;
  /** libp2p listen addresses, each ending in /p2p/<peerId>. */
  readonly multiaddrs: string[];
  /** The node's key address (0x-hex), or null for a replica run without a key. */
  readonly address: string | null;
  readonly peerId: string;
  /** The primary's address (0x-hex). */
  readonly primary: string;
  /** 0x-hex. */
  readonly logId: string;
  readonly chainId: number;
}

/** The started line of a node that serves (its RPC server attached). */
export function startedEvent(node: SequencerNode, config: NodeConfig): StartedEvent {
  const info = node.info();
  return {
    event: 'started',
    mode: config.mode,
    rpc: node.rpcUrl,
    multiaddrs: node.multiaddrs(),
    address: node.address ? toHex(node.address) : null,
    peerId: info.peerId as string,
    primary: info.primary as string,
    logId: toHex(config.logId),
    chainId: config.chainId,
  };
}

/** The event if `line` is a started line, else undefined (any other output is not ours to judge). */
export function parseStartedEvent(line: string): StartedEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as Partial<StartedEvent>;
    return parsed.event === 'started' ? parsed as StartedEvent : undefined;
  } catch {
    return undefined;
  }
}
