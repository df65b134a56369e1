/**
 * A log of four validators (in-process nodes: real libp2p on loopback, real LevelDB) and an observer, for the
 * finality and view-change tests.
 */
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { fromHex, type Bytes } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import type { SequencerNode } from '../../src/node/sequencer-node.ts';
import { PRIMARY_KEY, startPrimary, startReplica, tempDir, waitFor } from './network.ts';

export const KEYS: readonly Bytes[] = [PRIMARY_KEY, fromHex('0x' + '44'.repeat(32)), fromHex('0x' + '55'.repeat(32)), fromHex('0x' + '66'.repeat(32))];
export const VALIDATORS = KEYS.map(addressFromPrivateKey);

export interface Net {
  readonly dir: string;
  readonly nodes: (SequencerNode | undefined)[];
  readonly observer: SequencerNode;
}

export function startValidator(net: { dir: string }, i: number, peers: string[]): Promise<SequencerNode> {
  return startReplica(join(net.dir, `v${i}`), peers, { mode: 'validator', privateKey: KEYS[i], validators: VALIDATORS });
}

/** The primary (validator 0), validators 1..3 and an observer, all connected; stopped and removed after the test. */
export async function startNet(t: TestContext): Promise<Net> {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'v0'), { validators: VALIDATORS });
  const nodes: (SequencerNode | undefined)[] = [primary];
  // Each validator connects to every node started before it: a validator starting on an empty store asks a quorum
  // of the others what they saw its key sign before it votes (§Finality, validator start-up).
  for (let i = 1; i < KEYS.length; i++) nodes.push(await startValidator({ dir: dir.path }, i, nodes.flatMap((n) => n!.multiaddrs())));
  const observer = await startReplica(join(dir.path, 'observer'), primary.multiaddrs(), { validators: VALIDATORS });
  const net = { dir: dir.path, nodes, observer };
  t.after(async () => {
    await Promise.all([...net.nodes, observer].map((n) => n?.stop()));
    await dir.remove();
  });
  // Every node subscribed to the votes topic and meshed, so no vote of the first batch is lost.
  await waitFor(() => [...nodes, observer].every((n) => n!.info().connectedPeers.length >= 1), 10_000, 'connected');
  await waitFor(() => nodes.every((n) => n!.info().notReady === null), 10_000, 'every validator recovered');
  await new Promise((r) => setTimeout(r, 1_200));
  return net;
}

/** Stops validator `i` (its store kept) and forgets it, so the test's cleanup does not stop it twice. */
export async function stopValidator(net: Net, i: number): Promise<void> {
  await net.nodes[i]!.stop();
  net.nodes[i] = undefined;
}
