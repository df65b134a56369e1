/**
 * `sequencer devnet` (what `npm start` runs) with its default layout: 4 validators and an observer, each its own
 * process on free loopback ports; the finalized height it prints; a restart on the same directory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { RpcClient } from '../src/client/rpc-client.ts';
import { alive, freePortBlock, runCli, spawnCli, type CliProcess } from './helpers/cli.ts';

const FINALIZED = /^finalized height (\d+) \(head (\d+)\)$/;

interface DevnetState {
  validators: string[];
  clientAddress: string;
  nodes: { name: string; role: string; pid: number; rpc: string; peerId: string; namespace: string | null }[];
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seq-devnet-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the devnet until its summary is printed; returns it with the state it wrote (devnet.json). */
async function startDevnet(t: TestContext, args: string[]): Promise<{ devnet: CliProcess; state: DevnetState }> {
  const devnet = spawnCli(t, ['devnet', ...args]);
  await devnet.waitForLine((l) => l.startsWith('Press Ctrl-C'), 60_000);
  const dir = args[args.indexOf('--dir') + 1];
  const state = JSON.parse(await readFile(join(dir, 'devnet.json'), 'utf8')) as DevnetState;
  const pids = state.nodes.map((n) => n.pid);
  t.after(() => { for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL'); });
  return { devnet, state };
}

/** The finalized heights the devnet printed so far. */
const finalizedLines = (devnet: CliProcess): number[] =>
  devnet.stdout().split('\n').flatMap((l) => { const m = FINALIZED.exec(l); return m ? [Number(m[1])] : []; });

test('devnet runs 4 validators and an observer by default, prints the finalized height as it advances, and a restart keeps keys and log', async (t) => {
  const dir = join(await tempDir(t), 'devnet');
  const base = await freePortBlock(5, 100);
  const args = ['--dir', dir, '--base-port', String(base)];
  const { devnet, state } = await startDevnet(t, args);

  assert.deepEqual(state.nodes.map((n) => [n.name, n.role]),
    [['primary', 'primary'], ['validator-2', 'validator'], ['validator-3', 'validator'], ['validator-4', 'validator'], ['observer-1', 'observer']]);
  assert.equal(new Set(state.validators).size, 4);
  for (const f of ['primary.key', 'validator-2.key', 'validator-3.key', 'validator-4.key', 'client.key']) {
    assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, `${f} is private`);
  }
  const observer = new RpcClient(state.nodes[4].rpc);
  const infos = await Promise.all(state.nodes.map((n) => new RpcClient(n.rpc).info()));
  assert.deepEqual(infos.map((i) => i.role), ['leader', 'validator', 'validator', 'validator', 'observer']);
  for (const i of infos) assert.deepEqual([i.validators, i.quorum, i.f], [state.validators, 3, 1], 'every node has the same validator set');
  assert.deepEqual(infos.slice(0, 4).map((i) => i.address), state.validators, 'each validator runs with its own key');

  // An append through a validator becomes final, and the devnet says so.
  const appended = await runCli(['append', '--rpc', state.nodes[1].rpc, '--key-file', join(dir, 'client.key'), 'hello']);
  assert.equal(appended.code, 0, appended.stderr);
  const height = (JSON.parse(appended.stdout) as { header: { height: number } }).header.height;
  const line = await devnet.waitForLine((l) => Number(FINALIZED.exec(l)?.[1] ?? -1) >= height, 20_000);
  const [, finalized, head] = FINALIZED.exec(line)!.map(Number);
  assert.ok(head >= finalized);
  assert.ok((await observer.info()).finalizedHeight >= height, 'the printed height is the observer\'s');
  const printed = finalizedLines(devnet);
  assert.deepEqual(printed, [...new Set(printed)], 'a line only when the finalized height changed');

  devnet.child.kill('SIGINT');
  assert.deepEqual(await devnet.exited, { code: 0, signal: null });
  const keys = await Promise.all(['primary', 'validator-2', 'validator-3', 'validator-4', 'client'].map((k) => readFile(join(dir, `${k}.key`), 'utf8')));

  // Another size of validator set is refused (the log's set is fixed); the same directory restarts as it was.
  const resized = await runCli(['devnet', ...args, '--nodes', '7']);
  assert.equal(resized.code, 1);
  assert.match(resized.stderr, /holds a log of 4 validators .*--nodes 4, or --reset/);

  const again = await startDevnet(t, args);
  assert.deepEqual(again.state.validators, state.validators, 'same validator keys');
  assert.equal(again.state.clientAddress, state.clientAddress);
  assert.deepEqual(again.state.nodes.map((n) => n.peerId), state.nodes.map((n) => n.peerId), 'same libp2p identities');
  assert.deepEqual(await Promise.all(['primary', 'validator-2', 'validator-3', 'validator-4', 'client'].map((k) => readFile(join(dir, `${k}.key`), 'utf8'))), keys);
  // The log survived: the height final before the restart is printed again without any new append.
  await again.devnet.waitForLine((l) => Number(FINALIZED.exec(l)?.[1] ?? -1) >= height, 20_000);
  again.devnet.child.kill('SIGINT');
  assert.deepEqual(await again.devnet.exited, { code: 0, signal: null });
});

test('devnet refuses a directory made by the former layout (a primary and replicas, no validator set)', async (t) => {
  const dir = join(await tempDir(t), 'old');
  await mkdir(dir);
  await writeFile(join(dir, '.sequencer-devnet'), 'Created by `sequencer devnet`\n');
  await writeFile(join(dir, 'primary.key'), '0x' + '11'.repeat(32) + '\n', { mode: 0o600 });
  await mkdir(join(dir, 'primary'));
  await mkdir(join(dir, 'replica-1'));
  const r = await runCli(['devnet', '--dir', dir, '--base-port', String(await freePortBlock(5, 100))]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /was made by an older devnet .* use --reset/);
  assert.equal(await readFile(join(dir, 'primary.key'), 'utf8'), '0x' + '11'.repeat(32) + '\n', 'nothing touched');
});

test('devnet --hosts runs every node in its own network namespace with its own address; they are gone after Ctrl-C', { skip: process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false }, async (t) => {
  const dir = join(await tempDir(t), 'devnet');
  const base = await freePortBlock(3, 100);
  const { devnet, state } = await startDevnet(t, ['--dir', dir, '--base-port', String(base), '--nodes', '2', '--replicas', '0', '--hosts']);
  const hosts = state.nodes.map((n) => new URL(n.rpc).hostname);
  assert.equal(new Set(hosts).size, 2, 'one address per node');
  for (const h of hosts) assert.match(h, /^10\.77\.\d+\.\d+$/);
  const infos = await Promise.all(state.nodes.map((n) => new RpcClient(n.rpc).info()));
  // Each node reaches the other over the bridge: connected, and a transaction becomes final on both.
  for (const [i, info] of infos.entries()) assert.ok(info.multiaddrs.some((a) => a.includes(hosts[i])), `node ${i} listens on its own address`);
  const appended = await runCli(['append', '--rpc', state.nodes[1].rpc, '--key-file', join(dir, 'client.key'), '--wait', 'final', 'across hosts']);
  assert.equal(appended.code, 0, appended.stderr);
  const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]);
  const ours = state.nodes.map((n) => n.namespace!);
  assert.ok(ours.every((ns) => namespaces().includes(ns)), 'its namespaces exist while it runs');
  devnet.child.kill('SIGINT');
  assert.deepEqual(await devnet.exited, { code: 0, signal: null });
  assert.ok(ours.every((ns) => !namespaces().includes(ns)), 'its namespaces were removed');
});
