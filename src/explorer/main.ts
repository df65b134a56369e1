/**
 * The explorer page's script (docs/explorer.md), bundled for browsers by the node that serves it (src/rpc/explorer.ts).
 * It shows the log live and verifies what it shows with the SDK, in the browser: batches come from watchEntries
 * (each header's signature, its link to the one before, every submission signature, the entry chain and the Merkle
 * root are checked before a batch is listed), a looked-up entry from getProof (its inclusion proof checked against
 * the signed header), equivocation proofs with the core's checkProof. What the node merely states (its head
 * height, its health) is labelled as such. Whatever fails to verify raises the red banner.
 */
import { createSequencerClient, EntriesReplacedError, NotFoundError, VerificationError, type EntryProofJson, type HeaderJson, type InfoJson, type SequencerClient } from '../client/index.ts';
import type { ExportedProofJson, ExportedVoteProofJson } from '../wire/rpc-types.ts';
import { equalBytes, toHex } from '../core/bytes.ts';
import { checkProof } from '../core/equivocation.ts';
import { checkVoteProof } from '../core/vote-proofs.ts';
import { parseProof } from '../wire/json.ts';
import { isVoteProofJson, parseVoteProof } from '../wire/vote-proof-json.ts';
import { resolveConfig } from './config.ts';
import { byId, el, type Elem, formatDuration, setText, shortHex, showNotVerified } from './dom.ts';

/** Batches listed at once (older rows are dropped), and how many before the head the page starts from. */
const MAX_BATCH_ROWS = 50;
const BACKFILL_BATCHES = 20;
const INFO_POLL_MS = 1_000;
/** A validator none of whose votes the node counted for this long is shown as silent. */
const SILENT_AFTER_MS = 10_000;
/** View changes remembered for the timeline. */
const MAX_VIEW_CHANGES = 50;

interface VerifiedBatch {
  readonly header: HeaderJson;
  readonly headerHash: string;
}

declare const location: { readonly search: string; readonly origin: string };

const startedAt = Date.now();
let latest: VerifiedBatch | undefined;
let info: InfoJson | undefined;
/** The node's final height, shown once its finality certificate checked: the header's time, the signers counted. */
let final: { height: number; timestamp: number; signers: number; headerHash: string } | undefined;
let equivocationsShown = -1;
/** The timeline: equivocation proofs (checked) and view changes (seen in verified headers, or as the node states them). */
let proofRows: { at: number; row: Elem }[] = [];
const viewChanges: { at: number; row: Elem }[] = [];
let lastVerifiedView: number | undefined;
let lastStatedView: number | undefined;
/** When the node says each final-height rise happened (its clock): a batch's time to final (see batchFinality). */
const finalRises = new Map<number, number>();

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
  // A view with no batch verified yet (a view change in progress, or a silent leader): the node's word, labelled.
  if (info && (!latest || info.view > latest.header.view)) {
    setText('view', String(info.view));
    setText('leader', `leader ${leaderOf(client, info.view)} · as the node states it${latest ? ` (last verified header: view ${latest.header.view})` : ''}`);
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
    const lastSigned = isLeader && latest ? `height ${latest.header.height}, ${formatDuration(now - latest.header.timestamp)} ago (verified)` : '–';
    const vote = info?.validatorVotes?.[i] ?? null;
    return el('tr', { 'data-validator': String(i) },
      el('td', {}, i),
      el('td', { class: 'mono' }, address),
      el('td', {}, isLeader ? `leader of view ${latest!.header.view}` : 'validator'),
      el('td', {}, lastSigned),
      el('td', { class: 'last-vote', title: 'as the node counted it (it verified the vote); the time is the node\'s clock' },
        vote ? `${vote.kind} · height ${vote.height} · view ${vote.view} · ${formatDuration(now - vote.at)} ago` : el('span', { class: 'sub' }, 'none counted')),
      el('td', {}, health(address, vote?.at, now)),
    );
  });
  byId('validators').replaceChildren(...rows);
}

