/**
 * One load-generating client, run in a worker thread so its work (encoding, HTTP or WebSocket, signing when the
 * pool runs out) never shares an event loop with the measurement in the main thread.
 *
 * Before the timed phase it pre-builds and pre-signs its pool of submissions and serialises each to what its
 * transport sends (signing is the client's own cost on its own machine in a real deployment): with `ingest`, the
 * submission's wire form, sent over one WebSocket to the node's `/ingest` (docs/protocol.md §Binary ingest) by the
 * SDK's IngestClient; with `http`, its JSON form, sent as `sequencer_append` calls. Then, on 'go':
 *  - open loop (rate 0): `inflight` concurrent slots, each sending one request (an HTTP request carrying `rpcBatch`
 *    submissions, or one ingest submission) and the next as soon as the answer arrives;
 *  - paced (rate > 0): requests are scheduled at fixed intervals for this client's share of the rate and sent
 *    on schedule whatever is in flight; latency counts from the scheduled time, so client-side queueing shows
 *    up in the figures instead of hiding (no coordinated omission).
 * Overloaded (-32006) and primary-unavailable (-32008) answers and transport errors are retried after a randomised
 * back-off that doubles with each attempt (retryDelayMs); the submission keeps its original submit time.
 */
import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { fromHex } from '../src/core/bytes.ts';
import { domainSeparator } from '../src/core/eip712.ts';
import { SubmissionSigner } from '../src/client/submission-signer.ts';
import { submissionToJson } from '../src/wire/json.ts';
import { encodeSubmission } from '../src/core/submission.ts';
import { IngestClient } from '../src/client/ingest-client.ts';
import { SequencerError } from '../src/core/errors.ts';
import { HttpPoster } from './lib/http.ts';
import { nowMs, sleep } from './lib/common.ts';

export interface WorkerConfig {
  index: number;
  clients: number;
  url: string;
  /** 'ingest': the binary WebSocket path; 'http': JSON-RPC sequencer_append. */
  transport: 'ingest' | 'http';
  key: string;
  logId: string;
  chainId: number;
  payloadBytes: number;
  txsPerSubmission: number;
  rpcBatch: number;
  inflight: number;
  /** This client's share of the paced rate in tx/s; 0 = open loop. */
  rate: number;
  poolSubmissions: number;
  /** Drop (and count) a submission still unanswered this long after the load stops. */
  drainMs: number;
}

export type ToMain =
  | { type: 'ready'; genMs: number; poolSubmissions: number; poolBytes: number }
  | { type: 'progress'; ackedTxs: number; ackedSubs: number; requests: number; errors: Record<string, number>; inflight: number }
  | { type: 'done'; submitT: Float64Array; ackT: Float64Array; endSeq: Float64Array; txs: Float64Array;
      /** The receipt's batch: its height, and the sequence number after its last entry (what finality covers). */
      height: Float64Array; batchEnd: Float64Array;
      signedLive: number; errors: Record<string, number>; failed: number; requests: number; retries: number; lateSends: number;
      /** CPU time of this client thread during the measured window, ms. */
      cpuMsInWindow: number };

export type FromMain = { type: 'go'; startAt: number; windowAt: number; endAt: number };

const RETRYABLE = new Set<number | string>([-32006, -32008, 'transport', 'timeout', 'http']);
const RETRY_FIRST_DELAY_MS = 5;
const RETRY_MAX_DELAY_MS = 500;

/**
 * The back-off before retry `attempt` (1, 2, ...): doubling from a few ms, randomised. A refusal says the node is
 * past its bound for a while, not for a few ms: retrying at a near-constant short interval turns each refused
 * submission into many more refusals, and the node spends its time refusing (congestion collapse).
 */
function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MAX_DELAY_MS, RETRY_FIRST_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random());
}
const PACED_MAX_INFLIGHT = 1024;

const cfg = workerData as WorkerConfig;
const port = parentPort!;
const signer = new SubmissionSigner(fromHex(cfg.key, 32), domainSeparator({ chainId: cfg.chainId, logId: fromHex(cfg.logId, 32) }));
let nonce = BigInt(Date.now()) * 1000n;

