/** A replica started empty against a primary holding 100,000 entries catches up by itself, verifying everything. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { submissionToJson } from '../src/wire/json.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import { client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

test('an empty replica catches up with a 100,000-entry log', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });
  const signer = clientSigner();
  const rpc = client(primary);
  let nonce = 1n;
  for (let round = 0; round < 20; round++) {
    const calls = Array.from({ length: 50 }, () => {
      const n = nonce++;
      const txs = Array.from({ length: 100 }, (_, i) => new TextEncoder().encode(`entry ${n}.${i} `.padEnd(32, '.')));
      return { method: 'sequencer_append', params: [submissionToJson(signer.sign({ nonce: n, transactions: txs }))] };
    });
    const results = await rpc.callBatch(calls);
    assert.equal(results.filter((r) => r instanceof RpcError).length, 0);
  }
  const target = await rpc.info();
  assert.equal(target.entries, 100_000);

  const started = Date.now();
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(() => replica.stop());
  await waitFor(async () => (await client(replica).info()).entries === 100_000, 90_000, 'catch-up');
  const info = await client(replica).info();
  assert.equal(info.headerHash, target.headerHash);
  assert.equal(info.headHash, target.headHash);
  assert.deepEqual(await client(replica).read(99_990, 10), await rpc.read(99_990, 10));
  console.log(`caught up 100,000 entries (${target.height + 1} batches) in ${Date.now() - started} ms`);
});