/**
 * A validator's health as the node the page asks sees it: that node halted (it stopped following the log), in a
 * storage fault or not ready speaks for none of them; otherwise, whether it counted a vote of the validator lately
 * (one that stops voting while batches are sealed is silent).
 */
function health(address: string, lastVoteAt: number | undefined, now: number): Elem {
  if (!info) return el('span', { class: 'pill' }, 'unknown');
  if (info.halted) return el('span', { class: 'pill bad' }, `halted: ${info.halted}`);
  if (info.storageFault) return el('span', { class: 'pill bad' }, `storage fault: ${info.storageFault}`);
  if (info.notReady) return el('span', { class: 'pill warn' }, `not ready: ${info.notReady}`);
  const self = info.address?.toLowerCase() === address;
  const voting = lastVoteAt !== undefined && now - lastVoteAt < SILENT_AFTER_MS;
  const idle = latest === undefined || now - latest.header.timestamp >= SILENT_AFTER_MS;
  if (!voting && !idle) return el('span', { class: 'pill warn' }, lastVoteAt === undefined ? 'silent · no vote counted' : `silent · no vote for ${formatDuration(now - lastVoteAt)}`);
  const what = voting ? 'ok · voting' : 'ok · nothing to vote on';
  return el('span', { class: 'pill ok' }, self ? `${what} · the node this page asks` : what);
}

function addBatchRow(batch: VerifiedBatch, signer: string): void {
  const { header, headerHash } = batch;
  // Only batches sealed after the page opened have a meaningful delay; older ones were backfilled.
  const live = header.timestamp >= startedAt - 1_000;
  const row = el('tr', { class: 'fresh', 'data-height': String(header.height) },
    el('td', {}, header.height),
    el('td', {}, header.view),
    el('td', { class: 'mono', title: headerHash }, shortHex(headerHash, 6)),
    el('td', {}, header.count),
    el('td', { class: 'mono', title: signer }, shortHex(signer)),
    el('td', {}, live ? formatDuration(Date.now() - header.timestamp) : el('span', { class: 'sub' }, 'backfill')),
    el('td', { class: 'time-to-final' }, el('span', { class: 'sub' }, 'soft')),
    el('td', { class: 'ok', title: 'verified: header signature, link, submissions, entry chain and Merkle root' }, '✓'),
  );
  const body = byId('batches');
  body.prepend(row);
  while (body.children.length > MAX_BATCH_ROWS) body.lastElementChild!.remove();
  rowFinality.set(header.height, { row, timestamp: header.timestamp });
  verifiedHashes.set(header.height, headerHash.toLowerCase());
  for (const h of rowFinality.keys()) if (h <= header.height - MAX_BATCH_ROWS) rowFinality.delete(h);
  for (const h of verifiedHashes.keys()) if (h <= header.height - 4 * MAX_BATCH_ROWS) verifiedHashes.delete(h);
  renderBatchFinality();
}

/** Listed batches not yet shown final: their time-to-final cell. */
const rowFinality = new Map<number, { row: Elem; timestamp: number }>();
/** The header hashes this page verified, by height (the recent ones): a certificate must name the one at its height. */
const verifiedHashes = new Map<number, string>();
/** The final height whose certificate was found to name the header the page verified there (-1: none yet). */
let finalMatched = -1;
let mismatchShown = -1;

/**
 * Marks the listed batches the verified final height covers: final once the page checked a finality certificate at
 * or above their height (it certifies the chain of headers below it). The time to final is the node's moment of
 * marking the height final (its clock, `finalizedAt`) minus the header's timestamp (the leader's clock): two
 * clocks the protocol keeps close (a header from the future is refused), neither the browser's.
 */