function makeSubmission(): string | Uint8Array {
  const buf = randomBytes(cfg.payloadBytes * cfg.txsPerSubmission);
  const transactions = Array.from({ length: cfg.txsPerSubmission }, (_, i) => new Uint8Array(buf.buffer, buf.byteOffset + i * cfg.payloadBytes, cfg.payloadBytes));
  const signed = signer.sign({ nonce: nonce++, transactions });
  return cfg.transport === 'ingest' ? encodeSubmission(signed) : JSON.stringify(submissionToJson(signed));
}

// ---- the pool, built before the timed phase --------------------------------------------------------------

const t0 = performance.now();
const pool: (string | Uint8Array)[] = [];
let poolBytes = 0;
for (let i = 0; i < cfg.poolSubmissions; i++) {
  const s = makeSubmission();
  pool.push(s);
  poolBytes += s.length;
}
port.postMessage({ type: 'ready', genMs: performance.now() - t0, poolSubmissions: pool.length, poolBytes } satisfies ToMain);

// ---- per-submission records ----------------------------------------------------------------------------

let cap = Math.max(16, pool.length);
let submitT = new Float64Array(cap);
let ackT = new Float64Array(cap);
let endSeq = new Float64Array(cap);
let txs = new Float64Array(cap);
let height = new Float64Array(cap);
let batchEnd = new Float64Array(cap);
let next = 0;
let signedLive = 0;

function grow(): void {
  cap *= 2;
  const g = (a: Float64Array) => { const b = new Float64Array(cap); b.set(a); return b; };
  submitT = g(submitT); ackT = g(ackT); endSeq = g(endSeq); txs = g(txs); height = g(height); batchEnd = g(batchEnd);
}

/** Takes the next `n` submissions (signing more on the spot, counted, if the pool ran out). */
function take(n: number, at: number): number[] {
  const ids: number[] = [];
  for (let k = 0; k < n; k++) {
    const id = next++;
    if (id >= cap) grow();
    if (id >= pool.length) {
      pool.push(makeSubmission());
      signedLive++;
    }
    submitT[id] = at;
    txs[id] = cfg.txsPerSubmission;
    ids.push(id);
  }
  return ids;
}

// ---- sending -------------------------------------------------------------------------------------------

const http = new HttpPoster(cfg.url, cfg.rate > 0 ? PACED_MAX_INFLIGHT : cfg.inflight);
/** The ingest connection (opened on 'go', reopened after a failure); receipts are not checked here, as over HTTP. */
let ingest: Promise<IngestClient> | undefined;
const separator = domainSeparator({ chainId: cfg.chainId, logId: fromHex(cfg.logId, 32) });
function ingestClient(): Promise<IngestClient> {
  ingest ??= IngestClient.connect({ url: cfg.url, rules: { logId: fromHex(cfg.logId, 32), separator, primary: new Uint8Array(20) }, maxInFlight: 1 << 16, timeoutMs: 60_000 });
  return ingest;
}
const errors: Record<string, number> = {};
let ackedTxs = 0, ackedSubs = 0, requests = 0, retries = 0, failed = 0, inflight = 0, lateSends = 0;
let drainDeadline = Infinity;

const countError = (code: number | string) => { errors[code] = (errors[code] ?? 0) + 1; };

function body(ids: readonly number[]): string {
  const one = (id: number) => `{"jsonrpc":"2.0","id":${id},"method":"sequencer_append","params":[${pool[id] as string}]}`;
  return ids.length === 1 && cfg.rpcBatch === 1 ? one(ids[0]) : `[${ids.map(one).join(',')}]`;
}

interface Answer { id: number; result?: { firstSeq: number; count: number; header: { height: number; firstSeq: number; count: number } }; error?: { code: number } }

/** Sends one submission over the ingest connection; answers as a JSON-RPC answer would, for `send`. */
async function sendIngest(id: number): Promise<Answer[]> {
  const client = await ingestClient();
  try {
    const r = await client.submitEncoded(pool[id] as Uint8Array);
    const { height, firstSeq, count } = r.header;
    return [{ id, result: { firstSeq: r.firstSeq, count: r.entryHashes.length, header: { height, firstSeq, count } } }];
  } catch (e) {
    if (e instanceof SequencerError) return [{ id, error: { code: e.code } }];
    if (ingest) { const failed = ingest; ingest = undefined; void failed.then((c) => c.close(), () => {}); }
    throw e;
  }
}

