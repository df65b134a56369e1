/**
 * Crash safety with a real process: a primary killed with SIGKILL in the middle of a stream of appends loses
 * no acknowledged transaction, and after a restart it never signs a different header for a height it had
 * acknowledged; it continues from its stored tip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { toHex } from '../src/core/bytes.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { RpcClient } from '../src/client/rpc-client.ts';
import { cliEnv, freePorts, startNode } from './helpers/cli.ts';
import { CLIENT_KEY, LOG_ID, PRIMARY_KEY, clientSigner, tempDir, waitFor } from './helpers/network.ts';
import type { ReceiptJson } from '../src/wire/rpc-types.ts';

test('SIGKILL under load: every acknowledged receipt is in the log after restart, signed identically', { timeout: 90_000 }, async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const [rpcPort, p2pPort] = await freePorts(2);
  const args = [
    'start', '--mode', 'primary', '--db', join(dir.path, 'p'), '--rpc-port', String(rpcPort), '--p2p-port', String(p2pPort),
    '--allow', toHex(addressFromPrivateKey(CLIENT_KEY)), '--log-id', toHex(LOG_ID), '--chain-id', '31337',
  ];
  const env = cliEnv({ PRIVATE_KEY: toHex(PRIMARY_KEY) });
  const first = await startNode(t, args.slice(1), { env });
  const rpc = new RpcClient(first.started.rpc);
  const signer = clientSigner();

  const acked: ReceiptJson[] = [];
  let nonce = 1n;
  let stop = false;
  const workers = Array.from({ length: 6 }, async () => {
    while (!stop) {
      const n = nonce++;
      try {
        acked.push(await rpc.append(signer.sign({ nonce: n, transactions: [0, 1, 2].map((i) => new TextEncoder().encode(`${n}/${i}`)) })));
      } catch {
        return; // the primary is gone
      }
    }
  });
  // Kill once a fixed amount of progress is acknowledged, however long that takes on a loaded machine; the
  // workers are still sending, so the kill lands in the middle of the stream.
  const KILL_AFTER_ACKS = 30;
  await waitFor(() => acked.length >= KILL_AFTER_ACKS, 60_000, `${KILL_AFTER_ACKS} appends acknowledged`);
  first.child.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await first.exited;
  assert.ok(acked.length >= KILL_AFTER_ACKS, `appends were acknowledged before the kill (${acked.length})`);

  const second = await startNode(t, args.slice(1), { env });
  const after = new RpcClient(second.started.rpc);
  const info = await after.info();
  const maxAcked = Math.max(...acked.map((r) => r.height));
  assert.ok(info.height >= maxAcked, `stored tip ${info.height} covers every acknowledged height (${maxAcked})`);
  const heights = new Map<number, string>();
  for (const r of acked) {
    if (!heights.has(r.height)) heights.set(r.height, (await after.getBatch(r.height)).headerHash);
    assert.equal(heights.get(r.height), r.headerHash, `height ${r.height} holds exactly the acknowledged header`);
    const entries = await after.read(r.firstSeq, r.count);
    assert.deepEqual(entries.map((e) => e.entryHash), r.entryHashes);
  }
  // It continues on top of its stored tip, and old nonces stay used.
  const next = await after.append(signer.sign({ nonce: nonce + 1000n, transactions: [new TextEncoder().encode('after the crash')] }));
  assert.equal(next.height, info.height + 1);
  assert.equal(next.header.prevHeaderHash, info.headerHash);
  assert.equal(next.firstSeq, info.entries);
  const replay = await after.append(signer.sign({ nonce: BigInt(acked[0].nonce), transactions: [new TextEncoder().encode('replay')] })).catch((e) => e);
  assert.equal(replay.code, -32003);
});
