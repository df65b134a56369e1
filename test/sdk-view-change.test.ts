/**
 * The SDK's soft stream across a view change that replaces soft batches (docs/sdk.md, watchEntries; docs/protocol.md
 * §View change): four validators in-process (real libp2p, real LevelDB). With the three others down nothing is final,
 * and a watcher following soft hands out the leader's batches. The leader stops, the three return without those
 * batches, and view 1 seals others at those heights. The watcher ends with EntriesReplacedError (the two
 * headers, of different views, and the height from which entries may be gone), not with InconsistentLogError, which
 * would accuse the node of lying; a watcher following final never handed out the replaced entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSequencerClient, EntriesReplacedError, InconsistentLogError, type EntryJson } from '../src/client/index.ts';
import { join } from 'node:path';
import { CHAIN_ID, LOG_ID, clientSigner, startReplica, waitFor } from './helpers/network.ts';
import { KEYS, VALIDATORS, startNet, stopValidator } from './helpers/validators.ts';

test('a view change replacing soft batches ends a soft stream with EntriesReplacedError; a final stream never saw them', { timeout: 90_000 }, async (t) => {
  const net = await startNet(t);
  const signer = clientSigner();
  let nonce = 1n;
  const sign = () => signer.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] });
  await net.nodes[0]!.append(sign());
  await waitFor(() => net.nodes.every((n) => n!.info().finalizedHeight >= 0), 10_000, 'height 0 final');

  // The leader alone: its next batches are stored by it only, soft, and streamed soft from it. Validator 1 comes back
  // on the same RPC port, the watcher's second URL.
  const rpcPort1 = Number(new URL(net.nodes[1]!.rpcUrl).port);
  for (const i of [1, 2, 3]) await stopValidator(net, i);
  const softReceipts = [await net.nodes[0]!.append(sign()), await net.nodes[0]!.append(sign())];
  const softTop = softReceipts.at(-1)!.header.height;
  const urls = [net.nodes[0]!.rpcUrl, `http://127.0.0.1:${rpcPort1}`];
  const client = createSequencerClient({ urls, logId: LOG_ID, chainId: CHAIN_ID, validators: VALIDATORS });
  const soft: EntryJson[] = [];
  const final: EntryJson[] = [];
  let softEnd: unknown;
  const unwatchSoft = client.watchEntries({ fromSeq: 0, onEntry: (e) => { soft.push(e); }, onError: (e) => { softEnd = e; }, retryDelayMs: 50, maxRetryDelayMs: 200 });
  const unwatchFinal = client.watchEntries({ fromSeq: 0, finality: 'final', onEntry: (e) => { final.push(e); }, onError: () => {} });
  t.after(() => { unwatchSoft(); unwatchFinal(); });
  await waitFor(() => soft.some((e) => e.height === softTop), 10_000, 'the soft batches streamed');
  assert.ok(final.every((e) => e.height < softReceipts[0]!.header.height), 'the final stream did not hand them out');

  // The leader stops; the three others return without its soft batches, time view 0 out, and view 1 (validator 1
  // leads) seals other batches at those heights. The watcher, switched to validator 1, meets them.
  await stopValidator(net, 0);
  for (const i of [1, 2, 3]) {
    const peers = [1, 2, 3].filter((j) => j < i).flatMap((j) => net.nodes[j]!.multiaddrs());
    net.nodes[i] = await startReplica(join(net.dir, `v${i}`), peers, { mode: 'validator', privateKey: KEYS[i], validators: VALIDATORS, ...(i === 1 ? { rpcPort: rpcPort1 } : {}) });
  }
  for (let appended = 0; appended < 3;) {
    try {
      const r = await net.nodes[1]!.append(sign());
      assert.ok(r.header.view >= 1, 'sequenced in the new view');
      appended++;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await waitFor(() => softEnd !== undefined, 30_000, 'the soft stream ended');
  assert.ok(softEnd instanceof EntriesReplacedError, `EntriesReplacedError, not ${(softEnd as Error).name}: ${(softEnd as Error).message}`);
  assert.ok(!(softEnd instanceof InconsistentLogError));
  assert.ok(softEnd.served.header.view > softEnd.held.header.view);
  assert.equal(softEnd.fromHeight, softTop);
});
