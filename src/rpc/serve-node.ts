/**
 * Exposes a node over JSON-RPC: starts the server with the node's methods and attaches it to the node, so that
 * stopping the node closes it first. It sits above the node, so the node never imports the RPC. What the methods
 * need from layers the RPC must not import (the slash calldata encoder of src/chain) comes in through `deps`,
 * from the composition root (src/cli/start-sequencer.ts).
 */
import type { Logger } from '../core/logger.ts';
import type { SequencerNode } from '../node/sequencer-node.ts';
import { healthRoutes } from './health.ts';
import { createMethods, type MethodDeps } from './methods.ts';
import { metricsRoute } from './metrics-endpoint.ts';
import { eventsRoute } from './events.ts';
import { explorerRoutes } from './explorer.ts';
import { ingestRoute } from './ingest.ts';
import { INGEST_PATH } from '../wire/ingest-frames.ts';
import { startRpcServer, type RpcLimits, type RpcServer } from './server.ts';

export interface ServeOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly limits?: Partial<RpcLimits>;
  readonly log: Logger;
  readonly deps: MethodDeps;
}

/** Starts the JSON-RPC server for `node` and attaches it to the node. */
export async function serveNode(node: SequencerNode, opts: ServeOptions): Promise<RpcServer> {
  const { deps, ...server } = opts;
  const rpc = await startRpcServer({ methods: createMethods(node, deps), getRoutes: { '/events': eventsRoute(node), '/metrics': metricsRoute(node), ...healthRoutes(node), ...explorerRoutes() }, upgradeRoutes: { [INGEST_PATH]: ingestRoute(node) }, ...server });
  node.attach(rpc);
  return rpc;
}
