/**
 * The explorer page's script (docs/explorer.md), bundled for browsers by the node that serves it (src/rpc/explorer.ts).
 * It shows the log live and verifies what it shows with the SDK, in the browser: batches come from watchEntries
 * (each header's signature, its link to the one before, every submission signature, the entry chain and the Merkle
 * root are checked before a batch is listed), a looked-up entry from getProof (its inclusion proof checked against
 * the signed header), equivocation proofs with the core's checkProof. What the node merely states (its head
 * height, its health) is labelled as such. Whatever fails to verify raises the red banner.
 */
import { createSequencerClient, NotFoundError, VerificationError, type EntryProofJson, type HeaderJson, type InfoJson, type SequencerClient } from '../client/index.ts';
import type { ExportedProofJson } from '../wire/rpc-types.ts';
import { toHex } from '../core/bytes.ts';
import { checkProof } from '../core/equivocation.ts';
import { parseProof } from '../wire/json.ts';
import { resolveConfig } from './config.ts';
import { byId, el, type Elem, formatDuration, setText, shortHex, showNotVerified } from './dom.ts';

/** Batches listed at once (older rows are dropped), and how many before the head the page starts from. */
const MAX_BATCH_ROWS = 50;
const BACKFILL_BATCHES = 20;
const INFO_POLL_MS = 1_000;

interface VerifiedBatch {
  readonly header: HeaderJson;
  readonly headerHash: string;
}

declare const location: { readonly search: string; readonly origin: string };

const startedAt = Date.now();
let latest: VerifiedBatch | undefined;
let info: InfoJson | undefined;
/** The node's final height, shown once its finality certificate checked: the header's time, the signers counted. */
let final: { height: number; timestamp: number; signers: number } | undefined;
let equivocationsShown = -1;

function leaderOf(client: SequencerClient, view: number): string {
  return toHex(client.context.rules.membership.leaderOf(view));
}

/** Head, verified height, finality, view and leader, validators: redrawn every second (the ages move). */
function renderStatus(client: SequencerClient): void {
  const now = Date.now();
  if (info) {
    setText('head-height', info.height < 0 ? 'empty' : String(info.height));
    const headVerified = latest && latest.header.height === info.height;
    setText('head-age', headVerified ? `sealed ${formatDuration(now - latest!.header.timestamp)} ago · ${info.entries} entries` : `as the node states it · ${info.entries} entries`);
  }
  if (latest) {
    setText('verified-height', String(latest.header.height));
    setText('verified-sub', `header ${shortHex(latest.headerHash)} · signature, links, Merkle root checked`);
    setText('view', String(latest.header.view));
    setText('leader', `leader ${leaderOf(client, latest.header.view)}`);
  }
  if (final) {
    const { quorum, validators } = client.context.rules.membership;
    setText('finalized-height', String(final.height));
    setText('finalized-sub', `sealed ${formatDuration(now - final.timestamp)} ago · certificate checked: ${final.signers} of ${validators.length} validators (quorum ${quorum})`);
  } else {
    setText('finalized-height', '–');
    setText('finalized-sub', 'nothing final yet: headers are soft (signed by the leader alone) until a quorum certifies them');
  }
  renderValidators(client, now);
}

function renderValidators(client: SequencerClient, now: number): void {
  const leader = latest ? leaderOf(client, latest.header.view) : undefined;
  const rows = client.context.rules.membership.validators.map((v, i) => {
    const address = toHex(v);
    const isLeader = address === leader;
    const lastSigned = isLeader && latest ? `height ${latest.header.height}, ${formatDuration(now - latest.header.timestamp)} ago` : '–';
    return el('tr', {},
      el('td', {}, i),
      el('td', { class: 'mono' }, address),
      el('td', {}, isLeader ? `leader of view ${latest!.header.view}` : 'validator'),
      el('td', {}, lastSigned),
      el('td', {}, health(address)),
    );
  });
  byId('validators').replaceChildren(...rows);
}

