/**
 * The user-facing surface of quorum finality (docs/protocol.md §JSON-RPC API: append's `wait`, getCertificate,
 * verifyReceipt's `finality`; §Finality certificate), end to end against a real node process (`sequencer start`) with
 * one validator, the primary, which finalises each batch by itself: what the node answers is checked independently
 * with the core (checkFinalityCertificate) and through the SDK. The -32013 path, which a lone primary never takes,
 * runs against the RPC methods over an in-process node whose finality is held back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createSequencerClient, NotFinalYetError, NotFoundError, InvalidParamsError, RpcClient } from '../src/client/index.ts';
import { fromHex, toHex } from '../src/core/bytes.ts';
import { domainSeparator } from '../src/core/eip712.ts';
import { ErrorCode } from '../src/core/errors.ts';
import { checkFinalityCertificate } from '../src/core/finality-certificate.ts';
import { keccak256 } from '../src/core/hash.ts';
import { Membership } from '../src/core/membership.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { SubmissionSigner } from '../src/client/submission-signer.ts';
import { encodeSlashCalldata } from '../src/chain/bond-contract.ts';
import { encodeVoteSlashCalldata } from '../src/chain/vote-slashing.ts';
import { createMethods } from '../src/rpc/methods.ts';
import { nodeApiOf } from './helpers/node-api.ts';
import { startRpcServer } from '../src/rpc/server.ts';
import { parseFinalityCertificate } from '../src/wire/finality-json.ts';
import { submissionToJson } from '../src/wire/json.ts';
import type { FinalReceiptJson, VerifyReceiptJson } from '../src/wire/rpc-types.ts';
import { freePorts, startNode } from './helpers/cli.ts';
import { clientSigner, log, startPrimary, tempDir } from './helpers/network.ts';

const PRIMARY_KEY = '0x' + '11'.repeat(32);
const CLIENT_KEY = '0x' + '22'.repeat(32);
const PRIMARY = addressFromPrivateKey(fromHex(PRIMARY_KEY));
const LOG_ID = keccak256(new TextEncoder().encode('finality-rpc-test'));
const CHAIN_ID = 1337;
const CTX = { logId: LOG_ID, separator: domainSeparator({ chainId: CHAIN_ID, logId: LOG_ID }), membership: Membership.single(PRIMARY) };
const text = (s: string) => new TextEncoder().encode(s);

/** A lone primary (`sequencer start`, n = 1) in its own process, stopped and its directory removed after the test. */
async function lonePrimary(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seq-finality-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'primary.key');
  await writeFile(key, PRIMARY_KEY + '\n', { mode: 0o600 });
  const [rpc, p2p] = await freePorts(2);
  const node = await startNode(t, [
    '--mode', 'primary', '--db', join(dir, 'db'), '--rpc-port', String(rpc), '--p2p-port', String(p2p), '--key-file', key,
    '--allow', toHex(addressFromPrivateKey(fromHex(CLIENT_KEY))), '--log-id', 'finality-rpc-test', '--chain-id', String(CHAIN_ID),
  ]);
  return node.started.rpc;
}

