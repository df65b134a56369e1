/**
 * Leader failover (docs/protocol.md §View change): four validators as real processes; clients append through the
 * three that do not lead; the leader of view 0 is killed with SIGKILL under that load. The others time it out, form a
 * timeout certificate, enter view 1, and its leader sequences on the highest lock: finality resumes with headers of
 * the new view. The killed leader, restarted on its store, learns the new view and follows it. At the end every node
 * holds the same final headers, and every transaction a client was given a receipt for is in the final log exactly
 * once (soft receipts of an abandoned view included: their submissions are sent to the new leader again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../src/core/bytes.ts';
import type { Submission } from '../src/core/submission.ts';
import { clientSigner, waitFor } from './helpers/network.ts';
import { startValidatorProcesses } from './helpers/validator-processes.ts';
import { VALIDATORS } from './helpers/validators.ts';

test('the leader killed (SIGKILL) under load: view 1 takes over, finality resumes, the old leader follows again, nothing acknowledged is lost or doubled', { timeout: 120_000 }, async (t) => {
  const { nodes, rpcs, restart } = await startValidatorProcesses(t); // default view timeout (1 s)
  await waitFor(async () => (await Promise.all(rpcs.map((r) => r.info()))).every((i) => i.notReady === null && i.connectedPeers.length >= 2), 20_000, 'validators up');

  // Load through validators 1..3 (they forward to the leader); a submission is retried, the same signed bytes,
  // until some node answers it with a receipt.
  const signer = clientSigner();
  const acked = new Map<string, Submission>();
  let nonce = 1n;
  let loading = true;
  t.after(() => { loading = false; }); // a failed wait must not leave the load running
  const startLoad = () => [1, 2, 3].map(async (via) => {
    while (loading) {
      const n = nonce++;
      const s = signer.sign({ nonce: n, transactions: [new TextEncoder().encode(`tx ${n}`)] });
      for (let attempt = 0; attempt < 20 && !acked.has(`tx ${n}`); attempt++) {
        try {
          await rpcs[via].append(s);
          acked.set(`tx ${n}`, s);
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  });
  let load = startLoad();
  await waitFor(async () => acked.size >= 30 && (await rpcs[1].info()).finalizedHeight >= 3, 20_000, 'load under way');

  nodes[0].child.kill('SIGKILL');
  await nodes[0].exited;
  const killedAt = performance.now();
  // Finality resumes in view 1: a final header of view >= 1.
  let firstFinal = -1;
  await waitFor(async () => {
    const info = await rpcs[1].info();
    if (info.view < 1 || info.finalizedHeight < 0) return false;
    const batch = await rpcs[1].getBatch(info.finalizedHeight);
    if (batch.header.view < 1) return false;
    firstFinal = info.finalizedHeight;
    return true;
  }, 30_000, 'a final header of the new view');
  t.diagnostic(`first final header of view >= 1 (height ${firstFinal}) ${Math.round(performance.now() - killedAt)} ms after the kill`);
  const info1 = await rpcs[1].info();
  assert.equal(info1.leader, toHex(VALIDATORS[info1.view % 4]));
  assert.ok(info1.viewChanges >= 1);

  // The old leader comes back while nothing new is sequenced (no batch to learn the view from): it learns it from
  // its peers (their status says how they entered it) and does not lead view 0 again: what a client sends it is
  // sequenced by the current leader.
  loading = false;
  await Promise.all(load);
  await restart(0, nodes.slice(1).flatMap((n) => n.started.multiaddrs));
  await waitFor(async () => (await rpcs[0].info()).view >= 1, 10_000, 'the restarted leader in the new view');
  const through0 = signer.sign({ nonce: 1_000_000n, transactions: [new TextEncoder().encode('via the old leader')] });
  const viaOld = await rpcs[0].append(through0);
  assert.ok(viaOld.header.view >= 1, `sequenced in view ${viaOld.header.view}`);
  acked.set('via the old leader', through0);
  loading = true;
  load = startLoad();
  const sizeAtRestart = acked.size;
  await waitFor(() => acked.size >= sizeAtRestart + 20, 20_000, 'load goes on after the restart');
  loading = false;
  await Promise.all(load);

  // Settled: every acknowledged transaction final, on every node.
  const target = (await rpcs[1].info()).height;
  await waitFor(async () => (await Promise.all(rpcs.map((r) => r.info()))).every((i) => i.finalizedHeight >= target), 30_000, 'every node final up to the last batch');
  const infos = await Promise.all(rpcs.map((r) => r.info()));
  assert.ok(infos[0].view >= 1, 'the restarted leader is in the new view');
  const final = Math.min(...infos.map((i) => i.finalizedHeight));
  for (let h = 0; h <= final; h++) {
    const hashes = new Set(await Promise.all(rpcs.map(async (r) => (await r.getBatch(h)).headerHash)));
    assert.equal(hashes.size, 1, `one final header at height ${h} on every node`);
  }
  // Every acknowledged transaction is in the final log exactly once.
  const top = (await rpcs[1].getBatch(final)).header;
  const counts = new Map<string, number>();
  for (let seq = 0; seq < top.firstSeq + top.count; seq += 1000) {
    for (const e of await rpcs[2].read(seq, 1000)) {
      if (e.height > final) continue;
      const text = new TextDecoder().decode(fromHex(e.payload));
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
  }
  for (const [text, n] of counts) assert.equal(n, 1, `${text} sequenced ${n} times`);
  const missing = [...acked.keys()].filter((k) => !counts.has(k));
  assert.deepEqual(missing, [], 'every acknowledged transaction is final');
  t.diagnostic(`${acked.size} acknowledged transactions, ${final + 1} final heights, views up to ${Math.max(...infos.map((i) => i.view))}`);
});
