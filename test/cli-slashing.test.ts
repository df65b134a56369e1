/**
 * The accountability commands as separate processes against a real anvil: deploy-slashing posts a bond,
 * verify-receipt turns a conflicting receipt into a proof, proofs lists it, slash submits it once, and the
 * watch mode skips what is already paid and survives a node serving malformed proofs or an oversized answer,
 * warning once per problem rather than every poll; the bond commands read
 * a bond, manage its withdrawal, list slashes and name the contract's errors; deploy-slashing refuses another
 * chain than the log's and parameters outside the contract's bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chmod, writeFile } from 'node:fs/promises';
import { JsonRpcProvider, Wallet, parseEther } from 'ethers';
import { GENESIS_TIP } from '../src/core/batch.ts';
import { ZERO32, toHex } from '../src/core/bytes.ts';
import { MAX_REWARD_BPS, MIN_WITHDRAWAL_DELAY, bondInfo, connectBond, deployBond, register } from '../src/chain/bond-contract.ts';
import { ANVIL_KEYS, startAnvil } from './helpers/anvil.ts';
import { cliEnv, runCli, spawnCli } from './helpers/cli.ts';
import { batchOnTip, receiptOf } from './helpers/equivocator.ts';
import { LOG_ID, PRIMARY_KEY, client, startReplica, tempDir, waitFor } from './helpers/network.ts';
import { createHost } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { batchTopic } from '../src/wire/p2p-messages.ts';
import { NODE_MAX_RESPONSE_BYTES } from '../src/chain/slasher.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';

/** A node that answers every JSON-RPC call with `result` (e.g. a malformed proof list). */
async function fakeNode(t: TestContext, result: unknown): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(body) as { id: unknown }).id, result }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/**
 * Publishes a batch of height 0 signed by the primary (`honest`) to `replica` and waits until it is stored;
 * `other` is another height 0 the primary signed: a receipt for it is a conflict.
 */
