/**
 * GET /metrics (docs/metrics.md) scraped from a real primary and replica: the counters move by what was appended,
 * the histograms have samples, refused gossip is counted by a bounded reason, names follow Prometheus conventions,
 * a scrape resets nothing, and one scrape's CPU time stays small.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHost } from '../src/p2p/host.ts';
import { loadOrCreatePeerKey } from '../src/p2p/identity.ts';
import { batchTopic } from '../src/wire/p2p-messages.ts';
import type { SequencerNode } from '../src/node/sequencer-node.ts';
import { encodeBatch, sealBatch } from '../src/core/batch.ts';
import { submissionDigest } from '../src/core/submission.ts';
import { batchOnTip, PRIMARY_RULES, tipOf } from './helpers/equivocator.ts';
import { LOG_ID, OUTSIDER_KEY, SEPARATOR, client, clientSigner, startPrimary, startReplica, tempDir, waitFor } from './helpers/network.ts';

interface Sample { readonly name: string; readonly labels: Record<string, string>; readonly value: number }
interface Scrape { readonly samples: Sample[]; readonly types: Map<string, string> }

/** Parses the Prometheus text format (one sample a line, `# TYPE name type` lines). */
function parse(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) { types.set(type[1], type[2]); continue; }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function scrape(node: SequencerNode): Promise<Scrape> {
  const res = await fetch(`${node.rpcUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

/** The value of the sample `name` whose labels include `labels`; fails when there is none. */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = s.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(found, `metric ${name} ${JSON.stringify(labels)} is exported`);
  return found.value;
}

const signer = clientSigner();
const tx = (s: string) => new TextEncoder().encode(s);

test('a primary and a replica export what they sequenced, stored, verified and synced; a scrape resets nothing', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });
  const rpc = client(primary);

  // Before the replica exists, so that it must sync these batches from the primary.
  let nonce = 1n;
  const before = [3, 1, 5];
  for (const n of before) {
    await rpc.append(signer.sign({ nonce: nonce++, transactions: Array.from({ length: n }, (_, i) => tx(`early ${nonce} ${i}`)) }));
  }
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  t.after(() => replica.stop());
  await waitFor(async () => (await client(replica).info()).height === before.length - 1, 15_000, 'replica synced');
  // And some through gossip, one of them appended through the replica (forwarded).
  const after = [2, 4];
  await rpc.append(signer.sign({ nonce: nonce++, transactions: Array.from({ length: after[0] }, (_, i) => tx(`late ${i}`)) }));
  await client(replica).append(signer.sign({ nonce: nonce++, transactions: Array.from({ length: after[1] }, (_, i) => tx(`forwarded ${i}`)) }));
  const batches = before.length + after.length;
  const transactions = [...before, ...after].reduce((a, b) => a + b, 0);
  await waitFor(async () => (await client(replica).info()).height === batches - 1, 15_000, 'replica in step');
  // A log of one validator: the primary's own two votes make each batch final right after it is stored.
  await waitFor(() => primary.info().finalizedHeight === batches - 1, 15_000, 'primary final');

  const p = await scrape(primary);
  assert.equal(value(p, 'sequencer_batches_sequenced_total'), batches);
  assert.equal(value(p, 'sequencer_transactions_sequenced_total'), transactions);
  assert.equal(value(p, 'sequencer_submissions_sequenced_total'), batches);
  assert.equal(value(p, 'sequencer_batches_stored_total'), batches);
  assert.equal(value(p, 'sequencer_transactions_stored_total'), transactions);
  assert.equal(value(p, 'sequencer_head_height'), batches - 1);
  assert.equal(value(p, 'sequencer_entries'), transactions);
  assert.equal(value(p, 'sequencer_finalized_height'), batches - 1, 'the last batch is final');
  assert.equal(value(p, 'sequencer_append_seconds_count', { result: 'ok' }), batches - 1, 'the appends its clients sent it (the forwarded one is the replica\'s)');
  assert.ok(value(p, 'sequencer_append_seconds_sum', { result: 'ok' }) > 0);
  assert.equal(value(p, 'sequencer_store_write_seconds_count'), batches);
  assert.ok(value(p, 'sequencer_store_write_seconds_sum') > 0);
  assert.ok(value(p, 'sequencer_sync_requests_served_total') >= 1, 'the replica synced from the primary');
  assert.equal(value(p, 'sequencer_peers'), 1);
  assert.equal(value(p, 'sequencer_halted', { reason: 'equivocation' }), 0);
  assert.equal(value(p, 'sequencer_ready'), 1);
  assert.equal(value(p, 'sequencer_info', { mode: 'primary' }), 1);

  const r = await scrape(replica);
  assert.equal(value(r, 'sequencer_batches_sequenced_total'), 0, 'a replica sequences nothing');
  assert.equal(value(r, 'sequencer_batches_stored_total'), batches);
  assert.equal(value(r, 'sequencer_transactions_stored_total'), transactions, 'the replica stored every transaction the primary sequenced');
  assert.equal(value(r, 'sequencer_head_height'), batches - 1);
  assert.equal(value(r, 'sequencer_store_write_seconds_count'), batches);
  assert.ok(value(r, 'sequencer_sync_requests_made_total') >= 1);
  assert.ok(value(r, 'sequencer_gossip_messages_total', { verdict: 'accept' }) + value(r, 'sequencer_gossip_messages_total', { verdict: 'ignore' }) >= 1,
    'gossip was judged');
  assert.equal(value(r, 'sequencer_append_seconds_count', { result: 'ok' }), 1, 'the forwarded append');
  assert.equal(value(r, 'sequencer_verification_failures_total', { reason: 'malformed' }), 0);
  // Process and libp2p metrics are in the same registry.
  assert.ok(value(r, 'process_resident_memory_bytes') > 0);
  assert.ok(r.samples.some((s) => s.name.startsWith('nodejs_eventloop_lag')), 'event-loop delay');
  assert.ok(r.types.has('nodejs_gc_duration_seconds'), 'GC');
  assert.ok(r.samples.some((s) => s.name.startsWith('libp2p_')), 'libp2p metrics');

  // Scraping reads only: a second scrape sees the same counts.
  const again = await scrape(replica);
  for (const name of ['sequencer_batches_stored_total', 'sequencer_transactions_stored_total', 'sequencer_store_write_seconds_count']) {
    assert.equal(value(again, name), value(r, name), `${name} unchanged by a scrape`);
  }
});

test('refused gossip is counted by a bounded reason and verdict', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  const replica = await startReplica(join(dir.path, 'r'), primary.multiaddrs());
  const rogue = await createHost({ privateKey: await loadOrCreatePeerKey(join(dir.path, 't')), listenPort: 0, bootstrapPeers: replica.multiaddrs(), maxMessageBytes: 1 << 20, log: () => {} });
  t.after(async () => { await rogue.stop(); await replica.stop(); await primary.stop(); await dir.remove(); });
  const topic = batchTopic(LOG_ID);
  rogue.subscribe(topic, async () => 'ignore');
  const peer = (await client(replica).info()).peerId as string;
  await waitFor(() => rogue.subscribers(topic).includes(peer), 10_000, 'replica subscribed');

  const failures = async (reason: string) => value(await scrape(replica), 'sequencer_verification_failures_total', { reason });
  await rogue.publish(topic, tx('not a batch at all'));
  await waitFor(async () => await failures('malformed') === 1, 10_000, 'malformed batch counted');

  // The replica holds height 0; the next batches are for height 1.
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('one')] }));
  await waitFor(async () => (await client(replica).info()).height === 0, 15_000, 'replicated');
  const tip = await tipOf(client(replica));
  const fresh = signer.sign({ nonce: 2n, transactions: [tx('two')] });
  const forged = encodeBatch(sealBatch(PRIMARY_RULES, tip, [{ submission: fresh, digest: submissionDigest(SEPARATOR, fresh) }], Date.now(), OUTSIDER_KEY).batch);
  await rogue.publish(topic, forged);
  await waitFor(async () => await failures('header_signature') === 1, 10_000, 'forged header counted');
  // Signed by the primary's key, but reusing the nonce of height 0 (one such batch: a second one for height 1
  // would be an equivocation).
  await rogue.publish(topic, batchOnTip(tip, 'replayed', Date.now(), 1n));
  await waitFor(async () => await failures('nonce_replayed') === 1, 10_000, 'replayed nonce counted');

  const s = await scrape(replica);
  assert.equal(value(s, 'sequencer_gossip_messages_total', { verdict: 'reject' }), 3);
  assert.equal(value(s, 'sequencer_verification_failures_total', { reason: 'batch_body' }), 0);
  // The label values are the fixed set, whatever the message said.
  const reasons = s.samples.filter((x) => x.name === 'sequencer_verification_failures_total').map((x) => x.labels.reason).sort();
  assert.deepEqual(reasons, ['batch_body', 'header_signature', 'malformed', 'nonce_replayed', 'not_yet_valid']);
});

test('metric names follow the conventions: sequencer_ prefix (or process/libp2p ones), counters end in _total, base units', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('one')] }));
  const s = await scrape(primary);
  assert.ok(s.types.size > 20);
  for (const [name, type] of s.types) {
    assert.match(name, /^(sequencer_[a-z_]+|process_[a-z_]+|nodejs_[a-z0-9_]+|libp2p_[a-z0-9_]+)$/, `${name}: a known prefix`);
    if (type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    if (name.startsWith('sequencer_')) {
      assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb|percent)(_|$)/, `${name} is in base units`);
      if (type === 'histogram') assert.match(name, /_seconds$/, `${name}: a histogram of durations in seconds`);
    }
  }
  const own = [...s.types.keys()].filter((n) => n.startsWith('sequencer_'));
  for (const name of own) assert.ok(s.samples.some((x) => x.name === name || x.name.startsWith(`${name}_`)), `${name} has samples`);
  // docs/metrics.md lists every one of the node's own metrics (a table row each).
  const documented = new Set([...readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8').matchAll(/^\| `(sequencer_[a-z_]+)` \|/gm)].map((m) => m[1]));
  for (const name of own) assert.ok(documented.has(name), `${name} is listed in docs/metrics.md`);
});

test('a /metrics scrape is cheap: its CPU time, and appends while it is scraped every 10 ms', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });
  await client(primary).append(signer.sign({ nonce: 1n, transactions: [tx('one')] }));
  for (let i = 0; i < 5; i++) await primary.metricsText(); // warm up
  const rounds = 50;
  const cpu = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await primary.metricsText();
  const used = process.cpuUsage(cpu);
  const perScrapeMs = (used.user + used.system) / 1000 / rounds;
  t.diagnostic(`one /metrics scrape (text built in process): ${perScrapeMs.toFixed(2)} ms CPU`);
  assert.ok(perScrapeMs < 20, `a scrape costs ${perScrapeMs} ms of CPU`);

  // Appends with and without /metrics scraped every 10 ms (100 scrapes a second, far more than any Prometheus).
  const rpc = client(primary);
  let n = 2n;
  const appendFor = async (count: number): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < count; i++) await rpc.append(signer.sign({ nonce: n++, transactions: [tx(`append ${n}`)] }));
    return performance.now() - started;
  };
  await appendFor(20); // warm up
  const quiet = await appendFor(200);
  let polling = true;
  let scrapes = 0;
  const poller = (async () => {
    while (polling) {
      await (await fetch(`${primary.rpcUrl}/metrics`)).text();
      scrapes++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const polled = await appendFor(200);
  polling = false;
  await poller;
  t.diagnostic(`200 appends: ${quiet.toFixed(0)} ms alone, ${polled.toFixed(0)} ms with /metrics scraped every 10 ms (${scrapes} scrapes)`);
  assert.ok(scrapes > 0);
  assert.ok(polled < 3 * quiet + 500, `scraping every 10 ms slowed 200 appends from ${quiet} to ${polled} ms`);
});
