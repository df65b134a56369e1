/**
 * sequencer_verifyReceipt across views (docs/protocol.md §View change, §JSON-RPC API): a receipt whose header is of
 * another view than the header the node holds at its height is judged by what the log holds there, not taken for an
 * equivocation (headers of two views never conflict) nor failed as an internal error: the same transactions at the
 * same positions (a re-proposal, or the abandoned submissions sequenced again) are `consistent`; anything else is
 * `replaced`, with the advice to send the same signed submission again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '../src/core/bytes.ts';
import { signHeader } from '../src/core/header.ts';
import type { Tip } from '../src/core/batch.ts';
import { batchOnTip, receiptOf } from './helpers/equivocator.ts';
import { SEPARATOR, client, clientSigner, waitFor } from './helpers/network.ts';
import { headerHash } from '../src/core/header.ts';
import { receiptToJson } from '../src/wire/json.ts';
import { KEYS, startNet } from './helpers/validators.ts';

test('a receipt of another view than the held header: consistent when the log holds its transactions there, else replaced', async (t) => {
  const net = await startNet(t);
  const node = net.nodes[1]!;
  const signer = clientSigner();
  const receipts = [];
  for (let i = 0; i < 3; i++) receipts.push(await node.append(signer.sign({ nonce: BigInt(i + 1), transactions: [new TextEncoder().encode(`tx ${i}`)] })));
  await waitFor(() => net.observer.info().finalizedHeight >= 2, 10_000, 'final');
  const rpc = client(net.observer);

  // The same batch re-signed as view 1's leader would re-propose it: the transactions are where the receipt says.
  const real = receipts[2];
  const reproposed = signHeader(SEPARATOR, { ...real.header, view: 1 }, KEYS[1]);
  const moved = receiptToJson({ ...real, header: reproposed.header, signature: reproposed.signature }, headerHash(SEPARATOR, reproposed.header));
  const consistent = await rpc.verifyReceipt(moved);
  assert.deepEqual([consistent.valid, consistent.status, consistent.proof], [true, 'consistent', null]);
  // Final: the certificate is the held header's, whose batch holds the receipt's transactions at its positions.
  assert.equal(consistent.finality, 'final');
  assert.equal(consistent.certificate!.headerHash, toHex(headerHash(SEPARATOR, real.header)));

  // Another batch for height 2, of view 1, signed by its leader: a placement the log does not hold.
  const one = (await node.batch(1))!;
  const tip: Tip = { height: 1, headerHash: one.headerHash, nextSeq: one.batch.header.firstSeq + one.batch.header.count, headHash: one.batch.header.headHash, timestamp: one.batch.header.timestamp };
  const other = receiptOf(batchOnTip(tip, 'a placement of an abandoned view', Date.now(), 99n, KEYS[1], 1), tip.headHash);
  const verdict = await rpc.verifyReceipt(other);
  assert.equal(verdict.status, 'replaced');
  assert.equal(verdict.valid, false);
  assert.match(verdict.reason!, /holds a header of view 0: this receipt's batch \(view 1\) was abandoned in a view change .*send the same signed submission again/);
  assert.equal(verdict.proof, null, 'headers of two views are no equivocation');
  assert.equal(net.observer.info().equivocations, 0);
});
