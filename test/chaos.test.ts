/**
 * The chaos harness (scripts/chaos, docs/chaos.md): its checker finds what it must (never vacuous); a short run over
 * network namespaces, with kills (the leader too), a leader whose clock runs ahead, partitions, packet loss and relay
 * delay, keeps safety and liveness; and nothing of a run is left behind, whether it ends or is interrupted. The runs
 * need root, `ip` and `nft` (CI has them); elsewhere they are skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { check, type ChaosRecord, type ReceiptRecord } from '../scripts/chaos/check.ts';
import { leftovers } from '../scripts/chaos/links.ts';
import { RelayProcess } from '../scripts/chaos/relay.ts';
import { runChaos } from '../scripts/chaos/run.ts';

const entry = (seq: number, nonce: number) => ({ seq, sender: '0xaa', nonce: String(nonce), payload: `tx ${nonce}` });
/** A receipt; its header's content key is `c<hash>` unless given (a re-proposal keeps it, under another hash). */
const receipt = (nonce: number, seq: number, height: number, headerHash: string, finality: 'soft' | 'final', contentKey = `c${headerHash}`): ReceiptRecord => ({
  sender: '0xaa', nonce: String(nonce), payload: `tx ${nonce}`, finality, height, firstSeq: seq, count: 1, headerHash, contentKey, sentMs: 0, answeredMs: 5, node: 'a',
});
const healthy: ChaosRecord = {
  nodes: [
    { name: 'a', finalHeaders: ['0x01', '0x02'], finalContent: ['c0x01', 'c0x02'], finalEntries: [entry(0, 1), entry(1, 2), entry(2, 3)] },
    { name: 'b', finalHeaders: ['0x01', '0x02'], finalContent: ['c0x01', 'c0x02'], finalEntries: [entry(0, 1), entry(1, 2), entry(2, 3)] },
  ],
  receipts: [receipt(1, 0, 0, '0x01', 'final'), receipt(3, 2, 1, '0x02', 'soft')],
  faults: [{ fault: 'kill -9 validator A', startedMs: 0, healedMs: 10, recoveredAfterMs: 300 }],
  boundMs: 10_000,
};

