/** Starts real nodes in this process (real LevelDB in a temp dir, real libp2p on loopback) for tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, type Bytes } from '../../src/core/bytes.ts';
import { domainSeparator } from '../../src/core/eip712.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { SubmissionSigner } from '../../src/client/submission-signer.ts';
import { RpcClient } from '../../src/client/rpc-client.ts';
import type { NodeConfig } from '../../src/node/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createLogger } from '../../src/node/logger.ts';
import type { SequencerNode } from '../../src/node/sequencer-node.ts';
import { startSequencer } from '../../src/cli/start-sequencer.ts';
import type { Host } from '../../src/p2p/host.ts';
import type { TestContext } from 'node:test';

export const PRIMARY_KEY = fromHex('0x' + '11'.repeat(32));
export const CLIENT_KEY = fromHex('0x' + '22'.repeat(32));
export const OUTSIDER_KEY = fromHex('0x' + '33'.repeat(32));
export const CHAIN_ID = 31337;
export const LOG_ID = keccak256(new TextEncoder().encode('sequencer-test'));
export const SEPARATOR = domainSeparator({ chainId: CHAIN_ID, logId: LOG_ID });

export const log = process.env.TEST_LOG ? createLogger('debug') : silentLogger;

export function clientSigner(key: Bytes = CLIENT_KEY): SubmissionSigner {
  return new SubmissionSigner(key, SEPARATOR);
}

export async function tempDir(prefix = 'seq-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export function baseConfig(dataDir: string, over: Partial<NodeConfig> = {}): NodeConfig {
  return {
    mode: 'replica',
    dataDir,
    rpcHost: '127.0.0.1',
    rpcPort: 0,
    p2pHost: '127.0.0.1',
    p2pPort: 0,
    peers: [],
    allow: [addressFromPrivateKey(CLIENT_KEY)],
    primary: addressFromPrivateKey(PRIMARY_KEY),
    logId: LOG_ID,
    chainId: CHAIN_ID,
    ...over,
  };
}

/**
 * A primary. Without `peers` it is a lone primary on a new log, which a primary refuses to be unless told
 * (docs/protocol.md §Primary start-up), so this says it with `unsafeSkipRecovery` unless `over` decides.
 */
export async function startPrimary(dataDir: string, over: Partial<NodeConfig> = {}): Promise<SequencerNode> {
  const lone = (over.peers ?? []).length === 0;
  return startSequencer(baseConfig(dataDir, { mode: 'primary', privateKey: PRIMARY_KEY, unsafeSkipRecovery: lone, ...over }), log.child({ node: 'primary' }));
}

export async function startReplica(dataDir: string, peers: string[], over: Partial<NodeConfig> = {}): Promise<SequencerNode> {
  return startSequencer(baseConfig(dataDir, { peers, ...over }), log.child({ node: 'replica' }));
}

/** A primary and one replica bootstrapped to it, in a temp dir; both stopped and the dir removed after the test. */
export async function startPrimaryAndReplica(t: TestContext): Promise<{ primary: SequencerNode; replica: SequencerNode }> {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(async () => { await Promise.all([replica.stop(), primary.stop()]); await dir.remove(); });
  return { primary, replica };
}

export function client(node: SequencerNode): RpcClient {
  return new RpcClient(node.rpcUrl);
}

/**
 * The node's own gossipsub score of `peer`: what its validators' rejects of that peer's messages cost it. Read
 * from the node's libp2p host (a private field: no API exposes peer scores), so a test can assert that a node
 * penalised a peer, not merely that a number exists.
 */
export function peerScoreAt(node: SequencerNode, peer: string): number {
  return (node as unknown as { host: Host }).host.peerScore(peer);
}

/** Polls `check` until it returns true or `ms` passes. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
