/**
 * Censorship resistance (docs/protocol.md §View change, T2): four validators as real processes; the leader of view 0
 * runs with fault injection that makes it never sequence one client's submissions, while another client's load keeps
 * it producing batches. The censored client sends its submission to an honest validator, which publishes it on the
 * pending topic when no receipt comes; every validator watches it wait while the leader stores batches with room
 * for it, times the view out, and the next leader sequences it: it is final, exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { clientSigner, waitFor } from './helpers/network.ts';
import { startValidatorProcesses } from './helpers/validator-processes.ts';
import { VALIDATORS } from './helpers/validators.ts';
const CENSORED_KEY = fromHex('0x' + '77'.repeat(32));

test('a censored client\'s submission sent to an honest validator is final after a view change, exactly once', { timeout: 90_000 }, async (t) => {
  const censored = addressFromPrivateKey(CENSORED_KEY);
  const { rpcs } = await startValidatorProcesses(t, { allow: [toHex(censored)], extraArgs: (i) => (i === 0 ? ['--unsafe-censor', toHex(censored)] : []) });
  await waitFor(async () => (await Promise.all(rpcs.map((r) => r.info()))).every((i) => i.notReady === null && i.connectedPeers.length >= 2), 20_000, 'validators up');

  // Another client's load keeps the censoring leader busy with small batches.
  const load = clientSigner();
  let nonce = 1n;
  let loading = true;
  t.after(() => { loading = false; }); // a failed wait must not leave the load running
  const loader = (async () => {
    while (loading) {
      const n = nonce++;
      await rpcs[1].append(load.sign({ nonce: n, transactions: [new TextEncoder().encode(`load ${n}`)] })).catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await waitFor(async () => (await rpcs[1].info()).finalizedHeight >= 3, 20_000, 'load under way');

  const victim = clientSigner(CENSORED_KEY).sign({ nonce: 1n, transactions: [new TextEncoder().encode('censored tx')] });
  const sentAt = performance.now();
  void rpcs[2].append(victim).catch(() => {});
  // Final somewhere in the log of an honest validator, with a header of a later view.
  let finalAt = -1;
  await waitFor(async () => {
    const info = await rpcs[3].info();
    if (info.view < 1 || info.finalizedHeight < 0) return false;
    const top = (await rpcs[3].getBatch(info.finalizedHeight)).header;
    for (let seq = Math.max(0, top.firstSeq + top.count - 2000); seq < top.firstSeq + top.count; seq += 1000) {
      for (const e of await rpcs[3].read(seq, 1000)) {
        if (e.height <= info.finalizedHeight && e.sender === toHex(censored)) finalAt = e.height;
      }
    }
    return finalAt >= 0;
  }, 30_000, 'the censored submission final');
  t.diagnostic(`censored submission final (height ${finalAt}) ${Math.round(performance.now() - sentAt)} ms after it was sent`);
  loading = false;
  await loader;

  const info = await rpcs[3].info();
  assert.ok(info.view >= 1, 'the censoring leader was replaced');
  assert.notEqual(info.leader, toHex(VALIDATORS[0]));
  // Exactly once in the final log.
  const top = (await rpcs[3].getBatch(info.finalizedHeight)).header;
  let copies = 0;
  for (let seq = 0; seq < top.firstSeq + top.count; seq += 1000) {
    for (const e of await rpcs[3].read(seq, 1000)) if (e.sender === toHex(censored) && e.height <= info.finalizedHeight) copies++;
  }
  assert.equal(copies, 1);
});
