/** The `sequencer` CLI, run as separate processes (cmd/sequencer.ts) on free loopback ports. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { RpcClient } from '../src/client/rpc-client.ts';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { keccak256 } from '../src/core/hash.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { alive, cliEnv, freePortBlock, freePorts, runCli, spawnCli, startNode, waitUntil } from './helpers/cli.ts';

const PRIMARY_KEY = '0x' + '11'.repeat(32);
const CLIENT_KEY = '0x' + '22'.repeat(32);
const PRIMARY_ADDRESS = toHex(addressFromPrivateKey(fromHex(PRIMARY_KEY)));
const CLIENT_ADDRESS = toHex(addressFromPrivateKey(fromHex(CLIENT_KEY)));
const COMMANDS = ['start', 'devnet', 'keygen', 'append', 'read', 'info', 'batch', 'proof'];

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seq-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function keyFile(dir: string, name: string, key: string, mode = 0o600): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, key + '\n', { mode });
  return file;
}

test('--help prints usage and exits 0, on the top level and on every command', async () => {
  const runs = await Promise.all([['--help'], ['-h'], ...COMMANDS.map((c) => [c, '--help']), ['append', '-h', '--no-such-flag']].map((args) => runCli(args)));
  for (const r of runs) {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: sequencer/);
    assert.equal(r.stderr, '');
  }
  assert.match(runs[0].stdout, /keygen/);
});

test('usage errors exit 2 with a one-line message and a hint', async () => {
  const [unknown, missing, positional, command, none, badPort] = await Promise.all([
    runCli(['start', '--mode', 'primary', '--frobnicate']),
    runCli(['read', '--rpc']),
    runCli(['info', '--rpc', 'http://127.0.0.1:1', 'extra']),
    runCli(['frobnicate']),
    runCli([]),
    runCli(['start', '--mode', 'replica', '--db', '/tmp/x', '--rpc-port', '70000', '--p2p-port', '0']),
  ]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^error: unknown option '--frobnicate'\nRun 'sequencer start --help' for usage\.\n$/);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /option '--rpc' needs a value/);
  assert.equal(positional.code, 2);
  assert.match(positional.stderr, /unexpected argument 'extra'/);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /unknown command 'frobnicate'/);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: sequencer/);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--rpc-port: must be between 0 and 65535/);
  for (const r of [unknown, missing, positional, command, badPort]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('keygen writes a 0600 key file, prints only the address, and never overwrites', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'my.key');
  const first = await runCli(['keygen', '--out', file]);
  assert.equal(first.code, 0, first.stderr);
  const out = JSON.parse(first.stdout) as Record<string, string>;
  assert.deepEqual(Object.keys(out), ['address']);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const key = (await readFile(file, 'utf8')).trim();
  assert.match(key, /^0x[0-9a-f]{64}$/);
  assert.equal(out.address, toHex(addressFromPrivateKey(fromHex(key))));
  assert.ok(!first.stdout.includes(key.slice(2)) && !first.stderr.includes(key.slice(2)), 'key not printed');

  const second = await runCli(['keygen', '--out', file]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /already exists; refusing to overwrite/);
  assert.equal((await readFile(file, 'utf8')).trim(), key);

  const printed = await runCli(['keygen']);
  assert.equal(printed.code, 0, printed.stderr);
  const both = JSON.parse(printed.stdout) as Record<string, string>;
  assert.equal(both.address, toHex(addressFromPrivateKey(fromHex(both.privateKey))));
});

test('start refuses bad configurations with a message', async (t) => {
  const dir = await tempDir(t);
  const loose = await keyFile(dir, 'loose.key', PRIMARY_KEY, 0o644);
  const base = ['--db', join(dir, 'db'), '--rpc-port', '0', '--p2p-port', '0'];
  const [noKey, noPrimary, looseKey, badAllow, badKeyEnv, replicaLinger, longLinger, loneTimeout, observerTimeout] = await Promise.all([
    runCli(['start', '--mode', 'primary', ...base]),
    runCli(['start', '--mode', 'replica', ...base]),
    runCli(['start', '--mode', 'primary', ...base, '--key-file', loose]),
    runCli(['start', '--mode', 'primary', ...base, '--allow', '0x1234']),
    runCli(['start', '--mode', 'primary', ...base], { env: cliEnv({ PRIVATE_KEY: '0xnot-a-key' }) }),
    runCli(['start', '--mode', 'replica', ...base, '--primary', CLIENT_ADDRESS, '--seal-linger-ms', '5']),
    runCli(['start', '--mode', 'primary', ...base, '--seal-linger-ms', '5000'], { env: cliEnv({ PRIVATE_KEY: PRIMARY_KEY }) }),
    runCli(['start', '--mode', 'primary', ...base, '--view-timeout-ms', '500'], { env: cliEnv({ PRIVATE_KEY: PRIMARY_KEY }) }),
    runCli(['start', '--mode', 'replica', ...base, '--validators', `${CLIENT_ADDRESS},${CLIENT_ADDRESS}`, '--view-timeout-ms', '500']),
  ]);
  assert.notEqual(noKey.code, 0);
  assert.match(noKey.stderr, /a primary needs a private key/);
  assert.notEqual(noPrimary.code, 0);
  assert.match(noPrimary.stderr, /--primary/);
  assert.equal(looseKey.code, 1);
  assert.match(looseKey.stderr, /accessible by group or others \(mode 0644\).*chmod 600/);
  assert.equal(badAllow.code, 2);
  assert.match(badAllow.stderr, /--allow: expected an address/);
  assert.equal(badKeyEnv.code, 1);
  assert.match(badKeyEnv.stderr, /PRIVATE_KEY environment variable: expected a private key/);
  assert.doesNotMatch(badKeyEnv.stderr, /not-a-key/, 'the key is not echoed');
  assert.equal(replicaLinger.code, 2);
  assert.match(replicaLinger.stderr, /--seal-linger-ms is for a primary only/);
  assert.equal(longLinger.code, 2);
  assert.match(longLinger.stderr, /--seal-linger-ms/);
  for (const r of [loneTimeout, observerTimeout]) {
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--view-timeout-ms is for a validator of a set of more than one/);
  }
});

test('start refuses a validator set the node does not fit: no key, a key outside the set, the leader started as a validator, a primary not first', async (t) => {
  const dir = await tempDir(t);
  const base = (name: string) => ['--db', join(dir, name), '--rpc-port', '0', '--p2p-port', '0'];
  const primary = toHex(addressFromPrivateKey(fromHex(PRIMARY_KEY)));
  const set = ['--validators', `${primary},${CLIENT_ADDRESS}`];
  const [noKey, outsider, leaderAsValidator, notFirst] = await Promise.all([
    runCli(['start', '--mode', 'validator', ...base('a'), ...set]),
    runCli(['start', '--mode', 'validator', ...base('b'), '--validators', primary], { env: cliEnv({ PRIVATE_KEY: CLIENT_KEY }) }),
    runCli(['start', '--mode', 'validator', ...base('c'), ...set], { env: cliEnv({ PRIVATE_KEY: PRIMARY_KEY }) }),
    runCli(['start', '--mode', 'primary', ...base('d'), '--unsafe-skip-recovery', '--validators', `${CLIENT_ADDRESS},${primary}`], { env: cliEnv({ PRIVATE_KEY: PRIMARY_KEY }) }),
  ]);
  assert.equal(noKey.code, 2);
  assert.match(noKey.stderr, /a validator needs a private key/);
  assert.equal(outsider.code, 1);
  assert.match(outsider.stderr, /is not one of the validators/);
  assert.equal(leaderAsValidator.code, 1);
  assert.match(leaderAsValidator.stderr, /start it with --mode primary/);
  assert.equal(notFirst.code, 1);
  assert.match(notFirst.stderr, /not the first of the validators/);
});

test('start a primary and a replica; append, read, info, batch and proof through the CLI', async (t) => {
  const dir = await tempDir(t);
  const primaryKey = await keyFile(dir, 'primary.key', PRIMARY_KEY);
  const clientKey = await keyFile(dir, 'client.key', CLIENT_KEY);
  const [pRpc, pP2p, rRpc, rP2p] = await freePorts(4);
  const common = ['--allow', CLIENT_ADDRESS, '--log-id', 'cli-test', '--chain-id', '1337'];

  const primary = await startNode(t, ['--mode', 'primary', '--db', join(dir, 'primary'), '--rpc-port', String(pRpc), '--p2p-port', String(pP2p), '--key-file', primaryKey, ...common]);
  assert.equal(primary.started.mode, 'primary');
  assert.equal(primary.started.rpc.replace(/\/$/, ''), `http://127.0.0.1:${pRpc}`);
  assert.equal(primary.started.address, PRIMARY_ADDRESS);
  assert.equal(primary.started.logId, toHex(keccak256(new TextEncoder().encode('cli-test'))));
  assert.ok(primary.started.multiaddrs.some((m) => m.includes(`/tcp/${pP2p}/p2p/${primary.started.peerId}`)));

  const replica = await startNode(t, [
    '--mode', 'replica', '--db', join(dir, 'replica'), '--rpc-port', String(rRpc), '--p2p-port', String(rP2p),
    '--peers', primary.started.multiaddrs.join(','), '--primary', PRIMARY_ADDRESS, ...common,
  ]);
  assert.equal(replica.started.mode, 'replica');
  assert.equal(replica.started.address, null);

  // To the primary, key from a file, utf8 text: two transactions in one submission.
  const a1 = await runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, 'hello', 'world']);
  assert.equal(a1.code, 0, a1.stderr);
  const r1 = JSON.parse(a1.stdout);
  assert.equal(r1.sender, CLIENT_ADDRESS);
  assert.equal(r1.firstSeq, 0);
  assert.equal(r1.count, 2);

  // To the replica (forwarded to the primary), key from the environment, hex data. The replica may not have
  // found the primary yet right after starting: retry while it says the primary is unavailable (-32008).
  let a2 = await runCli(['append', '--rpc', replica.started.rpc, '--hex', '0xdeadbeef'], { env: cliEnv({ PRIVATE_KEY: CLIENT_KEY }) });
  for (let i = 0; a2.code !== 0 && /error -32008/.test(a2.stderr) && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 200));
    a2 = await runCli(['append', '--rpc', replica.started.rpc, '--hex', '0xdeadbeef'], { env: cliEnv({ PRIVATE_KEY: CLIENT_KEY }) });
  }
  assert.equal(a2.code, 0, a2.stderr);
  assert.equal(JSON.parse(a2.stdout).firstSeq, 2);

  // The same signed submission twice is an idempotent retry; the same nonce for other data is an RPC error.
  const n1 = await runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--nonce', '42', 'x']);
  assert.equal(n1.code, 0, n1.stderr);
  const again = await runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--nonce', '42', 'x']);
  assert.equal(again.code, 0, again.stderr);
  // The same receipt; its finality may have advanced in between (soft, then final with its certificate).
  const placement = ({ finality: _f, certificate: _c, ...receipt }: Record<string, unknown>) => receipt;
  assert.deepEqual(placement(JSON.parse(again.stdout)), placement(JSON.parse(n1.stdout)));
  const n2 = await runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--nonce', '42', 'y']);
  assert.equal(n2.code, 1);
  assert.match(n2.stderr, /^error -32003: nonce 42 was already used/);
  assert.equal(n2.stdout, '');

  // Read from the replica once it has everything.
  let entries: { seq: number; payload: string; sender: string; text?: string }[] = [];
  await waitUntil(async () => {
    const r = await runCli(['read', '--rpc', replica.started.rpc, '--text']);
    assert.equal(r.code, 0, r.stderr);
    entries = JSON.parse(r.stdout);
    return entries.length === 4;
  }, 15_000, 'the replica to hold 4 entries');
  assert.deepEqual(entries.map((e) => e.payload), ['0x68656c6c6f', '0x776f726c64', '0xdeadbeef', '0x78']);
  assert.deepEqual(entries.map((e) => e.text), ['hello', 'world', undefined, 'x']);
  assert.ok(entries.every((e) => e.sender === CLIENT_ADDRESS));

  const page = await runCli(['read', '--rpc', replica.started.rpc, '--from', '1', '--limit', '2']);
  assert.deepEqual(JSON.parse(page.stdout).map((e: { seq: number }) => e.seq), [1, 2]);

  const [infoP, infoR, batch, proof, missing] = await Promise.all([
    runCli(['info', '--rpc', primary.started.rpc]),
    runCli(['info', '--rpc', replica.started.rpc]),
    runCli(['batch', '--rpc', replica.started.rpc, '0']),
    runCli(['proof', '--rpc', replica.started.rpc, '2']),
    runCli(['proof', '--rpc', replica.started.rpc, '99']),
  ]);
  assert.equal(JSON.parse(infoP.stdout).mode, 'primary');
  const ri = JSON.parse(infoR.stdout);
  assert.equal(ri.mode, 'replica');
  assert.equal(ri.primary, PRIMARY_ADDRESS);
  assert.equal(ri.chainId, 1337);
  assert.equal(ri.entries, 4);
  assert.equal(JSON.parse(batch.stdout).entries.length, 2);
  assert.equal(JSON.parse(proof.stdout).entry.payload, '0xdeadbeef');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error -32007: /);

  // Finality: a lone primary finalises each batch. append --wait final prints the receipt with its certificate,
  // verify-receipt says final (through the replica too, once it holds the height), info shows the view, the
  // leader and the finalized height.
  const f1 = await runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--wait', 'final', '--final-timeout-ms', '5000', 'settled']);
  assert.equal(f1.code, 0, f1.stderr);
  const final = JSON.parse(f1.stdout);
  assert.equal(final.finality, 'final');
  assert.equal(final.certificate.headerHash, final.headerHash);
  assert.equal(final.certificate.certificate.kind, 'commit');
  const finalFile = join(dir, 'final-receipt.json');
  await writeFile(finalFile, f1.stdout);
  const vf = await runCli(['verify-receipt', '--rpc', primary.started.rpc, '--receipt', finalFile]);
  assert.equal(vf.code, 0, vf.stderr);
  assert.deepEqual([JSON.parse(vf.stdout).status, JSON.parse(vf.stdout).finality], ['consistent', 'final']);
  const fi = JSON.parse((await runCli(['info', '--rpc', primary.started.rpc])).stdout);
  assert.deepEqual([fi.view, fi.leader, fi.role], [0, PRIMARY_ADDRESS, 'leader']);
  assert.ok(fi.finalizedHeight >= final.height, `finalizedHeight ${fi.finalizedHeight}`);
  const [badWait, timeoutAlone] = await Promise.all([
    runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--wait', 'later', 'x']),
    runCli(['append', '--rpc', primary.started.rpc, '--key-file', clientKey, '--final-timeout-ms', '100', 'x']),
  ]);
  assert.equal(badWait.code, 2);
  assert.match(badWait.stderr, /--wait/);
  assert.equal(timeoutAlone.code, 2);
  assert.match(timeoutAlone.stderr, /--final-timeout-ms goes with --wait final/);

  // The private key never shows up in the node's output.
  assert.ok(!primary.stdout().includes(PRIMARY_KEY.slice(2)) && !primary.stderr().includes(PRIMARY_KEY.slice(2)));

  // SIGINT / SIGTERM stop the nodes cleanly.
  replica.child.kill('SIGINT');
  primary.child.kill('SIGTERM');
  assert.deepEqual(await replica.exited, { code: 0, signal: null });
  assert.deepEqual(await primary.exited, { code: 0, signal: null });
  assert.match(primary.stderr(), /"msg":"stopped"/);
});

test('devnet --nodes 1 --replicas 2 starts a primary and two observers, answers on every RPC URL, and stops cleanly on SIGINT', async (t) => {
  const dir = join(await tempDir(t), 'devnet');
  const base = await freePortBlock(3, 100);
  const devnet = spawnCli(t, ['devnet', '--nodes', '1', '--replicas', '2', '--dir', dir, '--base-port', String(base)]);
  await devnet.waitForLine((l) => l.startsWith('Press Ctrl-C'), 30_000);
  const summary = devnet.stdout();
  const urls = [...summary.matchAll(/^ +\S+ +(?:primary|validator|observer) +rpc (http:\/\/127\.0\.0\.1:\d+) /gm)].map((m) => m[1]);
  assert.deepEqual(urls, [0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`));
  assert.match(summary, /client\.key/);
  assert.match(summary, /append --rpc http:\/\/127\.0\.0\.1:\d+ --key-file \S+client\.key hello/);
  const explorers = [...summary.matchAll(/^ +\S+ +explorer (http:\/\/127\.0\.0\.1:\d+\/explorer)$/gm)].map((m) => m[1]);
  assert.deepEqual(explorers, urls.map((u) => `${u}/explorer`));
  const page = await fetch(explorers[2], { signal: AbortSignal.timeout(5_000) });
  assert.deepEqual([page.status, (await page.text()).includes('<script src="/explorer.js">')], [200, true], 'every node serves the explorer');

  const state = JSON.parse(await readFile(join(dir, 'devnet.json'), 'utf8')) as { nodes: { name: string; pid: number; rpc: string }[]; clientAddress: string };
  const pids = state.nodes.map((n) => n.pid);
  t.after(() => { for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL'); });
  assert.deepEqual(state.nodes.map((n) => n.name), ['primary', 'observer-1', 'observer-2']);

  const infos = await Promise.all(urls.map((u) => new RpcClient(u).info()));
  assert.deepEqual(infos.map((i) => i.mode), ['primary', 'replica', 'replica']);
  const primaryAddress = infos[0].address;
  assert.ok(infos.every((i) => i.primary === primaryAddress && i.logId === infos[0].logId));
  for (const f of ['primary.key', 'client.key']) assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600);

  // The client key in the devnet directory may append.
  const appended = await runCli(['append', '--rpc', urls[0], '--key-file', join(dir, 'client.key'), 'hi']);
  assert.equal(appended.code, 0, appended.stderr);
  assert.equal(JSON.parse(appended.stdout).sender, state.clientAddress);

  devnet.child.kill('SIGINT');
  assert.deepEqual(await devnet.exited, { code: 0, signal: null });
  for (const pid of pids) assert.equal(alive(pid), false, `node pid ${pid} is gone`);
});