function renderBatchFinality(): void {
  if (!final) return;
  // The certificate names the header at its own height: the page's verified chain must hold that very header there
  // (then every batch below it, linked to it, is final too); until the page verified that height, nothing is marked.
  if (final.height !== finalMatched) {
    const verified = verifiedHashes.get(final.height);
    if (verified === undefined) return;
    if (verified !== final.headerHash.toLowerCase()) {
      if (mismatchShown === final.height) return;
      mismatchShown = final.height;
      showNotVerified(`the finality of batch ${final.height}`, new VerificationError(`its certificate names header ${final.headerHash}, the page verified ${verified} there`));
      return;
    }
    finalMatched = final.height;
  }
  for (const [height, r] of rowFinality) {
    if (height > finalMatched) continue;
    const rise = [...finalRises].filter(([h]) => h >= height).sort(([a], [b]) => a - b)[0];
    r.row.querySelector('.time-to-final')?.replaceChildren(el('span', { class: 'ok', title: 'certificate checked; time as the node marked it final minus the header\'s timestamp' },
      rise ? `✓ ${formatDuration(rise[1] - r.timestamp)}` : '✓ final'));
    rowFinality.delete(height);
  }
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
      if (lastVerifiedView !== undefined && latest.header.view > lastVerifiedView) {
        addViewChange(latest.header.timestamp, `${lastVerifiedView} → ${latest.header.view}`, leaderOf(client, latest.header.view), `new leader's first batch: height ${latest.header.height}`,
          el('span', { class: 'ok' }, '✓ header signed by the new view\'s leader, linked to the one before'));
      }
      lastVerifiedView = latest.header.view;
      addBatchRow(latest, leaderOf(client, anchor.header!.view));
      setText('batches-note', `following ${watcher.url} (${watcher.following === 'push' ? 'server push' : 'polling'}) · every batch verified before it is listed`);
      renderStatus(client);
    }
  } catch (e) {
    if (e instanceof EntriesReplacedError) {
      replaceSoftRows(client, e);
      void followBatches(client, finalMatched + 1);
      return;
    }
    setText('batches-note', 'the stream stopped: a node served something that does not verify');
    showNotVerified('a batch served by the node', e);
  }
}

/**
 * A later view replaced soft batches the page listed (a view change abandons what no quorum locked): their rows go,
 * the timeline says so, and the page follows again from above the last height whose certificate it checked.
 */
function replaceSoftRows(client: SequencerClient, e: EntriesReplacedError): void {
  // Every row above the final height is still waiting for its certificate, so rowFinality holds it.
  for (const [h, r] of [...rowFinality]) {
    if (h <= finalMatched) continue;
    r.row.remove();
    rowFinality.delete(h);
  }
  for (const h of [...verifiedHashes.keys()]) if (h > finalMatched) verifiedHashes.delete(h);
  const view = e.served.header.view;
  addViewChange(Date.now(), `${e.held.header.view} → ${view}`, leaderOf(client, view), `soft batches above height ${finalMatched} replaced by view ${view}'s`,
    el('span', { class: 'sub' }, 'headers of two views: not an equivocation'));
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

/** A view change for the timeline: `at` is the new view's first header's timestamp, or when the page saw the node's view move. */
function addViewChange(at: number, what: string, leader: string, detail: string, how: Elem): void {
  viewChanges.push({ at, row: el('tr', { class: 'view-change' },
    el('td', {}, isoTime(at)), el('td', {}, `view change ${what}`), el('td', { class: 'mono', title: leader }, shortHex(leader)), el('td', {}, detail), el('td', {}, how)) });
  if (viewChanges.length > MAX_VIEW_CHANGES) viewChanges.shift();
  renderTimeline();
}

/** The node's current view as it states it (sequencer_info): a change the page has not seen in a header yet (a view without a batch). */
function noteStatedView(view: number, leader: string): void {
  if (lastStatedView !== undefined && view > lastStatedView && (lastVerifiedView === undefined || view > lastVerifiedView)) {
    addViewChange(Date.now(), `${lastStatedView} → ${view}`, leader, 'no batch of this view verified yet', el('span', { class: 'sub' }, 'as the node states it'));
  }
  lastStatedView = view;
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

function renderTimeline(): void {
  const rows = [...proofRows, ...viewChanges].sort((x, y) => y.at - x.at).map((r) => r.row);
  const target = byId('timeline');
  if (rows.length === 0) return void target.replaceChildren('none');
  target.className = '';
  target.replaceChildren(el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, 'time'), el('th', {}, 'event'), el('th', {}, 'signer / new leader'), el('th', {}, 'details'), el('th', {}, 'checked'))),
    el('tbody', {}, ...rows)));
}

