/**
 * `npm run chaos` (docs/chaos.md): four validators, each in its own network namespace on a bridge, under a client
 * load, through a random (seeded) schedule of faults: the leader or another validator killed with SIGKILL and
 * restarted on its store, one node cut off (both ways or one way), random packet loss. After each fault heals the run
 * waits for the final height to rise again; at the end it collects every node's final headers and final log and
 * checks them (check.ts). Writes a JSON report and a summary; exits 1 on any violation. Root, `ip` and `nft` needed.
 *
 *   npm run chaos -- [--duration S] [--seed N] [--bound-ms MS] [--report FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { RpcClient } from '../../src/client/rpc-client.ts';
import { SubmissionSigner } from '../../src/client/submission-signer.ts';
import { domainSeparator } from '../../src/core/eip712.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { parseStartedEvent, type StartedEvent } from '../../src/cli/started-event.ts';
import { check, type ChaosRecord, type FaultRecord, type NodeView } from './check.ts';
import { cut, heal, lose } from './faults.ts';
import { createTopology, type Topology } from './netns.ts';

const CLI = fileURLToPath(new URL('../../cmd/sequencer.ts', import.meta.url));
const KEYS = ['0x' + '11'.repeat(32), '0x' + '44'.repeat(32), '0x' + '55'.repeat(32), '0x' + '66'.repeat(32)].map((k) => fromHex(k));
const CLIENT_KEY = fromHex('0x' + '22'.repeat(32));
const CHAIN_ID = 31337;
const LOG_ID = keccak256(new TextEncoder().encode('chaos'));
const RPC_PORT = 8545;
const P2P_PORT = 7000;

export interface ChaosOptions {
  readonly durationS: number;
  readonly seed: number;
  readonly boundMs: number;
  readonly log?: (line: string) => void;
}

export interface ChaosReport extends ChaosRecord {
  readonly seed: number;
  readonly durationS: number;
  readonly finalHeight: number;
  readonly views: number;
  readonly receipts: number;
  readonly verdict: ReturnType<typeof check>;
}

/** A small deterministic generator (mulberry32): the same seed, the same schedule. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunningNode {
  child: ChildProcess;
  started: StartedEvent;
}

/** Starts validator i in its namespace; resolves with its started line. */
function startNode(topology: Topology, dir: string, i: number): Promise<RunningNode> {
  const validators = KEYS.map((k) => toHex(addressFromPrivateKey(k))).join(',');
  const peers = topology.nodes.filter((_, j) => j !== i).map((n) => `/ip4/${n.ip}/tcp/${P2P_PORT}`);
  const args = [CLI, 'start', '--mode', i === 0 ? 'primary' : 'validator', '--db', join(dir, `v${i}`),
    '--rpc-host', topology.nodes[i].ip, '--rpc-port', String(RPC_PORT), '--p2p-host', topology.nodes[i].ip, '--p2p-port', String(P2P_PORT),
    '--allow', toHex(addressFromPrivateKey(CLIENT_KEY)), '--log-id', toHex(LOG_ID), '--chain-id', String(CHAIN_ID), '--validators', validators,
    '--log-level', 'warn', ...(i === 0 ? ['--unsafe-skip-recovery'] : ['--peers', peers.join(',')])];
  const child = spawn('ip', ['netns', 'exec', topology.nodes[i].ns, process.execPath, ...args], {
    env: { ...process.env, PRIVATE_KEY: toHex(KEYS[i]) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const logFile = createWriteStream(join(dir, `v${i}.log`), { flags: 'a', mode: 0o600 });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      logFile.write(d);
    });
    child.on('exit', () => logFile.end());
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (const line of buffer.split('\n')) {
        const started = parseStartedEvent(line);
        if (started) resolve({ child, started });
      }
    });
    child.on('exit', (code) => reject(new Error(`validator ${i} exited (${code}) before starting: ${stderr}`)));
  });
}

