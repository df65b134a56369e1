/**
 * The accountability commands as separate processes against a real anvil: deploy-slashing posts a bond,
 * verify-receipt turns a conflicting receipt into a proof, proofs lists it, slash submits it once, and the
 * watch mode skips what is already paid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chmod, writeFile } from 'node:fs/promises';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { GENESIS_TIP } from '../src/core/batch.ts';
import { ZERO32, toHex } from '../src/core/bytes.ts';
import { bondInfo, connectBond } from '../src/chain/bond-contract.ts';
import { ANVIL_KEYS, startAnvil } from './helpers/anvil.ts';
import { cliEnv, runCli, spawnCli } from './helpers/cli.ts';
import { batchOnTip, receiptOf } from './helpers/equivocator.ts';
import { LOG_ID, PRIMARY_KEY, client, startReplica, tempDir, waitFor } from './helpers/network.ts';
import { createHost } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { batchTopic } from '../src/p2p/protocols.ts';

test('deploy-slashing, verify-receipt, proofs, slash and slash --watch', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const replica = await startReplica(join(dir.path, 'r'), [], { chainId: anvil.chainId });
  t.after(async () => { await replica.stop(); await anvil.stop(); await dir.remove(); });

  // The primary's account needs ETH to post its bond.
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const funder = new Wallet(ANVIL_KEYS[0], provider);
  const primaryAddress = new Wallet(toHex(PRIMARY_KEY)).address;
  await (await funder.sendTransaction({ to: primaryAddress, value: parseEther('5') })).wait();
  const keyFile = join(dir.path, 'primary.key');
  await writeFile(keyFile, toHex(PRIMARY_KEY) + '\n', { mode: 0o600 });
  await chmod(keyFile, 0o600);

  const deployed = await runCli(['deploy-slashing', '--rpc', anvil.url, '--key-file', keyFile, '--log-id', toHex(LOG_ID), '--bond', '2', '--reward-bps', '2500'], { timeoutMs: 60_000 });
  assert.equal(deployed.code, 0, deployed.stderr);
  const { contract, sequencer, bond } = JSON.parse(deployed.stdout);
  assert.equal(sequencer, primaryAddress);
  assert.equal(bond, '2.0');
  const bondContract = connectBond(contract, provider);
  assert.equal((await bondInfo(bondContract, primaryAddress, toHex(LOG_ID))).amount, parseEther('2'));

  // The replica stores one batch for height 0; a client then shows it a receipt for a different height 0.
  const honest = batchOnTip(GENESIS_TIP, 'honest');
  const other = batchOnTip(GENESIS_TIP, 'other');
  const relay = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir.path, 'relay')), listenPort: 0, bootstrapPeers: replica.multiaddrs(), maxMessageBytes: 3_500_000, log: () => {} });
  t.after(() => relay.stop());
  relay.subscribe(batchTopic(LOG_ID), async () => 'ignore');
  const replicaPeer = (await client(replica).info()).peerId;
  await waitFor(() => relay.subscribers(batchTopic(LOG_ID)).includes(replicaPeer), 10_000, 'replica subscribed');
  await relay.publish(batchTopic(LOG_ID), honest);
  await waitFor(async () => (await client(replica).info()).height === 0, 10_000, 'honest batch stored');

  const goodFile = join(dir.path, 'good-receipt.json');
  await writeFile(goodFile, JSON.stringify(receiptOf(honest, ZERO32)));
  const good = await runCli(['verify-receipt', '--rpc', replica.rpcUrl, '--receipt', goodFile]);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(JSON.parse(good.stdout).status, 'consistent');

  const badFile = join(dir.path, 'conflicting-receipt.json');
  await writeFile(badFile, JSON.stringify(receiptOf(other, ZERO32)));
  const bad = await runCli(['verify-receipt', '--rpc', replica.rpcUrl, '--receipt', badFile]);
  assert.equal(bad.code, 1);
  const verdict = JSON.parse(bad.stdout);
  assert.equal(verdict.status, 'conflict');
  assert.equal(verdict.proof.kind, 'conflict');

  const listed = await runCli(['proofs', '--rpc', replica.rpcUrl]);
  assert.equal(listed.code, 0, listed.stderr);
  const proofs = JSON.parse(listed.stdout);
  assert.equal(proofs.length, 1);
  const proofFile = join(dir.path, 'proof.json');
  await writeFile(proofFile, JSON.stringify(proofs[0]));

  const reporter = new Wallet(ANVIL_KEYS[2], provider);
  const reporterEnv = cliEnv({ PRIVATE_KEY: ANVIL_KEYS[2] });
  const before = await provider.getBalance(reporter.address);
  const slashed = await runCli(['slash', '--rpc', anvil.url, '--contract', contract, '--proof', proofFile], { env: reporterEnv, timeoutMs: 60_000 });
  assert.equal(slashed.code, 0, slashed.stderr);
  const line = JSON.parse(slashed.stdout);
  assert.equal(line.status, 'slashed');
  assert.equal(line.reward, '0.5');
  assert.equal(line.burned, '1.5');
  assert.ok((await provider.getBalance(reporter.address)) > before, 'the reporter is paid');
  assert.equal((await bondInfo(bondContract, primaryAddress, toHex(LOG_ID))).amount, 0n);

  const again = await runCli(['slash', '--rpc', anvil.url, '--contract', contract, '--from', replica.rpcUrl], { env: reporterEnv, timeoutMs: 60_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).status, 'skipped');

  const watcher = spawnCli(t, ['slash', '--rpc', anvil.url, '--contract', contract, '--from', replica.rpcUrl, '--watch', '--interval', '1'], { env: reporterEnv });
  const seen = JSON.parse(await watcher.waitForLine((l) => l.includes('"status"'), 30_000));
  assert.equal(seen.status, 'skipped');
  watcher.child.kill('SIGTERM');
  assert.equal((await watcher.exited).code, 0);
});