/** The verdict on a proof, or null: each checked as the contract would (both signatures, the conflict, this log and set). */
function judge(client: SequencerClient, p: ExportedProofJson | ExportedVoteProofJson): string | null {
  try {
    if (!isVoteProofJson(p)) return checkProof(client.context.rules.separator, parseProof(p));
    const { calldata: _calldata, ...proof } = p as ExportedVoteProofJson;
    const parsed = parseVoteProof(proof);
    const { rules, chainId } = client.context;
    if (parsed.chainId !== chainId || !equalBytes(parsed.logId, rules.logId)) return 'it is of another log';
    if (!equalBytes(parsed.membershipHash, rules.membership.hash)) return 'it is of another validator set';
    return checkVoteProof(rules, parsed.proof);
  } catch (e) {
    return (e as Error).message;
  }
}

/** The node's equivocation proofs: the leader's (two headers) and the validators' (two votes or timeouts), each checked. */
async function loadProofs(client: SequencerClient): Promise<void> {
  const listed = await client.context.node().call<(ExportedProofJson | ExportedVoteProofJson)[]>('sequencer_getEquivocations');
  proofRows = listed.map((p) => {
    const verdict = judge(client, p);
    if (verdict) showNotVerified('an equivocation proof the node holds', new VerificationError(verdict));
    const header = 'header' in p.a ? p as ExportedProofJson : undefined;
    const statement = header ? undefined : (p as ExportedVoteProofJson).a as { vote?: { view: number; height: number; kind: number }; timeout?: { view: number } };
    const what = header
      ? `height ${header.a.header.height} / ${header.b.header.height}, view ${header.a.header.view}`
      : statement?.vote ? `${statement.vote.kind === 1 ? 'lock' : 'commit'} vote, height ${statement.vote.height}, view ${statement.vote.view}` : `timeout, view ${statement?.timeout?.view}`;
    // A header proof carries its time; a vote does not: it is placed when the page learnt of it.
    const at = header ? header.a.header.timestamp : Date.now();
    return { at, row: el('tr', { class: 'equivocation' },
      el('td', {}, isoTime(at)),
      el('td', {}, `equivocation: ${p.kind}`),
      el('td', { class: 'mono', title: p.signer }, shortHex(p.signer.toLowerCase())),
      el('td', {}, what),
      el('td', { class: verdict ? 'bad' : 'ok' }, verdict ? `✗ ${verdict}` : '✓ both signatures verified: slashable')) };
  });
  renderTimeline();
}

async function pollInfo(client: SequencerClient): Promise<void> {
  try {
    info = await client.info();
    if (info.equivocations !== equivocationsShown) {
      await loadProofs(client);
      equivocationsShown = info.equivocations;
    }
    // The final height the node states is shown only with its certificate, checked by the SDK (getCertificate).
    if (info.finalizedHeight >= 0 && info.finalizedHeight !== final?.height) {
      const fc = await client.getCertificate(info.finalizedHeight);
      final = { height: fc.height, timestamp: fc.header.timestamp, signers: fc.certificate.signatures.length, headerHash: fc.headerHash };
    }
    for (const rise of info.finalizedAt ?? []) finalRises.set(rise.height, rise.at);
    for (const h of finalRises.keys()) if (finalRises.size > 2 * MAX_BATCH_ROWS) finalRises.delete(h);
    renderBatchFinality();
    noteStatedView(info.view, info.leader);
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