/** Sends the submissions `ids` until each is sequenced, refused for good, or the drain deadline passes. */
async function send(ids: number[]): Promise<void> {
  inflight++;
  try {
    for (let attempt = 0; ids.length > 0; attempt++) {
      if (attempt > 0) {
        retries += ids.length;
        if (nowMs() > drainDeadline) { failed += ids.length; countError('abandoned'); return; }
        await sleep(retryDelayMs(attempt));
      }
      requests++;
      let answers: Answer[];
      try {
        if (cfg.transport === 'ingest') answers = await sendIngest(ids[0]);
        else {
          const res = await http.post(body(ids));
          answers = Array.isArray(res) ? res as Answer[] : [res as Answer];
        }
      } catch (e) {
        countError((e as { code?: string }).code === 'timeout' ? 'timeout' : 'transport');
        continue; // resend all (a resend of an accepted one comes back as -32003 nonce replayed, counted)
      }
      const at = nowMs();
      const byId = new Map(answers.map((a) => [a.id, a]));
      const again: number[] = [];
      for (const id of ids) {
        const a = byId.get(id);
        if (a?.result) {
          ackT[id] = at;
          endSeq[id] = a.result.firstSeq + a.result.count;
          height[id] = a.result.header.height;
          batchEnd[id] = a.result.header.firstSeq + a.result.header.count;
          ackedTxs += a.result.count;
          ackedSubs++;
        } else {
          const code = a?.error?.code ?? 'missing';
          countError(code);
          if (RETRYABLE.has(code)) again.push(id);
          else failed++;
        }
      }
      ids = again;
    }
  } finally {
    inflight--;
  }
}

async function openLoop(endAt: number): Promise<void> {
  const slot = async () => {
    while (nowMs() < endAt) await send(take(cfg.rpcBatch, nowMs()));
  };
  await Promise.all(Array.from({ length: cfg.inflight }, slot));
}

async function paced(startAt: number, endAt: number): Promise<void> {
  const intervalMs = (cfg.rpcBatch * cfg.txsPerSubmission / cfg.rate) * 1000;
  const running = new Set<Promise<void>>();
  let t = startAt + (cfg.index / cfg.clients) * intervalMs; // stagger the clients within one interval
  while (t < endAt) {
    const wait = t - nowMs();
    if (wait > 1) await sleep(wait);
    while (t <= nowMs() && t < endAt) {
      if (running.size >= PACED_MAX_INFLIGHT) {
        lateSends++;
        await Promise.race(running);
      }
      const p = send(take(cfg.rpcBatch, t));
      running.add(p);
      void p.finally(() => running.delete(p));
      t += intervalMs;
    }
  }
  await Promise.all(running);
}

port.on('message', (m: FromMain) => {
  if (m.type !== 'go') return;
  void (async () => {
    drainDeadline = m.endAt + cfg.drainMs;
    const progress = setInterval(() => port.postMessage({ type: 'progress', ackedTxs, ackedSubs, requests, errors: { ...errors }, inflight } satisfies ToMain), 250);
    let cpu0 = process.threadCpuUsage(), cpu: NodeJS.CpuUsage | undefined;
    setTimeout(() => { cpu0 = process.threadCpuUsage(); }, m.windowAt - nowMs());
    setTimeout(() => { cpu = process.threadCpuUsage(cpu0); }, m.endAt - nowMs());
    const wait = m.startAt - nowMs();
    if (wait > 0) await sleep(wait);
    if (cfg.rate > 0) await paced(m.startAt, m.endAt);
    else await openLoop(m.endAt);
    cpu ??= process.threadCpuUsage(cpu0);
    clearInterval(progress);
    http.close();
    void ingest?.then((c) => c.close(), () => {});
    const n = next;
    const msg: ToMain = {
      type: 'done', submitT: submitT.slice(0, n), ackT: ackT.slice(0, n), endSeq: endSeq.slice(0, n), txs: txs.slice(0, n),
      height: height.slice(0, n), batchEnd: batchEnd.slice(0, n),
      signedLive, errors, failed, requests, retries, lateSends, cpuMsInWindow: (cpu.user + cpu.system) / 1000,
    };
    port.postMessage(msg, [msg.submitT, msg.ackT, msg.endSeq, msg.txs, msg.height, msg.batchEnd].map((a) => a.buffer as ArrayBuffer));
  })();
});