/** A validator's health as the node the page asks sees it (its halted, storage and start-up states). */
function health(address: string): Elem {
  if (!info) return el('span', { class: 'pill' }, 'unknown');
  if (info.halted) return el('span', { class: 'pill bad' }, `halted: ${info.halted}`);
  if (info.storageFault) return el('span', { class: 'pill bad' }, `storage fault: ${info.storageFault}`);
  if (info.notReady) return el('span', { class: 'pill warn' }, `not ready: ${info.notReady}`);
  const self = info.address?.toLowerCase() === address;
  return el('span', { class: 'pill ok' }, self ? 'ok · the node this page asks' : `ok · followed by a ${info.mode} with ${info.connectedPeers.length} peer${info.connectedPeers.length === 1 ? '' : 's'}`);
}

function addBatchRow(batch: VerifiedBatch, signer: string): void {
  const { header, headerHash } = batch;
  // Only batches sealed after the page opened have a meaningful delay; older ones were backfilled.
  const live = header.timestamp >= startedAt - 1_000;
  const row = el('tr', { class: 'fresh', 'data-height': String(header.height) },
    el('td', {}, header.height),
    el('td', {}, header.view),
    el('td', { class: 'mono', title: headerHash }, shortHex(headerHash, 8)),
    el('td', {}, header.count),
    el('td', { class: 'mono', title: signer }, shortHex(signer)),
    el('td', {}, live ? formatDuration(Date.now() - header.timestamp) : el('span', { class: 'sub' }, 'backfill')),
    el('td', { class: 'ok', title: 'header signature, link, submissions, entry chain and Merkle root verified' }, '✓ verified'),
  );
  const body = byId('batches');
  body.prepend(row);
  while (body.children.length > MAX_BATCH_ROWS) body.lastElementChild!.remove();
}

/** Follows the log with watchEntries and lists each batch once its first entry comes out verified. */
async function followBatches(client: SequencerClient, fromHeight: number): Promise<void> {
  const watcher = client.watchEntries({ fromHeight });
  setText('batches-note', `following ${watcher.url} from height ${fromHeight}`);
  let current = -1;
  try {
    for await (const entry of watcher) {
      if (entry.height === current) continue;
      current = entry.height;
      const anchor = watcher.anchor!; // the header of the batch being handed out: verified before its entries
      latest = { header: anchor.header!, headerHash: anchor.headerHash };
      addBatchRow(latest, leaderOf(client, anchor.header!.view));
      setText('batches-note', `following ${watcher.url} (${watcher.following === 'push' ? 'server push' : 'polling'}) · every batch verified before it is listed`);
      renderStatus(client);
    }
  } catch (e) {
    setText('batches-note', 'the stream stopped: a node served something that does not verify');
    showNotVerified('a batch served by the node', e);
  }
}

function renderProof(p: EntryProofJson): Elem {
  const text = payloadText(p.entry.payload);
  return el('div', {},
    el('p', { class: 'ok', id: 'proof-status' }, `✓ proof verified: entry ${p.entry.seq} is leaf ${p.index} of batch ${p.header.height}, whose header the leader signed`),
    el('dl', {},
      el('dt', {}, 'sequence'), el('dd', {}, p.entry.seq),
      el('dt', {}, 'height'), el('dd', {}, p.header.height),
      el('dt', {}, 'entry hash'), el('dd', { class: 'mono' }, p.entry.entryHash),
      el('dt', {}, 'sender'), el('dd', { class: 'mono' }, p.entry.sender),
      el('dt', {}, 'payload'), el('dd', { class: 'mono' }, text === undefined ? p.entry.payload : `"${text}" (${p.entry.payload})`),
      el('dt', {}, 'header hash'), el('dd', { class: 'mono' }, p.headerHash),
      el('dt', {}, 'entries root'), el('dd', { class: 'mono' }, p.header.entriesRoot),
      el('dt', {}, `Merkle path (${p.proof.length})`), el('dd', { class: 'mono' }, ...p.proof.flatMap((h, i) => (i ? [el('br'), h] : [h]))),
    ),
  );
}

/** The payload as text when it is printable UTF-8, else undefined. */
function payloadText(hex: string): string | undefined {
  const bytes = Uint8Array.from((hex.slice(2).match(/../g) ?? []).map((b) => parseInt(b, 16)));
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return /^[\P{C}\n\t]*$/u.test(text) && text.length <= 200 ? text : undefined;
  } catch {
    return undefined;
  }
}

