/**
 * Nodes given the bond contract (docs/slashing.md §Withdrawal delay), against a real anvil and real in-process
 * nodes: sequencer_info shows the bond; once the primary requests a withdrawal a replica stops following it and
 * refuses appends, `sequencer append --bond-contract` refuses, a cancel makes the replica catch up again, and a
 * primary given the contract stops sequencing. A node pointed at another chain than its --chain-id, or at a
 * contract that is not the SequencerBond build (or has parameters outside its bounds), refuses to start; a bond
 * read through a lagging chain RPC goes stale by block time.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { RpcError } from '../src/client/rpc-client.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { MIN_WITHDRAWAL_DELAY, bondArtifact, bondInfo, cancelWithdrawal, connectBond, deployBond, register, requestWithdrawal } from '../src/chain/bond-contract.ts';
import { BondWatcher, type BondState } from '../src/chain/bond-watcher.ts';
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

/** Asserts that `start` (a node starting) fails with an error matching `expected`; stops the node if it started after all. */
async function refusesToStart(start: Promise<SequencerNode>, expected: RegExp): Promise<void> {
  const outcome = await start.then((node) => node, (e: unknown) => e);
  if (!(outcome instanceof Error)) {
    await (outcome as SequencerNode).stop();
    assert.fail('the node started');
  }
  assert.match(String(outcome), expected);
}

/** Deploys `runtime` as it is (init code that copies it out and returns it: no constructor runs); returns the address. */
async function deployRuntime(deployer: Wallet, runtime: string): Promise<string> {
  const length = (runtime.length - 2) / 2;
  // PUSH2 length, DUP1, PUSH2 11 (this prefix's size), PUSH0, CODECOPY, PUSH0, RETURN
  const prefix = '0x61' + length.toString(16).padStart(4, '0') + '80' + '61000b' + '5f' + '39' + '5f' + 'f3';
  const tx = await (await deployer.sendTransaction({ data: prefix + runtime.slice(2) })).wait();
  return tx!.contractAddress!;
}