/** Runs the chaos schedule; never throws for a violation (the report says), only for a harness failure. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const rand = random(opts.seed);
  const dir = await mkdtemp(join(tmpdir(), 'chaos-'));
  const topology = createTopology(KEYS.length);
  const nodes: (RunningNode | undefined)[] = [];
  const rpcOf = (i: number) => new RpcClient(`http://${topology.nodes[i].ip}:${RPC_PORT}`);
  let loading = true;
  let keep = false;
  try {
    // The first node alone (it recovers from nobody), then the others, which wait for its status.
    nodes[0] = await startNode(topology, dir, 0);
    for (let i = 1; i < KEYS.length; i++) nodes[i] = await startNode(topology, dir, i);
    await waitUntil(async () => (await Promise.all(KEYS.map((_, i) => rpcOf(i).info()))).every((x) => x.notReady === null), 30_000);

    // Load: one submission at a time per worker, to a random node, retried (the same bytes) until answered.
    const signer = new SubmissionSigner(CLIENT_KEY, domainSeparator({ chainId: CHAIN_ID, logId: LOG_ID }));
    const acknowledged: string[] = [];
    let nonce = 1n;
    const load = [0, 1].map(async () => {
      while (loading) {
        const n = nonce++;
        const payload = `chaos ${n}`;
        const s = signer.sign({ nonce: n, transactions: [new TextEncoder().encode(payload)] });
        for (let attempt = 0; attempt < 50 && loading; attempt++) {
          try {
            await rpcOf(Math.floor(Math.random() * KEYS.length)).append(s);
            acknowledged.push(payload);
            break;
          } catch {
            await sleep(100);
          }
        }
      }
    });

    const faults: FaultRecord[] = [];
    const started = performance.now();
    const finalNow = async () => Math.max(-1, ...(await Promise.all(KEYS.map((_, i) => rpcOf(i).info().then((x) => x.finalizedHeight, () => -1)))));
    while (performance.now() - started < opts.durationS * 1000) {
      await sleep(1_000 + rand() * 2_000);
      const pick = rand();
      const victim = Math.floor(rand() * KEYS.length);
      const info = await rpcOf((victim + 1) % KEYS.length).info().catch(() => undefined);
      const leader = info ? KEYS.findIndex((k) => toHex(addressFromPrivateKey(k)) === info.leader) : 0;
      const faultStart = performance.now();
      let fault: string;
      // The first fault is always the leader killed: every run, however short, shows a failover.
      if (faults.length === 0 || pick < 0.35) {
        const target = faults.length === 0 || rand() < 0.5 ? Math.max(0, leader) : victim;
        fault = `kill -9 validator ${target}${target === leader ? ' (the leader)' : ''}`;
        nodes[target]!.child.kill('SIGKILL');
        await sleep(1_500);
        nodes[target] = await startNode(topology, dir, target);
      } else if (pick < 0.6) {
        fault = `partition: validator ${victim} cut off both ways`;
        for (const other of topology.nodes) if (other !== topology.nodes[victim]) cut(topology.nodes[victim].ns, other.ip);
        await sleep(2_000);
        heal(topology.nodes[victim].ns);
      } else if (pick < 0.8) {
        const from = (victim + 1) % KEYS.length;
        fault = `one-way partition: validator ${victim} hears nothing from validator ${from}`;
        cut(topology.nodes[victim].ns, topology.nodes[from].ip, true);
        await sleep(2_000);
        heal(topology.nodes[victim].ns);
      } else {
        fault = `loss: 10 % of packets into every node`;
        for (const n of topology.nodes) lose(n.ns, 10);
        await sleep(2_000);
        for (const n of topology.nodes) heal(n.ns);
      }
      const healedAt = performance.now();
      const before = await finalNow();
      let recoveredAfterMs: number | null = null;
      await waitUntil(async () => (await finalNow()) > before, opts.boundMs * 2).then(() => { recoveredAfterMs = Math.round(performance.now() - healedAt); }, () => {});
      faults.push({ fault, startedMs: Math.round(faultStart - started), healedMs: Math.round(healedAt - started), recoveredAfterMs });
      log(`${fault}: finality resumed ${recoveredAfterMs === null ? 'NEVER' : `${recoveredAfterMs} ms`} after healing`);
    }
    loading = false;
    await Promise.all(load);

    // Settle: every node holds the same final height and nothing above it (no soft batch left anywhere), then collect.
    await waitUntil(async () => {
      const infos = await Promise.all(KEYS.map((_, i) => rpcOf(i).info()));
      return infos.every((x) => x.height === x.finalizedHeight && x.finalizedHeight === infos[0].finalizedHeight);
    }, 30_000).catch(() => log('not settled after 30 s: collecting as it stands'));
    const views: NodeView[] = [];
    const collectionErrors: string[] = [];
    let maxView = 0;
    for (let i = 0; i < KEYS.length; i++) {
      const view = await collect(i).catch((e: Error) => {
        collectionErrors.push(`validator ${i}: ${e.message}`);
        return undefined;
      });
      if (view) views.push(view);
    }
    async function collect(i: number): Promise<NodeView> {
      const rpc = rpcOf(i);
      const info = await rpc.info();
      maxView = Math.max(maxView, info.view);
      const finalHeaders: string[] = [];
      for (let h = 0; h <= info.finalizedHeight; h++) finalHeaders.push((await rpc.getBatch(h)).headerHash);
      const finalPayloads: string[] = [];
      if (info.finalizedHeight >= 0) {
        const last = (await rpc.getBatch(info.finalizedHeight)).header;
        for (let seq = 0; seq < last.firstSeq + last.count; seq += 1000) {
          for (const e of await rpc.read(seq, 1000)) if (e.height <= info.finalizedHeight) finalPayloads.push(new TextDecoder().decode(fromHex(e.payload)));
        }
      }
      return { name: `validator ${i}`, finalHeaders, finalPayloads };
    }
    const record: ChaosRecord = { nodes: views, acknowledged, faults, boundMs: opts.boundMs, collectionErrors };
    const verdict = check(record);
    keep = !verdict.ok;
    return {
      ...record, seed: opts.seed, durationS: opts.durationS, finalHeight: Math.max(...views.map((v) => v.finalHeaders.length - 1)), views: maxView,
      receipts: acknowledged.length, verdict,
    };
  } catch (e) {
    keep = true;
    throw e;
  } finally {
    loading = false;
    for (const n of nodes) n?.child.kill('SIGKILL');
    await sleep(200);
    topology.teardown();
    if (keep || process.env.CHAOS_KEEP) log(`node stores and logs kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

async function waitUntil(condition: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      if (await condition()) return;
    } catch { /* a node restarting: ask again */ }
    if (performance.now() > deadline) throw new Error('timed out');
    await sleep(100);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { duration: { type: 'string', default: '60' }, seed: { type: 'string' }, 'bound-ms': { type: 'string', default: '10000' }, report: { type: 'string' } },
  });
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`chaos: seed ${seed}, ${values.duration} s`);
  const report = await runChaos({ durationS: Number(values.duration), seed, boundMs: Number(values['bound-ms']) });
  if (values.report) await writeFile(values.report, JSON.stringify(report, null, 2));
  console.log(`faults ${report.faults.length}, receipts ${report.receipts}, final height ${report.finalHeight}, highest view ${report.views}`);
  console.log(report.verdict.ok ? 'checks: safety and liveness hold' : `VIOLATIONS:\n${report.verdict.violations.join('\n')}`);
  return report.verdict.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