async function rejectsWith(p: Promise<unknown>, code: number, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: number }) => {
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('a lone primary: wait final, getCertificate, verifyReceipt finality, and refused params, over a real node process', async (t) => {
  const url = await lonePrimary(t);
  const rpc = new RpcClient(url);
  const signer = new SubmissionSigner(fromHex(CLIENT_KEY), CTX.separator);
  let nonce = 1n;
  const submission = (s: string) => submissionToJson(signer.sign({ nonce: nonce++, transactions: [text(s)] }));

  const info = await rpc.info();
  assert.deepEqual([info.validators, info.f, info.quorum, info.view, info.leader], [[toHex(PRIMARY)], 0, 1, 0, toHex(PRIMARY)]);

  // By position: [submission, {wait: "final"}]: the receipt with its certificate, which the core checks on its own.
  const final = await rpc.call<FinalReceiptJson>('sequencer_append', [submission('one'), { wait: 'final' }]);
  assert.equal(final.finality, 'final');
  assert.ok(final.certificate);
  const fc = checkFinalityCertificate(CTX, parseFinalityCertificate(final.certificate));
  assert.equal(fc.height, final.height);
  assert.equal(toHex(fc.headerHash), final.headerHash);
  assert.equal(fc.certificate.kind, 2);

  // By name, with a timeout; and the node's finalized height covers it.
  const named = await rpc.call<FinalReceiptJson>('sequencer_append', { submission: submission('two'), wait: 'final', finalTimeoutMs: 5000 });
  assert.equal(named.finality, 'final');
  checkFinalityCertificate(CTX, parseFinalityCertificate(named.certificate));
  const after = await rpc.info();
  assert.ok(after.finalizedHeight >= named.height, `finalizedHeight ${after.finalizedHeight}`);
  assert.equal(after.finalizedHeight, after.height, 'a lone primary finalises every batch');

  // Without wait: soft or final, and a certificate exactly when final.
  const plain = await rpc.call<FinalReceiptJson>('sequencer_append', [submission('three')]);
  assert.ok(plain.finality === 'soft' ? plain.certificate === null : plain.certificate !== null, JSON.stringify(plain.finality));

  // getCertificate: by position and by name, the same certificate; -32007 above the tip.
  const got = await rpc.getCertificate(final.height);
  assert.deepEqual(got, final.certificate);
  assert.deepEqual(await rpc.call('sequencer_getCertificate', { height: named.height }), named.certificate);
  await rejectsWith(rpc.getCertificate(after.height + 1000), ErrorCode.NotFound, /not final on this node/);

  // verifyReceipt: a final receipt is final; the same receipt without its certificate too (the node holds it final,
  // and attaches its certificate); a tampered certificate makes the receipt invalid.
  const v1 = await rpc.call<VerifyReceiptJson>('sequencer_verifyReceipt', [final]);
  assert.deepEqual([v1.status, v1.valid, v1.finality], ['consistent', true, 'final']);
  const { finality: _f, certificate: _c, ...soft } = final;
  const v2 = await rpc.call<VerifyReceiptJson>('sequencer_verifyReceipt', [soft]);
  assert.deepEqual([v2.status, v2.finality], ['consistent', 'final']);
  assert.deepEqual(v2.certificate, final.certificate);
  const forged = { ...final, certificate: { ...final.certificate!, certificate: { ...final.certificate!.certificate, signatures: [named.certificate!.certificate.signatures[0]] } } };
  const v3 = await rpc.call<VerifyReceiptJson>('sequencer_verifyReceipt', [forged]);
  assert.deepEqual([v3.status, v3.valid, v3.finality, v3.certificate], ['invalid', false, 'soft', null]);
  assert.match(v3.reason ?? '', /^finality certificate: commit certificate: /);
  const other = { ...final, certificate: named.certificate };
  assert.match((await rpc.call<VerifyReceiptJson>('sequencer_verifyReceipt', [other])).reason ?? '', /finality certificate of height/);

  // Refused params change nothing, and a good call is answered afterwards.
  const entries = (await rpc.info()).entries;
  const refused: unknown[] = [
    [submission('bad wait'), { wait: 'later' }],
    [submission('zero timeout'), { wait: 'final', finalTimeoutMs: 0 }],
    [submission('long timeout'), { wait: 'final', finalTimeoutMs: 60_001 }],
    [submission('string timeout'), { wait: 'final', finalTimeoutMs: '100' }],
    [submission('unknown option'), { wiat: 'final' }],
    [submission('three params'), { wait: 'final' }, {}],
    [submission('options not an object'), 'final'],
    { submission: submission('named, bad wait'), wait: true },
  ];
  for (const params of refused) await rejectsWith(rpc.call('sequencer_append', params), ErrorCode.InvalidParams);
  await rejectsWith(rpc.call('sequencer_getCertificate', [-1]), ErrorCode.InvalidParams);
  await rejectsWith(rpc.call('sequencer_verifyReceipt', [{ ...final, certificate: { ...final.certificate, extra: 1 } }]), ErrorCode.InvalidParams);
  assert.equal((await rpc.info()).entries, entries, 'nothing refused was sequenced');
  const good = await rpc.call<FinalReceiptJson>('sequencer_append', [submission('after the refusals'), { wait: 'final' }]);
  assert.equal(good.finality, 'final');

  // The SDK: append waits for finality and checks the certificate itself; getCertificate and verifyReceipt say final.
  const client = createSequencerClient({ url, logId: LOG_ID, chainId: CHAIN_ID, validators: [PRIMARY] });
  const account = { privateKey: CLIENT_KEY };
  const r = await client.append({ account, transactions: [text('sdk')], wait: 'final', finalTimeoutMs: 5000 });
  assert.equal(r.finality, 'final');
  assert.equal((await client.getCertificate(r.height)).headerHash, r.headerHash);
  assert.equal((await client.verifyReceipt(r)).finality, 'final');
  const { finality: _sf, certificate: _sc, ...sdkSoft } = r;
  assert.deepEqual((await client.verifyReceipt(sdkSoft)).certificate, r.certificate);
  await assert.rejects(client.getCertificate(r.height + 1000), NotFoundError);
  await assert.rejects(client.append({ account, transactions: [text('x')], wait: 'final', finalTimeoutMs: 0 }), InvalidParamsError);
  // A client given another validator set refuses the node's certificate (and its info).
  const stranger = createSequencerClient({ url, logId: LOG_ID, chainId: CHAIN_ID, validators: [PRIMARY, fromHex('0x' + '44'.repeat(20))] });
  await assert.rejects(stranger.getCertificate(r.height), { name: 'VerificationError', message: /certificate for 1 validators, the set has 2/ });
  await assert.rejects(stranger.info(), { name: 'VerificationError', message: /validator set/ });
});

test('wait final past finalTimeoutMs: -32013 not final yet, with the soft receipt; resending the same call resumes', async (t) => {
  const dir = await tempDir();
  const node = await startPrimary(dir.path);
  t.after(async () => { await node.stop(); await dir.remove(); });
  let holdBack = true;
  const waits: number[] = [];
  // The real node, its finality held back while `holdBack` (as when the validators' votes have not arrived yet).
  const held = nodeApiOf(node, {
    finalityCertificate: async (h) => (holdBack ? undefined : node.finalityCertificate(h)),
    waitFinal: async (h, timeoutMs) => {
      waits.push(timeoutMs);
      if (!holdBack) return node.waitFinal(h, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, timeoutMs));
      return undefined;
    },
    info: () => ({ ...node.info(), ...(holdBack && { finalizedHeight: -1, finalizedHeaderHash: null }) }),
  });

  const server = await startRpcServer({ methods: createMethods(held, { slashCalldata: encodeSlashCalldata, voteSlashCalldata: encodeVoteSlashCalldata }), host: '127.0.0.1', port: 0, log });
  t.after(() => server.close());
  const rpc = new RpcClient(server.url);
  const s = clientSigner().sign({ nonce: 1n, transactions: [text('slow to settle')] });

  const started = performance.now();
  const e = await rpc.append(s, { wait: 'final', finalTimeoutMs: 200 }).then(() => assert.fail('expected -32013'), (err: unknown) => err);
  assert.ok(e instanceof NotFinalYetError, String(e));
  assert.equal(e.code, ErrorCode.NotFinalYet);
  assert.match(e.message, /not final yet/);
  assert.ok(performance.now() - started >= 190, 'it waited finalTimeoutMs');
  const soft = (e.data as { receipt: FinalReceiptJson }).receipt;
  assert.equal(soft.firstSeq, 0);
  assert.deepEqual(waits, [200]);

  // The default timeout is 10 s; the same call, once finality flows, answers final with the same placement.
  holdBack = false;
  const again = await rpc.append(s, { wait: 'final' });
  assert.deepEqual(waits, [200, 10_000]);
  assert.equal(again.finality, 'final');
  assert.equal(again.headerHash, soft.headerHash);
  checkFinalityCertificate(node.rules, parseFinalityCertificate(again.certificate));
});

