/**
 * The chaos harness (scripts/chaos, docs/chaos.md): its checker finds what it must (never vacuous), and a short run
 * over network namespaces, with kills, partitions and packet loss, keeps safety and liveness. The run needs root,
 * `ip` and `nft` (CI has them); elsewhere it is skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { check, type ChaosRecord } from '../scripts/chaos/check.ts';
import { runChaos } from '../scripts/chaos/run.ts';

const healthy: ChaosRecord = {
  nodes: [
    { name: 'a', finalHeaders: ['0x01', '0x02'], finalPayloads: ['tx 1', 'tx 2', 'tx 3'] },
    { name: 'b', finalHeaders: ['0x01'], finalPayloads: ['tx 1', 'tx 2'] },
  ],
  acknowledged: ['tx 1', 'tx 3'],
  faults: [{ fault: 'kill -9 validator 0', startedMs: 0, healedMs: 10, recoveredAfterMs: 300 }],
  boundMs: 10_000,
};

test('the chaos checker passes a consistent record and names every kind of violation', () => {
  assert.deepEqual(check(healthy), { ok: true, violations: [] });
  const forked = check({ ...healthy, nodes: [healthy.nodes[0], { ...healthy.nodes[1], finalHeaders: ['0x09'] }] });
  assert.match(forked.violations.join('\n'), /2 different final headers at height 0/);
  const lost = check({ ...healthy, acknowledged: ['tx 4'] });
  assert.match(lost.violations.join('\n'), /acknowledged "tx 4" is not in the final log/);
  const doubled = check({ ...healthy, nodes: [{ ...healthy.nodes[0], finalPayloads: ['tx 1', 'tx 1'] }] });
  assert.match(doubled.violations.join('\n'), /holds "tx 1" 2 times/);
  const stuck = check({ ...healthy, faults: [{ ...healthy.faults[0], recoveredAfterMs: null }] });
  assert.match(stuck.violations.join('\n'), /finality never resumed/);
  assert.equal(check({ ...healthy, collectionErrors: ['validator 1: batch 9 not found'] }).ok, false);
});

function whyNotRunnable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ip', 'nft']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `no ${tool} on this machine`;
    }
  }
  return null;
}

test('a short chaos run: kills (the leader too), partitions and packet loss across network namespaces; no safety violation, finality resumes after every fault', { timeout: 180_000 }, async (t) => {
  const why = whyNotRunnable();
  if (why) {
    t.skip(`needs root, ip and nft: ${why}`);
    return;
  }
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const report = await runChaos({ durationS: 30, seed, boundMs: 10_000, log: (line) => t.diagnostic(line) });
  t.diagnostic(`seed ${seed}: ${report.faults.length} faults, ${report.receipts} receipts, final height ${report.finalHeight}, highest view ${report.views}`);
  assert.ok(report.faults.length >= 5, 'faults were injected');
  assert.ok(report.receipts > 100, 'load went on');
  assert.deepEqual(report.verdict.violations, []);
});
