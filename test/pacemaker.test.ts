/**
 * The pacemaker's back-off (docs/protocol.md §View change, "Timeouts"): T(v) doubles for every view entered while
 * finality does not advance, except for views skipped because their leader is proven to equivocate (T3), which
 * say nothing about the network being slow. A real libp2p host (no peers) and a real LevelDB safety store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { ClassicLevel } from 'classic-level';
import type { Bytes } from '../src/core/bytes.ts';
import { silentLogger } from '../src/core/logger.ts';
import { createHost } from '../src/p2p/host.ts';
import { Pacemaker } from '../src/roles/pacemaker.ts';
import { SafetySigner } from '../src/storage/safety-store.ts';
import { KEYS, RULES, tcOf } from './core/view-fixtures.ts';

const BASE_MS = 1_000;

/** Validator 1's pacemaker, with `convicted` the validators it holds equivocation proofs against. */
async function startPacemaker(t: TestContext, convicted: ReadonlySet<number>): Promise<Pacemaker> {
  const dir = await mkdtemp(join(tmpdir(), 'seq-pacemaker-'));
  const db = new ClassicLevel<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  const host = await createHost({ privateKey: await generateKeyPair('Ed25519'), listenPort: 0, bootstrapPeers: [], maxMessageBytes: 1_000_000, log: () => {} });
  const signer = await SafetySigner.open(db, RULES, KEYS[1]!);
  const pacemaker = new Pacemaker({
    host, rules: RULES, log: silentLogger, signer, baseTimeoutMs: BASE_MS,
    workPending: () => false,
    leaderConvicted: (view) => convicted.has(view % RULES.membership.n),
  });
  pacemaker.start();
  t.after(async () => {
    await pacemaker.stop();
    await host.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return pacemaker;
}

test('each view entered without finality doubles the view timeout', async (t) => {
  const pacemaker = await startPacemaker(t, new Set());
  assert.equal(pacemaker.viewTimeoutMs, BASE_MS);
  await pacemaker.enter(pacemaker.checkEntry(tcOf(0, [null, null, null]), undefined));
  await pacemaker.enter(pacemaker.checkEntry(tcOf(1, [null, null, null]), undefined));
  assert.equal(pacemaker.curView, 2);
  assert.equal(pacemaker.viewTimeoutMs, 4 * BASE_MS);
  pacemaker.finalized();
  assert.equal(pacemaker.viewTimeoutMs, BASE_MS, 'finality resets the back-off');
});

test('a view skipped because its leader is proven to equivocate does not lengthen the timeout', async (t) => {
  const pacemaker = await startPacemaker(t, new Set([1]));
  await pacemaker.enter(pacemaker.checkEntry(tcOf(0, [null, null, null]), undefined)); // view 0 failed: T doubles
  assert.equal(pacemaker.viewTimeoutMs, 2 * BASE_MS);
  await pacemaker.enter(pacemaker.checkEntry(tcOf(1, [null, null, null]), undefined)); // view 1's leader convicted
  assert.equal(pacemaker.curView, 2);
  assert.equal(pacemaker.viewTimeoutMs, 2 * BASE_MS, 'the skipped view is not counted');
});