async function storeHeight0(t: TestContext, replica: SequencerNode, dir: string): Promise<{ honest: Uint8Array; other: Uint8Array }> {
  const honest = batchOnTip(GENESIS_TIP, 'honest');
  const other = batchOnTip(GENESIS_TIP, 'other');
  const relay = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir, 'relay')), listenPort: 0, bootstrapPeers: replica.multiaddrs(), maxMessageBytes: 3_500_000, log: () => {} });
  t.after(() => relay.stop());
  relay.subscribe(batchTopic(LOG_ID), async () => 'ignore');
  const replicaPeer = (await client(replica).info()).peerId;
  await waitFor(() => relay.subscribers(batchTopic(LOG_ID)).includes(replicaPeer), 10_000, 'replica subscribed');
  await relay.publish(batchTopic(LOG_ID), honest);
  await waitFor(async () => (await client(replica).info()).height === 0, 10_000, 'honest batch stored');
  return { honest, other };
}

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
  const { honest, other } = await storeHeight0(t, replica, dir.path);

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

  // A node serving malformed proofs is reported (stderr, one line per proof) and skipped; the real node's
  // proof, listed after it, is still handled, once and in watch mode alike.
  const bogus = await fakeNode(t, [{ kind: 'conflict', a: null }, { kind: 'fork', domain: { name: 'Sequencer', version: '1', chainId: 31337, salt: '0x12' } }]);
  const mixed = await runCli(['slash', '--rpc', anvil.url, '--contract', contract, '--from', bogus, '--from', replica.rpcUrl], { env: reporterEnv, timeoutMs: 60_000 });
  assert.equal(mixed.code, 1, 'skipping counts as a failure of the run');
  assert.equal(JSON.parse(mixed.stdout).status, 'skipped');
  assert.match(mixed.stderr, /skipping malformed proof #0: proof\.domain/);
  assert.match(mixed.stderr, /skipping malformed proof #1: proof\.domain\.salt/);

  // ... and a node that never answers only costs --node-timeout per round.
  const hung = createServer(() => {});
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { hung.closeAllConnections(); hung.close(() => resolve()); }));
  const hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}/`;
  const watcher = spawnCli(t, ['slash', '--rpc', anvil.url, '--contract', contract, '--from', hungUrl, '--from', bogus, '--from', replica.rpcUrl, '--watch', '--interval', '1', '--node-timeout', '1'], { env: reporterEnv });
  const seen = JSON.parse(await watcher.waitForLine((l) => l.includes('"status"'), 30_000));
  assert.equal(seen.status, 'skipped');
  assert.equal(seen.from, new URL(replica.rpcUrl).href);
  assert.match(watcher.stderr(), new RegExp(`${hungUrl}: .*time`));
  assert.match(watcher.stderr(), new RegExp(`${bogus}: skipping malformed proof #0`));
  watcher.child.kill('SIGTERM');
  assert.equal((await watcher.exited).code, 0);

  // Slashes are listed from the contract's events.
  const slashes = await runCli(['bond', 'slashes', '--rpc', anvil.url, '--contract', contract]);
  assert.equal(slashes.code, 0, slashes.stderr);
  const [event] = JSON.parse(slashes.stdout);
  assert.equal(event.sequencer, primaryAddress);
  assert.equal(event.logId, toHex(LOG_ID));
  assert.equal(event.reporter, reporter.address);
  assert.equal(event.reward, '0.5');
  assert.equal(event.tx, line.tx);
  const none = await runCli(['bond', 'slashes', '--rpc', anvil.url, '--contract', contract, '--sequencer', reporter.address]);
  assert.deepEqual(JSON.parse(none.stdout), []);
  const slashedInfo = await runCli(['bond', 'info', '--rpc', anvil.url, '--contract', contract, '--log-id', toHex(LOG_ID), '--sequencer', primaryAddress]);
  assert.equal(JSON.parse(slashedInfo.stdout).status, 'slashed');

  // Another sequencer bonds on the same deployment, then manages its withdrawal with `sequencer bond`.
  const operatorEnv = cliEnv({ PRIVATE_KEY: ANVIL_KEYS[3] });
  const operator = new Wallet(ANVIL_KEYS[3]).address;
  const posted = await runCli(['deploy-slashing', '--rpc', anvil.url, '--contract', contract, '--log-id', 'another-log', '--bond', '1'], { env: operatorEnv, timeoutMs: 60_000 });
  assert.equal(posted.code, 0, posted.stderr);
  const bondCmd = (action: string) => runCli(['bond', action, '--rpc', anvil.url, '--contract', contract, '--log-id', 'another-log'], { env: operatorEnv, timeoutMs: 60_000 });
  const active = await bondCmd('info');
  assert.equal(active.code, 0, active.stderr);
  assert.deepEqual(JSON.parse(active.stdout), {
    contract, chainId: anvil.chainId, sequencer: operator, logId: JSON.parse(posted.stdout).logId, status: 'active', amount: '1.0',
    withdrawableAt: 0, slashed: false, minBond: '1.0', withdrawalDelay: 604800, rewardBps: 2500,
  });
  const early = await bondCmd('withdraw');
  assert.equal(early.code, 1);
  assert.match(early.stderr, /^error: withdraw: NoWithdrawalRequested\(\)$/m, 'the contract error by name');
  const requested = await bondCmd('request-withdrawal');
  assert.equal(requested.code, 0, requested.stderr);
  const leaving = JSON.parse(requested.stdout);
  assert.equal(leaving.action, 'request-withdrawal');
  assert.equal(leaving.bond.status, 'leaving');
  assert.ok(leaving.bond.withdrawableAt > Date.now() / 1000 + 604800 - 600);
  const notReady = await bondCmd('withdraw');
  assert.equal(notReady.code, 1);
  assert.match(notReady.stderr, new RegExp(`withdraw: WithdrawalNotReady\\(${leaving.bond.withdrawableAt}\\)`));
  const cancelled = await bondCmd('cancel-withdrawal');
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.equal(JSON.parse(cancelled.stdout).bond.status, 'active');
  const twice = await bondCmd('cancel-withdrawal');
  assert.match(twice.stderr, /cancel-withdrawal: NoWithdrawalRequested\(\)/);
});