test('wait final, and the height becomes final under a header of another view that does not hold the submission: it is sent again and the new placement waited for', async (t) => {
  const dir = await tempDir();
  const node = await startPrimary(dir.path);
  t.after(async () => { await node.stop(); await dir.remove(); });
  let appends = 0;
  let replacedOnce = false;
  // The real node, but its first answer is as after a view change: the height final under another view's header,
  // whose batch does not hold the submission (verifyReceipt: replaced).
  const viewChanged = nodeApiOf(node, {
    append: (s) => { appends++; return node.append(s); },
    waitFinal: async (h, timeoutMs) => {
      const fc = await node.waitFinal(h, timeoutMs);
      if (replacedOnce || !fc) return fc;
      return { ...fc, header: { ...fc.header, view: 1 }, headerHash: new Uint8Array(32).fill(7) };
    },
    verifyReceipt: async (r) => {
      if (replacedOnce) return node.verifyReceipt(r);
      replacedOnce = true;
      return { valid: false, reason: 'abandoned in a view change', status: 'replaced', proof: null };
    },
  });

  const server = await startRpcServer({ methods: createMethods(viewChanged, { slashCalldata: encodeSlashCalldata, voteSlashCalldata: encodeVoteSlashCalldata }), host: '127.0.0.1', port: 0, log });
  t.after(() => server.close());
  const s = clientSigner().sign({ nonce: 1n, transactions: [text('placed twice')] });
  const final = await new RpcClient(server.url).append(s, { wait: 'final', finalTimeoutMs: 5_000 });
  assert.equal(final.finality, 'final');
  assert.equal(appends, 2, 'the same signed submission was sent again once its first placement was replaced');
  checkFinalityCertificate(node.rules, parseFinalityCertificate(final.certificate));
});
