/**
 * The composition root of a running sequencer: a node (src/node) and the JSON-RPC server that exposes it
 * (src/rpc/serve-node.ts), with the slash calldata encoder of src/chain injected into the RPC methods.
 * `sequencer start` (cmd/commands/start.ts), the benchmark's node process and the in-process test network
 * (test/helpers/network.ts) start nodes through here.
 */
import { encodeSlashCalldata } from '../chain/bond-contract.ts';
import { encodeVoteSlashCalldata } from '../chain/vote-slashing.ts';
import type { Logger } from '../core/logger.ts';
import type { NodeConfig } from '../node/config.ts';
import { SequencerNode } from '../node/sequencer-node.ts';
import { serveNode } from '../rpc/serve-node.ts';

/** Starts a node and its JSON-RPC server as `config` says; on failure, whatever started is stopped again. */
export async function startSequencer(config: NodeConfig, log: Logger): Promise<SequencerNode> {
  const node = await SequencerNode.start(config, log);
  try {
    await serveNode(node, {
      host: config.rpcHost, port: config.rpcPort, limits: { maxConnections: config.rpcMaxConnections }, log,
      deps: { slashCalldata: encodeSlashCalldata, voteSlashCalldata: encodeVoteSlashCalldata },
    });
  } catch (e) {
    await node.stop();
    throw e;
  }
  log.info('node started', { mode: config.mode, rpc: node.rpcUrl, multiaddrs: node.multiaddrs(), height: node.info().height });
  return node;
}