test('the chaos checker passes a consistent record and names every kind of violation', () => {
  assert.deepEqual(check(healthy), { ok: true, violations: [] });
  const violations = (r: Partial<ChaosRecord>) => check({ ...healthy, ...r }).violations.join('\n');
  // Two final headers for one height.
  assert.match(violations({ nodes: [healthy.nodes[0], { ...healthy.nodes[1], finalHeaders: ['0x09', '0x02'] }] }), /2 different final headers at height 0/);
  // A final receipt whose transaction is missing from one node's final log, or at another sequence number.
  assert.match(violations({ nodes: [healthy.nodes[0], { ...healthy.nodes[1], finalEntries: [entry(1, 2), entry(2, 3)] }] }), /final receipt for 0xaa\/1 .*b's final log holds nothing at seq 0/);
  assert.match(violations({ receipts: [receipt(1, 1, 0, '0x01', 'final')] }), /final log holds 0xaa\/2 "tx 2" at seq 1/);
  // A final receipt under a header that is not the final one, unless the final one re-proposes it (the same header but
  // for its view: the same content key).
  assert.match(violations({ receipts: [receipt(1, 0, 0, '0x07', 'final')] }), /final header there is 0x01, not 0x07/);
  assert.equal(violations({ receipts: [receipt(1, 0, 0, '0x07', 'final', 'c0x01')] }), '');
  // A soft receipt whose transaction is final nowhere (lost).
  assert.match(violations({ receipts: [receipt(4, 3, 1, '0x02', 'soft')] }), /acknowledged 0xaa\/4 "tx 4" is not in any final log/);
  // One submission sequenced twice.
  assert.match(violations({ nodes: [{ ...healthy.nodes[0], finalEntries: [entry(0, 1), entry(1, 1)] }], receipts: [] }), /sequenced 0xaa\/1 2 times \(seq 0, 1\)/);
  // Finality that never resumed, or too late.
  assert.match(violations({ faults: [{ ...healthy.faults[0], recoveredAfterMs: null }] }), /finality never resumed/);
  assert.match(violations({ faults: [{ ...healthy.faults[0], recoveredAfterMs: 12_000 }] }), /resumed only after 12000 ms \(bound 10000 ms\)/);
  assert.equal(check({ ...healthy, collectionErrors: ['validator B: batch 9 not found'] }).ok, false);
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

test('a short chaos run: kills (the leader too), a leader clock ahead, partitions, loss and delay across network namespaces; no safety violation, finality resumes after every fault, nothing left behind', { timeout: 240_000 }, async (t) => {
  const why = whyNotRunnable();
  if (why) {
    t.skip(`needs root, ip and nft: ${why}`);
    return;
  }
  const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  let tag = '';
  const report = await runChaos({ durationS: 30, seed, boundMs: 10_000, leaderFaults: true, log: (line) => t.diagnostic(line), onNetwork: (x) => { tag = x; } });
  t.diagnostic(`seed ${seed}: ${report.faults.length} faults, ${report.receipts.length} receipts, final height ${report.finalHeight}, highest view ${report.highestView}`);
  assert.ok(report.faults.length >= 4, 'faults were injected');
  assert.ok(report.faults.some((f) => f.fault.includes('(the leader)')), 'the leader was struck');
  assert.ok(report.receipts.some((r) => r.finality === 'final') && report.receipts.length > 100, 'load went on, with final receipts');
  assert.equal(report.nodes.length, 5, 'every validator and the observer were read back');
  assert.deepEqual(report.verdict.violations, []);
  assert.deepEqual(leftovers(tag), [], 'namespaces and links torn down');
});

test('an interrupted chaos run (SIGINT) leaves no namespace, link, node process or store behind', { timeout: 60_000 }, async (t) => {
  const why = whyNotRunnable();
  if (why) {
    t.skip(`needs root, ip and nft: ${why}`);
    return;
  }
  const run = spawn(process.execPath, [fileURLToPath(new URL('../scripts/chaos/run.ts', import.meta.url)), '--duration', '60', '--seed', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const network = await new Promise<{ tag: string; dir: string }>((resolve, reject) => {
    run.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /network (\w+): .* stores and logs in (\S+)\n/.exec(out);
      // Interrupt once the nodes run: after the first fault started.
      if (m && /finality resumed/.test(out)) resolve({ tag: m[1], dir: m[2] });
    });
    run.on('exit', () => reject(new Error(`the run ended before it was interrupted:\n${out}`)));
  });
  assert.notDeepEqual(leftovers(network.tag), [], 'the run had built its network');
  run.kill('SIGINT');
  const code = await new Promise((resolve) => run.on('exit', resolve));
  assert.equal(code, 130);
  assert.deepEqual(leftovers(network.tag), []);
  assert.equal(existsSync(network.dir), false, 'the stores are removed');
  await new Promise((r) => setTimeout(r, 300));
  assert.throws(() => execFileSync('pgrep', ['-f', network.dir]), 'no node process left');
});

test('the chaos relay delays a TCP stream without reordering it, and its delay can be lifted', { timeout: 30_000 }, async () => {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const received: Buffer[] = [];
  const sink = createServer((s) => s.on('data', (d: Buffer) => received.push(d)));
  await new Promise<void>((r) => sink.listen(port, '127.0.0.1', r));
  const relay = await RelayProcess.start({ port, routes: [{ listen: '127.0.0.2', target: '127.0.0.1' }] });
  try {
    // Jitter far above the gap between writes: most chunks would overtake the one before if each had its own timer.
    await relay.setDelay({ delayMs: 20, jitterMs: 40 });
    const client = connect({ host: '127.0.0.2', port });
    await new Promise((r) => client.once('connect', r));
    const sentAt = performance.now();
    client.setNoDelay(true);
    const lines = Array.from({ length: 300 }, (_, i) => `${i}\n`);
    for (const line of lines) {
      client.write(line);
      await new Promise((r) => setTimeout(r, 1));
    }
    const all = lines.join('');
    while (Buffer.concat(received).toString().length < all.length) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(received).toString(), all, 'bytes in order');
    assert.ok(performance.now() - sentAt >= 20, 'held at least the delay');
    await relay.setDelay({ delayMs: 0, jitterMs: 0 });
    client.end();
  } finally {
    relay.stop();
    sink.close();
  }
});
