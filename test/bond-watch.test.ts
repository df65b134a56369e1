/**
 * Nodes given the bond contract (docs/slashing.md §Withdrawal delay), against a real anvil and real in-process
 * nodes: sequencer_info shows the bond; once the primary requests a withdrawal a replica stops following it and
 * refuses appends, `sequencer append --bond-contract` refuses, a cancel makes the replica catch up again, and a
 * primary given the contract stops sequencing. A node pointed at another chain than its --chain-id refuses to start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { MIN_WITHDRAWAL_DELAY, cancelWithdrawal, connectBond, deployBond, register, requestWithdrawal } from '../src/chain/bond-contract.ts';
import { ANVIL_KEYS, startAnvil } from './helpers/anvil.ts';
import { runCli } from './helpers/cli.ts';
import { CLIENT_KEY, LOG_ID, PRIMARY_KEY, clientSigner, client, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

test('nodes given the bond contract stop trusting a primary whose bond is leaving', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const nodes: SequencerNode[] = [];
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    provider.destroy();
    await anvil.stop();
    await dir.remove();
  });

  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  const deployed = await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 5000 });
  const address = await deployed.getAddress();
  await (await deployer.sendTransaction({ to: primaryWallet.address, value: parseEther('5') })).wait();
  const asPrimary = connectBond(address, primaryWallet);
  const logId = toHex(LOG_ID);
  await register(asPrimary, logId, parseEther('2'));
  const bond = { contract: fromHex(address, 20), chainRpc: anvil.url, pollMs: 100 };

  await assert.rejects(startReplica(join(dir.path, 'wrong-chain'), [], { chainId: 5, bond }), /chain 31337.*chain 5/, 'a bond on another chain backs nothing');

  // The primary does not watch its bond (yet); r1 does, r2 does not.
  const primary = await startPrimary(join(dir.path, 'p'));
  nodes.push(primary);
  const r1 = await startReplica(join(dir.path, 'r1'), primary.multiaddrs(), { bond });
  nodes.push(r1);
  const r2 = await startReplica(join(dir.path, 'r2'), primary.multiaddrs());
  nodes.push(r2);
  const info = await client(r1).info();
  assert.deepEqual({ ...info.bond, checkedAt: typeof info.bond!.checkedAt }, {
    contract: address, sequencer: primaryWallet.address, status: 'active', amount: parseEther('2').toString(),
    withdrawableAt: 0, slashed: false, checkedAt: 'number', error: null,
  });
  assert.equal(info.halted, null);
  assert.equal((await client(r2).info()).bond, null, 'no contract, no bond field');

  const signer = clientSigner();
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [text('before')] }));
  await waitFor(async () => (await client(r1).info()).entries === 1 && (await client(r2).info()).entries === 1, 15_000, 'both replicas follow');

  // The primary asks for its bond back: r1 stops following it at once.
  const requested = await requestWithdrawal(asPrimary, logId);
  const withdrawableAt = (await provider.getBlock(requested.blockNumber))!.timestamp + MIN_WITHDRAWAL_DELAY;
  await waitFor(async () => (await client(r1).info()).bond!.status === 'leaving', 10_000, 'r1 sees the withdrawal request');
  const leaving = await client(r1).info();
  assert.equal(leaving.bond!.withdrawableAt, withdrawableAt);
  assert.match(leaving.halted!, /bond is leaving/);

  // The primary (not watching) still sequences: r2 stores the batch, r1 does not.
  await client(primary).append(signer.sign({ nonce: 2n, transactions: [text('while leaving')] }));
  await waitFor(async () => (await client(r2).info()).entries === 2, 15_000, 'r2 stores the batch');
  await r1.append(signer.sign({ nonce: 3n, transactions: [text('via r1')] })).then(
    () => assert.fail('r1 forwarded an append for a primary whose bond is leaving'),
    (e: { code?: number; message: string }) => {
      assert.equal(e.code, ErrorCode.Halted);
      assert.match(e.message, /bond is leaving/);
    },
  );
  assert.equal((await client(r1).info()).entries, 1, 'r1 took nothing from the leaving primary');

  // A client checking the bond refuses to append, before sending anything.
  const keyFile = join(dir.path, 'client.key');
  await writeFile(keyFile, toHex(CLIENT_KEY) + '\n', { mode: 0o600 });
  const refused = await runCli(['append', '--rpc', primary.rpcUrl, '--key-file', keyFile, '--bond-contract', address, '--chain-rpc', anvil.url, 'refused'], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /bond is not active: leaving \(withdrawal requested, withdrawable at \d+\); refusing to append/);
  assert.equal((await client(r2).info()).entries, 2, 'nothing was sent');

  // The primary cancels: r1 trusts it again and catches up.
  await cancelWithdrawal(asPrimary, logId);
  await waitFor(async () => (await client(r1).info()).entries === 2, 15_000, 'r1 catches up once the bond is active again');
  assert.equal((await client(r1).info()).halted, null);
  const accepted = await runCli(['append', '--rpc', primary.rpcUrl, '--key-file', keyFile, '--bond-contract', address, '--chain-rpc', anvil.url, 'accepted'], { timeoutMs: 30_000 });
  assert.equal(accepted.code, 0, accepted.stderr);

  // A primary given the contract stops sequencing once its withdrawal is requested.
  await primary.stop();
  nodes.splice(nodes.indexOf(primary), 1);
  const watching = await startPrimary(join(dir.path, 'p'), { bond });
  nodes.push(watching);
  assert.equal((await client(watching).info()).bond!.status, 'active');
  await client(watching).append(signer.sign({ nonce: 4n, transactions: [text('still bonded')] }));
  await requestWithdrawal(asPrimary, logId);
  await waitFor(async () => (await client(watching).info()).bond!.status === 'leaving', 10_000, 'the primary sees its withdrawal request');
  assert.match((await client(watching).info()).halted!, /bond is leaving/);
  const stopped = await client(watching).append(signer.sign({ nonce: 5n, transactions: [text('refused')] })).catch((e: unknown) => e);
  assert.ok(stopped instanceof RpcError, String(stopped));
  assert.equal(stopped.code, ErrorCode.Halted);
  assert.match(stopped.message, /node halted: the primary's bond is leaving/);
});
