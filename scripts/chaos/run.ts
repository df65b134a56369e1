/**
 * `npm run chaos` (docs/chaos.md): validators (default four) and an observer, each in its own network namespace on a
 * bridge, their p2p traffic through a delaying relay, under a client load, through a seeded schedule of faults
 * (schedule.ts): kills and restarts, partitions both ways and one way, packet loss, delay and jitter, and with
 * `--leader-faults` the leader killed or restarted with its clock ahead. After each fault heals the run waits for the
 * final height to rise; at the end it heals everything, lets the nodes settle, reads every node's final headers and
 * final log and checks them (check.ts). Writes a JSON report and a summary; exits 1 on any violation.
 * Root, `ip` and `nft` needed.
 *
 *   npm run chaos -- [--duration S] [--seed N] [--validators A,B,C,D] [--no-leader-faults] [--no-relay]
 *                    [--bound-ms MS] [--workers N] [--clock-ahead-ms MS] [--report FILE]
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fromHex, toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { keccak256 } from '../../src/core/hash.ts';
import { domainSeparator } from '../../src/core/eip712.ts';
import { RpcClient } from '../../src/client/rpc-client.ts';
import { check, contentKey, type ChaosRecord, type FaultRecord, type NodeView } from './check.ts';
import { cut, forceThroughRelay, heal, lose } from './faults.ts';
import { cleanupOnSignal, createNetwork } from './links.ts';
import { LoadGenerator } from './load.ts';
import { keyOfName, NodeProcess, P2P_PORT } from './nodes.ts';
import { RelayProcess } from './relay.ts';
import { summarize, type ChaosReport } from './report.ts';
import { describePlan, drawSchedule, type FaultPlan } from './schedule.ts';

const CLIENT_KEY = fromHex('0x' + '22'.repeat(32));
const CHAIN_ID = 31337;
const LOG_ID = keccak256(new TextEncoder().encode('chaos'));
const RESTART_DOWN_MS = 1_500;
const SETTLE_MS = 30_000;

export interface ChaosOptions {
  readonly durationS: number;
  readonly seed: number;
  readonly boundMs: number;
  readonly validators?: readonly string[];
  readonly leaderFaults?: boolean;
  readonly relay?: boolean;
  readonly workers?: number;
  readonly clockAheadMs?: number;
  readonly log?: (line: string) => void;
  /** Called once the namespaces exist, with their tag (tests check nothing of it is left). */
  readonly onNetwork?: (tag: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    try {
      if (await condition()) return true;
    } catch { /* a node restarting: ask again */ }
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

/** Runs the chaos schedule; never throws for a violation (the report says), only for a harness failure. */
export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const names = opts.validators ?? ['A', 'B', 'C', 'D'];
  const options = { validators: names, leaderFaults: opts.leaderFaults ?? true, relay: opts.relay ?? true, workers: opts.workers ?? 2, clockAheadMs: opts.clockAheadMs ?? 30_000, boundMs: opts.boundMs };
  const allNames = [...names.map((n) => `validator ${n}`), 'observer'];
  const schedule = drawSchedule({ seed: opts.seed, nodes: allNames.length, leaderFaults: options.leaderFaults, relay: options.relay, clockAheadMs: options.clockAheadMs, count: Math.ceil(opts.durationS / 2) + 1 });
  log(`chaos: seed ${opts.seed}, ${opts.durationS} s, ${JSON.stringify(options)}; schedule (until the duration is spent):`);
  schedule.forEach((s, i) => log(`  ${i + 1}. after ${s.gapMs} ms, held ${s.holdMs} ms: ${describePlan(s.plan, (j) => allNames[j])}`));

  const dir = await mkdtemp(join(tmpdir(), 'chaos-'));
  const { topology, relayIps } = createNetwork(allNames.length);
  opts.onNetwork?.(topology.tag);
  log(`network ${topology.tag}: bridge ${topology.bridge}, nodes ${topology.nodes.map((n, i) => `${allNames[i]} ${n.ip} (relay ${relayIps[i]})`).join(', ')}; stores and logs in ${dir}`);
  const validatorKeys = names.map(keyOfName);
  const net = { dir, chainId: CHAIN_ID, logId: LOG_ID, validatorKeys, clientAddress: toHex(addressFromPrivateKey(CLIENT_KEY)) };
  const nodes = allNames.map((name, i) => new NodeProcess({
    name: name.replace(' ', '-'), ns: topology.nodes[i].ns, ip: topology.nodes[i].ip, validatorIndex: i < names.length ? i : null,
    peers: allNames.flatMap((_, j) => (j === i || j === allNames.length - 1 ? [] : [`/ip4/${options.relay ? relayIps[j] : topology.nodes[j].ip}/tcp/${P2P_PORT}`])),
  }, net));
  let relay: RelayProcess | undefined;
  let load: LoadGenerator | undefined;
  const tearDown = () => {
    for (const n of nodes) n.kill();
    relay?.stop();
    topology.teardown();
  };
  const signals = cleanupOnSignal(() => {
    tearDown();
    if (!process.env.CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  let keep = false;
  try {
    if (options.relay) {
      relay = await RelayProcess.start({ port: P2P_PORT, routes: topology.nodes.map((n, i) => ({ listen: relayIps[i], target: n.ip })) });
      for (const n of topology.nodes) forceThroughRelay(n.ns, topology.nodes.filter((o) => o !== n).map((o) => o.ip), P2P_PORT);
    }
    // The leader of view 0 first (it recovers from nobody), then the others, which wait for its status.
    for (const n of nodes) await n.start();
    const rpcs = nodes.map((n) => new RpcClient(n.rpcUrl));
    const infos = () => Promise.all(rpcs.map((r) => r.info()));
    if (!(await waitUntil(async () => (await infos()).every((x) => x.notReady === null), 30_000))) throw new Error('the nodes were not ready within 30 s');

    const started = performance.now();
    const now = () => performance.now() - started;
    load = new LoadGenerator({ clientKey: CLIENT_KEY, chainId: CHAIN_ID, logId: LOG_ID, nodes: nodes.map((n) => ({ name: n.spec.name, rpcUrl: n.rpcUrl })), workers: options.workers, now });
    const finalNow = async () => Math.max(-1, ...(await Promise.all(rpcs.map((r) => r.info().then((x) => x.finalizedHeight, () => -1)))));
    const leaderNow = async (): Promise<number> => {
      const known = (await Promise.all(rpcs.map((r) => r.info().catch(() => undefined)))).filter((x) => x !== undefined);
      const newest = known.reduce<(typeof known)[number] | undefined>((a, x) => (a && a.view >= x.view ? a : x), undefined);
      return Math.max(0, validatorKeys.findIndex((k) => toHex(addressFromPrivateKey(k)) === newest?.leader));
    };

    const inject = async (plan: FaultPlan, leader: number): Promise<{ what: string; heal: () => Promise<void> }> => {
      const spare = (victim: number) => (!options.leaderFaults && victim === leader ? (victim + 1) % nodes.length : victim);
      const peerAddresses = (j: number) => [topology.nodes[j].ip, relayIps[j]];
      const name = (j: number) => allNames[j] + (j === leader ? ' (the leader)' : '');
      switch (plan.kind) {
        case 'kill':
        case 'kill-leader': {
          const victim = plan.kind === 'kill' ? spare(plan.victim) : leader;
          nodes[victim].kill();
          return { what: `kill -9 ${name(victim)}`, heal: () => nodes[victim].restart(0) };
        }
        case 'clock-ahead-leader':
          await nodes[leader].restart(RESTART_DOWN_MS, plan.aheadMs);
          return { what: `${name(leader)} restarted with its clock ${plan.aheadMs} ms ahead`, heal: () => nodes[leader].restart(RESTART_DOWN_MS) };
        case 'partition': {
          const victim = spare(plan.victim);
          for (let j = 0; j < nodes.length; j++) if (j !== victim) cut(topology.nodes[victim].ns, peerAddresses(j));
          return { what: `partition: ${name(victim)} cut off both ways`, heal: async () => heal(topology.nodes[victim].ns) };
        }
        case 'one-way-partition': {
          const victim = spare(plan.victim);
          const from = plan.from === victim ? (victim + 1) % nodes.length : plan.from;
          cut(topology.nodes[victim].ns, peerAddresses(from), true);
          return { what: `one-way partition: ${name(victim)} hears nothing from ${name(from)}`, heal: async () => heal(topology.nodes[victim].ns) };
        }
        case 'loss':
          for (const n of topology.nodes) lose(n.ns, plan.percent);
          return { what: `loss: ${plan.percent} % of packets into every node`, heal: async () => { for (const n of topology.nodes) heal(n.ns); } };
        case 'delay':
          await relay!.setDelay({ delayMs: plan.delayMs, jitterMs: plan.jitterMs });
          return { what: `delay: ${plan.delayMs} ms + up to ${plan.jitterMs} ms jitter on every p2p hop`, heal: () => relay!.setDelay({ delayMs: 0, jitterMs: 0 }) };
      }
    };

    const faults: FaultRecord[] = [];
    for (const step of schedule) {
      if (now() + step.gapMs > opts.durationS * 1000) break;
      await sleep(step.gapMs);
      const startedMs = now();
      const fault = await inject(step.plan, await leaderNow());
      await sleep(step.holdMs);
      await fault.heal();
      const healedMs = now();
      const before = await finalNow();
      const recovered = await waitUntil(async () => (await finalNow()) > before, opts.boundMs * 2);
      const recoveredAfterMs = recovered ? Math.round(now() - healedMs) : null;
      faults.push({ fault: fault.what, startedMs: Math.round(startedMs), healedMs: Math.round(healedMs), recoveredAfterMs });
      log(`${(startedMs / 1000).toFixed(1)} s: ${fault.what}; healed at ${(healedMs / 1000).toFixed(1)} s; finality resumed ${recoveredAfterMs === null ? 'NEVER' : `${recoveredAfterMs} ms`} after healing`);
    }
    await load.stop();

    // Settle: every node holds the same final height and nothing above it (no soft batch left anywhere), then collect.
    const settled = await waitUntil(async () => {
      const all = await infos();
      return all.every((x) => x.height === x.finalizedHeight && x.finalizedHeight === all[0].finalizedHeight);
    }, SETTLE_MS);
    if (!settled) log(`not settled after ${SETTLE_MS / 1000} s: collecting as it stands`);
    const views: NodeView[] = [];
    const collectionErrors: string[] = [];
    let highestView = 0;
    let viewChanges = 0;
    for (const [i, rpc] of rpcs.entries()) {
      try {
        const info = await rpc.info();
        highestView = Math.max(highestView, info.view);
        viewChanges += info.viewChanges;
        views.push(await collect(nodes[i].spec.name, rpc, info.finalizedHeight, domainSeparator({ chainId: CHAIN_ID, logId: LOG_ID })));
      } catch (e) {
        collectionErrors.push(`${nodes[i].spec.name}: ${(e as Error).message}`);
      }
    }
    const record: ChaosRecord = { nodes: views, receipts: load.receipts, faults, boundMs: opts.boundMs, collectionErrors };
    const verdict = check(record);
    keep = !verdict.ok;
    return {
      ...record, seed: opts.seed, durationS: opts.durationS, options, finalHeight: Math.max(-1, ...views.map((v) => v.finalHeaders.length - 1)),
      highestView, viewChanges, failedAttempts: load.failedAttempts, verdict,
    };
  } catch (e) {
    keep = true;
    throw e;
  } finally {
    await load?.stop().catch(() => {});
    tearDown();
    signals.release();
    if (keep || process.env.CHAOS_KEEP) log(`node stores and logs kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** A node's final headers (by height) and final log, read over JSON-RPC. */
async function collect(name: string, rpc: RpcClient, finalizedHeight: number, separator: Uint8Array): Promise<NodeView> {
  const finalHeaders: string[] = [];
  const finalContent: string[] = [];
  let endSeq = 0;
  for (let h = 0; h <= finalizedHeight; h++) {
    const batch = await rpc.getBatch(h);
    finalHeaders.push(batch.headerHash);
    finalContent.push(contentKey(separator, batch.header));
    endSeq = batch.header.firstSeq + batch.header.count;
  }
  const finalEntries: NodeView['finalEntries'][number][] = [];
  for (let seq = 0; seq < endSeq; seq += 1000) {
    for (const e of await rpc.read(seq, 1000)) {
      if (e.height <= finalizedHeight) finalEntries.push({ seq: e.seq, sender: e.sender, nonce: e.nonce, payload: new TextDecoder().decode(fromHex(e.payload)) });
    }
  }
  return { name, finalHeaders, finalContent, finalEntries };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    allowNegative: true,
    options: {
      duration: { type: 'string', default: '60' }, seed: { type: 'string' }, 'bound-ms': { type: 'string', default: '10000' },
      validators: { type: 'string', default: 'A,B,C,D' }, 'leader-faults': { type: 'boolean', default: true }, relay: { type: 'boolean', default: true },
      workers: { type: 'string', default: '2' }, 'clock-ahead-ms': { type: 'string', default: '30000' }, report: { type: 'string' },
    },
  });
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const report = await runChaos({
    durationS: Number(values.duration), seed, boundMs: Number(values['bound-ms']), validators: values.validators.split(','),
    leaderFaults: values['leader-faults'], relay: values.relay, workers: Number(values.workers), clockAheadMs: Number(values['clock-ahead-ms']),
  });
  if (values.report) await writeFile(values.report, JSON.stringify(report, null, 2));
  console.log(summarize(report));
  return report.verdict.ok ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