async function lookUp(client: SequencerClient, seq: number): Promise<void> {
  const out = byId('lookup-result');
  out.className = '';
  out.replaceChildren(`verifying entry ${seq}…`);
  try {
    out.replaceChildren(renderProof(await client.getProof(seq)));
  } catch (e) {
    if (e instanceof NotFoundError) return void out.replaceChildren(el('p', { class: 'warn' }, `entry ${seq} does not exist (yet)`));
    if (e instanceof VerificationError) {
      showNotVerified(`the inclusion proof of entry ${seq}`, e);
      return void out.replaceChildren(el('p', { class: 'bad', id: 'proof-status' }, `✗ NOT verified: ${e.message}`));
    }
    out.replaceChildren(el('p', { class: 'warn' }, `could not fetch entry ${seq}: ${(e as Error).message}`));
  }
}

/** The node's equivocation proofs, oldest first, each checked as the contract would. */
async function renderEquivocations(client: SequencerClient): Promise<void> {
  // Header proofs only (both signed headers shown); a validator's proofs (kinds 3-6) name votes: `sequencer proofs`.
  const listed = await client.context.node().call<(ExportedProofJson | { a: object })[]>('sequencer_getEquivocations');
  const proofs = listed.filter((p): p is ExportedProofJson => 'header' in p.a);
  const target = byId('equivocations');
  if (proofs.length === 0) return void target.replaceChildren('none');
  target.className = '';
  const rows = [...proofs].sort((x, y) => x.a.header.timestamp - y.a.header.timestamp).map((p) => {
    let verdict: string | null;
    try {
      verdict = checkProof(client.context.rules.separator, parseProof(p));
    } catch (e) {
      verdict = (e as Error).message;
    }
    if (verdict) showNotVerified('an equivocation proof the node holds', new VerificationError(verdict));
    return el('tr', {},
      el('td', {}, new Date(p.a.header.timestamp).toISOString().replace('T', ' ').slice(0, 19)),
      el('td', {}, p.kind),
      el('td', { class: 'mono' }, p.signer),
      el('td', {}, `height ${p.a.header.height} / ${p.b.header.height}, view ${p.a.header.view}`),
      el('td', { class: verdict ? 'bad' : 'ok' }, verdict ? `✗ ${verdict}` : '✓ both signatures verified: slashable'),
    );
  });
  target.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, 'time (first header)'), el('th', {}, 'kind'), el('th', {}, 'signer'), el('th', {}, 'headers'), el('th', {}, 'proof'))),
    el('tbody', {}, ...rows)));
}

async function pollInfo(client: SequencerClient): Promise<void> {
  try {
    info = await client.info();
    if (info.equivocations !== equivocationsShown) {
      await renderEquivocations(client);
      equivocationsShown = info.equivocations;
    }
    // The final height the node states is shown only with its certificate, checked by the SDK (getCertificate).
    if (info.finalizedHeight >= 0 && info.finalizedHeight !== final?.height) {
      const fc = await client.getCertificate(info.finalizedHeight);
      final = { height: fc.height, timestamp: fc.header.timestamp, signers: fc.certificate.signatures.length };
    }
  } catch (e) {
    if (e instanceof VerificationError) showNotVerified('the node\'s sequencer_info', e);
    else setText('head-age', `node unreachable: ${(e as Error).message}`);
  }
  renderStatus(client);
}

async function main(): Promise<void> {
  let config;
  try {
    config = await resolveConfig(location);
  } catch (e) {
    setText('trust', `cannot reach the node: ${(e as Error).message}`);
    return;
  }
  setText('trust', `${config.url} · log ${shortHex(config.logId)} · chain ${config.chainId} · ${config.pinned ? 'log and validators pinned by the URL' : 'log and validators as the node states them (pin with ?logId=&chainId=&validators=)'}`);
  const client = createSequencerClient({ url: config.url, logId: config.logId, chainId: config.chainId, validators: config.validators });
  byId('lookup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void lookUp(client, Number(byId('lookup-seq').value));
  });
  await pollInfo(client);
  setInterval(() => void pollInfo(client), INFO_POLL_MS);
  void followBatches(client, Math.max(0, (info?.height ?? 0) - BACKFILL_BATCHES + 1));
}

void main();