/** Runtime code of a contract with SequencerBond's views, all answering good values: it always shows a 2 ETH bond active. */
async function impostorRuntime(): Promise<string> {
  const source = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
contract Impostor {
  function minBond() external pure returns (uint256) { return 1 ether; }
  function withdrawalDelay() external pure returns (uint256) { return 7 days; }
  function rewardBps() external pure returns (uint256) { return 2500; }
  function bondInfo(address, bytes32) external pure returns (uint128, uint64, bool) { return (2 ether, 0, false); }
}`;
  const solc = (await import('solc')).default;
  const input = { language: 'Solidity', sources: { 'Impostor.sol': { content: source } }, settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['evm.deployedBytecode.object'] } } } };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as { contracts: Record<string, Record<string, { evm: { deployedBytecode: { object: string } } }>> };
  return '0x' + output.contracts['Impostor.sol']!['Impostor']!.evm.deployedBytecode.object;
}

test('a node refuses a bond contract that is not the SequencerBond build or whose parameters are outside its bounds', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(async () => { provider.destroy(); await anvil.stop(); await dir.remove(); });
  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const logId = toHex(LOG_ID);
  const bondAt = (address: string) => ({ contract: fromHex(address, 20), chainRpc: anvil.url, pollMs: 100 });

  // The genuine build, deployed with its constructor: accepted (the impostors below differ only in what they are).
  const genuine = await (await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: 7 * 24 * 3600, rewardBps: 2500 })).getAddress();
  const accepted = await startReplica(join(dir.path, 'genuine'), [], { bond: bondAt(genuine) });
  t.after(() => accepted.stop());
  assert.equal((await client(accepted).info()).bond!.status, 'unbonded', 'the genuine contract is read');

  // Some other contract (its code: STOP): it has none of the views.
  const stranger = await deployRuntime(deployer, '0x00');
  await refusesToStart(startReplica(join(dir.path, 'stranger'), [], { bond: bondAt(stranger) }), /bond contract .* is not a SequencerBond: its parameter views fail/);

  // Not a SequencerBond: the same views, answering an active 2 ETH bond with good parameters.
  const impostor = await deployRuntime(deployer, await impostorRuntime());
  assert.equal((await bondInfo(connectBond(impostor, provider), new Wallet(toHex(PRIMARY_KEY)).address, logId)).amount, parseEther('2'), 'the impostor answers the views');
  await refusesToStart(startReplica(join(dir.path, 'impostor'), [], { bond: bondAt(impostor) }),
    /bond contract .* is not the SequencerBond build this node trusts .*its code hash is 0x[0-9a-f]{64}/);

  // The genuine runtime code, its immutables set by init code that skips the constructor: withdrawalDelay 0.
  // Where the immutables sit: the bytes in which the deployed code differs from the artefact's deployedBytecode.
  const deployed = (await provider.getCode(genuine)).slice(2);
  const template = bondArtifact().deployedBytecode.slice(2);
  assert.equal(deployed.length, template.length);
  const delayWord = (7n * 24n * 3600n).toString(16).padStart(64, '0');
  let patched = deployed;
  let slots = 0;
  for (let i = 0; i + 64 <= deployed.length; i += 2) {
    if (deployed.slice(i, i + 64) === delayWord && template.slice(i, i + 64) === '0'.repeat(64)) {
      patched = patched.slice(0, i) + '0'.repeat(64) + patched.slice(i + 64);
      slots++;
    }
  }
  assert.ok(slots > 0, 'found the withdrawalDelay immutable');
  const noDelay = await deployRuntime(deployer, '0x' + patched);
  assert.equal(await connectBond(noDelay, provider).getFunction('withdrawalDelay')(), 0n);
  await refusesToStart(startReplica(join(dir.path, 'no-delay'), [], { bond: bondAt(noDelay) }),
    /bond contract .* has withdrawalDelay 0 s and rewardBps 2500, outside the bounds its guarantee needs/);

  // A client checking the bond refuses the impostor too, before sending anything.
  const keyFile = join(dir.path, 'client.key');
  await writeFile(keyFile, toHex(CLIENT_KEY) + '\n', { mode: 0o600 });
  const refused = await runCli(['append', '--rpc', accepted.rpcUrl, '--key-file', keyFile, '--bond-contract', impostor, '--chain-rpc', anvil.url, 'refused'], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /is not the SequencerBond build this node trusts .*; refusing to append/);
});

/**
 * An Ethereum JSON-RPC endpoint that lags: it forwards to `upstream` but answers "latest" with block `pinned`
 * (eth_blockNumber, and every block tag "latest"), as a node that stopped syncing would.
 */
async function laggingRpc(t: TestContext, upstream: string, pinned: number): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; });
    req.on('end', async () => {
      const pin = (call: { method: string; params?: unknown[]; id: unknown }) =>
        call.method === 'eth_blockNumber'
          ? null
          : { ...call, params: (call.params ?? []).map((p) => (p === 'latest' ? '0x' + pinned.toString(16) : p)) };
      const parsed = JSON.parse(body) as { method: string; params?: unknown[]; id: unknown } | { method: string; params?: unknown[]; id: unknown }[];
      const one = async (call: { method: string; params?: unknown[]; id: unknown }) => {
        const rewritten = pin(call);
        if (!rewritten) return { jsonrpc: '2.0', id: call.id, result: '0x' + pinned.toString(16) };
        const r = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rewritten) });
        return r.json();
      };
      const answer = Array.isArray(parsed) ? await Promise.all(parsed.map(one)) : await one(parsed);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('a bond read through a lagging chain RPC goes stale by the chain\'s block time, not the time it was read', { timeout: 60_000 }, async (t) => {
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(async () => { provider.destroy(); await anvil.stop(); });
  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  await (await deployer.sendTransaction({ to: primaryWallet.address, value: parseEther('5') })).wait();
  const address = await (await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 5000 })).getAddress();
  const asPrimary = connectBond(address, primaryWallet);
  const logId = toHex(LOG_ID);
  const registered = await register(asPrimary, logId, parseEther('2'));

  // The endpoint stops at the block that registered the bond; the chain goes on and the primary asks for it back.
  const lagging = new JsonRpcProvider(await laggingRpc(t, anvil.url, registered.blockNumber), undefined, { staticNetwork: true, cacheTimeout: -1 });
  const watcher = await BondWatcher.start({ provider: lagging, contract: address, sequencer: primaryWallet.address, logId, chainId: anvil.chainId, pollMs: 100, maxStalenessMs: 5000 });
  t.after(() => { watcher.stop(); lagging.destroy(); });
  assert.equal(watcher.state.status, 'active');
  assert.equal(watcher.distrust(), null, 'a fresh read of an active bond is trusted');
  const changes: BondState[] = [];
  watcher.onChange((state) => changes.push(state));
  await requestWithdrawal(asPrimary, logId);
  assert.equal((await bondInfo(connectBond(address, provider), primaryWallet.address, logId)).withdrawableAt > 0n, true, 'the chain shows it leaving');

  // The lagging endpoint still answers `active`, polled every 100 ms; its block's age makes the read stale.
  // It becomes stale at a poll, which reports the change (the node logs it; a replica's trust follows it).
  await waitFor(async () => changes.length > 0, 10_000, 'the read goes stale: a change is reported');
  assert.notEqual(watcher.distrust(), null);
  assert.equal(watcher.state.status, 'active', 'the lagging endpoint still shows the old state');
  assert.match(watcher.distrust()!, /the primary's bond was last read at a block \d+ s old \(more than 5 s\)/);
});

test('a node and a client do not trust a bond read from a chain whose latest block is old', { timeout: 60_000 }, async (t) => {
  // anvil's clock an hour behind: every block it serves is an hour old, as from an endpoint that stopped syncing.
  const anvil = await startAnvil({ args: ['--timestamp', String(Math.floor(Date.now() / 1000) - 3600)] });
  const dir = await tempDir();
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  t.after(async () => { provider.destroy(); await anvil.stop(); await dir.remove(); });
  const deployer = new Wallet(ANVIL_KEYS[0], provider);
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  await (await deployer.sendTransaction({ to: primaryWallet.address, value: parseEther('5') })).wait();
  const address = await (await deployBond(deployer, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 5000 })).getAddress();
  await register(connectBond(address, primaryWallet), toHex(LOG_ID), parseEther('2'));

  const replica = await startReplica(join(dir.path, 'r'), [], { bond: { contract: fromHex(address, 20), chainRpc: anvil.url, pollMs: 100 } });
  t.after(() => replica.stop());
  const info = await client(replica).info();
  assert.equal(info.bond!.status, 'active', 'the chain shows the bond active...');
  assert.match(info.halted!, /the primary's bond was last read at a block 3\d{3} s old \(more than 60 s\)/, '... as of an hour ago');
  assert.ok(info.bond!.checkedAt! < Date.now() - 3_500_000, 'checkedAt is the block\'s time');

  const keyFile = join(dir.path, 'client.key');
  await writeFile(keyFile, toHex(CLIENT_KEY) + '\n', { mode: 0o600 });
  const refused = await runCli(['append', '--rpc', replica.rpcUrl, '--key-file', keyFile, '--bond-contract', address, '--chain-rpc', anvil.url, 'refused'], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /serves a latest block 3\d{3} s old \(more than 60 s\): it cannot show whether the primary's bond is active now; refusing to append/);
});
