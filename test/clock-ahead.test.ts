/**
 * A leader whose wall clock runs ahead (docs/protocol.md §View change, T1; §Batch verification rule 8): four
 * validators as real processes; the leader of view 0 is killed and restarted with its clock 120 s ahead (beyond the
 * 60 s a header may be ahead of its verifier: scripts/chaos/clock-ahead.ts, preloaded, moves Date.now). Its batches
 * are not valid yet anywhere else, so the others count them as work they cannot take, its own votes on them as no
 * progress, time the view out, and view 1's leader takes over: finality resumes, and no header from the future
 * becomes final.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { clientSigner, waitFor } from './helpers/network.ts';
import { startValidatorProcesses } from './helpers/validator-processes.ts';

const CLOCK_AHEAD = fileURLToPath(new URL('../scripts/chaos/clock-ahead.ts', import.meta.url));
const AHEAD_MS = 120_000;

test('a leader whose clock runs 120 s ahead is timed out: view 1 takes over and nothing from the future is final', { timeout: 120_000 }, async (t) => {
  const { nodes, rpcs, restart } = await startValidatorProcesses(t);
  await waitFor(async () => (await Promise.all(rpcs.map((r) => r.info()))).every((i) => i.notReady === null && i.connectedPeers.length >= 2), 20_000, 'validators up');
  const signer = clientSigner();
  let nonce = 1n;
  const submit = (via: number) => rpcs[via].append(signer.sign({ nonce: nonce++, transactions: [new TextEncoder().encode(`tx ${nonce}`)] }));
  await submit(1);
  await waitFor(async () => (await rpcs[1].info()).finalizedHeight >= 0, 10_000, 'a final height');

  nodes[0].child.kill('SIGKILL');
  await nodes[0].exited;
  await restart(0, [1, 2, 3].flatMap((i) => nodes[i].started.multiaddrs), { NODE_OPTIONS: `--import ${CLOCK_AHEAD}`, CHAOS_CLOCK_AHEAD_MS: String(AHEAD_MS) });
  await waitFor(async () => (await rpcs[0].info()).notReady === null, 20_000, 'the leader back, its clock ahead');

  // Clients keep sending through validator 1 (a failed append is sent again, the same way a client would).
  let loading = true;
  t.after(() => { loading = false; });
  const load = (async () => {
    while (loading) await submit(1).catch(() => new Promise((r) => setTimeout(r, 100)));
  })();
  const loadFrom = performance.now();
  let finalView = -1;
  await waitFor(async () => {
    const info = await rpcs[1].info();
    if (info.view < 1 || info.finalizedHeight < 0) return false;
    finalView = (await rpcs[1].getBatch(info.finalizedHeight)).header.view;
    return finalView >= 1;
  }, 30_000, 'a final header of a later view');
  const tookMs = performance.now() - loadFrom;
  t.diagnostic(`a final header of view ${finalView} ${Math.round(tookMs)} ms after the load reached the leader with its clock ahead`);
  // The liveness bound of a failed view with default timeouts (T = 1 s, a few views at most); a leader whose future
  // batches counted as no work, and whose own votes as progress, held the view about 10 s here.
  assert.ok(tookMs < 5_000, `taken over within the bound of a failed view (${Math.round(tookMs)} ms)`);
  loading = false;
  await load;

  // Every final header's timestamp is within the skew bound of the clocks that judged it.
  const info = await rpcs[1].info();
  for (let h = 0; h <= info.finalizedHeight; h++) {
    const { header } = await rpcs[1].getBatch(h);
    assert.ok(header.timestamp < Date.now() + 60_000, `height ${h} (view ${header.view}) is not from the future`);
  }
});