test('deploy-slashing and start --bond-contract refuse a chain other than the log\'s; deploy-slashing refuses parameters outside the contract\'s bounds', { timeout: 60_000 }, async (t) => {
  const anvil = await startAnvil({ chainId: 777 });
  t.after(() => anvil.stop());
  const env = cliEnv({ PRIVATE_KEY: ANVIL_KEYS[0] });
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  t.after(() => provider.destroy());
  const account = new Wallet(ANVIL_KEYS[0]).address;

  const wrongChain = await runCli(['deploy-slashing', '--rpc', anvil.url], { env, timeoutMs: 30_000 });
  assert.equal(wrongChain.code, 1);
  assert.match(wrongChain.stderr, /is chain 777, but the log's headers are signed for chain 31337 \(--chain-id\)/);
  for (const [flag, value] of [['--reward-bps', '10000'], ['--reward-bps', String(MAX_REWARD_BPS + 1)], ['--withdrawal-delay', '0'], ['--withdrawal-delay', String(MIN_WITHDRAWAL_DELAY - 1)]]) {
    const refused = await runCli(['deploy-slashing', '--rpc', anvil.url, '--chain-id', '777', flag!, value!], { env, timeoutMs: 30_000 });
    assert.equal(refused.code, 2, `${flag} ${value}: ${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`${flag}: must be between`));
  }
  assert.equal(await provider.getTransactionCount(account), 0, 'nothing was sent');

  const ok = await runCli(['deploy-slashing', '--rpc', anvil.url, '--chain-id', '777', '--withdrawal-delay', String(MIN_WITHDRAWAL_DELAY), '--reward-bps', String(MAX_REWARD_BPS)], { env, timeoutMs: 30_000 });
  assert.equal(ok.code, 0, ok.stderr);
  const { contract, chainId } = JSON.parse(ok.stdout);
  assert.equal(chainId, 777);

  // A node given that bond but signing for another chain id refuses to start; the two flags go together.
  const replicaArgs = ['start', '--mode', 'replica', '--rpc-port', '0', '--p2p-port', '0', '--primary', account];
  const alone = await runCli([...replicaArgs, '--db', join(tmpdir(), 'never-created'), '--bond-contract', contract]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--bond-contract and --chain-rpc go together/);
  const dir = await tempDir();
  t.after(() => dir.remove());
  const misfit = await runCli([...replicaArgs, '--db', dir.path, '--chain-id', '31337', '--bond-contract', contract, '--chain-rpc', anvil.url], { timeoutMs: 30_000 });
  assert.equal(misfit.code, 1);
  assert.match(misfit.stderr, /cannot start the replica: bond contract .* the chain RPC is chain 777, but the log's headers are signed for chain 31337/);
});

test('slash --watch skips a node whose answer is too large, still slashes the real proof, and warns once per problem', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir();
  const anvil = await startAnvil();
  const replica = await startReplica(join(dir.path, 'r'), [], { chainId: anvil.chainId });
  t.after(async () => { await replica.stop(); await anvil.stop(); await dir.remove(); });
  const provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  t.after(() => provider.destroy());
  const primaryWallet = new Wallet(toHex(PRIMARY_KEY), provider);
  const funder = new Wallet(ANVIL_KEYS[0], provider);
  await (await funder.sendTransaction({ to: primaryWallet.address, value: parseEther('5') })).wait();
  const contract = await (await deployBond(funder, { minBond: parseEther('1'), withdrawalDelay: MIN_WITHDRAWAL_DELAY, rewardBps: 2500 })).getAddress();
  await register(connectBond(contract, primaryWallet), toHex(LOG_ID), parseEther('2'));

  // The replica holds a proof: a receipt for another height 0 conflicts with the one it stored.
  const { other } = await storeHeight0(t, replica, dir.path);
  assert.equal((await client(replica).verifyReceipt(receiptOf(other, ZERO32))).status, 'conflict');

  // A node answering a well-formed list just over the bound, counting the polls it is asked.
  const filler = 'A'.repeat(NODE_MAX_RESPONSE_BYTES);
  const oversized = { asked: 0 };
  const big = createServer((req, res) => {
    req.resume().on('end', () => {
      oversized.asked++;
      // written in two chunks: no Content-Length, so only counting the bytes read can stop it
      res.setHeader('content-type', 'application/json');
      res.write('{"jsonrpc":"2.0","id":1,"result":["');
      res.end(filler + '"]}');
    });
  });
  await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { big.closeAllConnections(); big.close(() => resolve()); }));
  const bigUrl = `http://127.0.0.1:${(big.address() as AddressInfo).port}/`;
  // ... and one serving a malformed proof, every poll.
  const bogus = await fakeNode(t, [{ kind: 'conflict', a: null }]);

  const watcher = spawnCli(t, ['slash', '--rpc', anvil.url, '--contract', contract, '--from', bigUrl, '--from', bogus, '--from', replica.rpcUrl, '--watch', '--interval', '1'], { env: cliEnv({ PRIVATE_KEY: ANVIL_KEYS[2] }) });
  const slashed = JSON.parse(await watcher.waitForLine((l) => l.includes('"status"'), 30_000));
  assert.equal(slashed.status, 'slashed', 'the real node\'s proof is slashed despite the oversized answer before it');
  assert.equal(slashed.from, new URL(replica.rpcUrl).href);
  assert.equal((await bondInfo(connectBond(contract, provider), primaryWallet.address, toHex(LOG_ID))).slashed, true);

  // Three more polls: each warning is still printed once.
  const after = oversized.asked;
  await waitFor(() => oversized.asked >= after + 3, 30_000, 'three more polls');
  const stderr = watcher.stderr();
  const count = (re: RegExp) => stderr.split('\n').filter((l) => re.test(l)).length;
  assert.equal(count(new RegExp(`^warning: ${bigUrl}: response exceeds ${NODE_MAX_RESPONSE_BYTES} bytes$`)), 1, stderr);
  assert.equal(count(new RegExp(`^warning: ${bogus}: skipping malformed proof #0`)), 1, stderr);
  watcher.child.kill('SIGTERM');
  assert.equal((await watcher.exited).code, 0);
});
