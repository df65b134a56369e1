/**
 * The equivocation test tool: it holds the primary's key and signs two different, individually valid batches
 * for the same height on top of the primary's real tip, as a misbehaving primary would.
 */
import { randomBytes } from 'node:crypto';
import { decodeBatch, encodeBatch, sealBatch, type Tip } from '../../src/core/batch.ts';
import { Membership } from '../../src/core/membership.ts';
import type { LogRules } from '../../src/core/rules.ts';
import { EntryChain } from '../../src/core/entry.ts';
import { headerHash } from '../../src/core/header.ts';
import { MerkleTree } from '../../src/core/merkle.ts';
import { buildReceipt } from '../../src/core/receipt.ts';
import { receiptToJson, type ReceiptJson } from '../../src/wire/json.ts';
import { fromHex, type Bytes } from '../../src/core/bytes.ts';
import { submissionDigest } from '../../src/core/submission.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import type { RpcClient } from '../../src/client/rpc-client.ts';
import { LOG_ID, PRIMARY_KEY, SEPARATOR, clientSigner } from './network.ts';

export const PRIMARY_RULES: LogRules = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.single(addressFromPrivateKey(PRIMARY_KEY)), isAllowed: () => true };

export async function tipOf(node: RpcClient): Promise<Tip> {
  const info = await node.info();
  const timestamp = info.height >= 0 ? (await node.getBatch(info.height)).header.timestamp : 0;
  return { height: info.height, headerHash: fromHex(info.headerHash), nextSeq: info.entries, headHash: fromHex(info.headHash), timestamp };
}

/**
 * A valid batch on top of `tip` holding one fresh submission with `payload`, signed with the primary's key (or
 * `key`, as the leader of `view`).
 */
export function batchOnTip(
  tip: Tip, payload: string, timestamp = Date.now(), nonce = BigInt('0x' + randomBytes(7).toString('hex')), key: Bytes = PRIMARY_KEY, view = 0,
): Bytes {
  const signer = clientSigner();
  const s = signer.sign({ nonce, transactions: [new TextEncoder().encode(payload)] });
  return encodeBatch(sealBatch(PRIMARY_RULES, tip, [{ submission: s, digest: submissionDigest(SEPARATOR, s) }], timestamp, key, view).batch);
}

/** Two conflicting batches for the height after `tip`. */
export function conflictingBatches(tip: Tip): [Bytes, Bytes] {
  return [batchOnTip(tip, 'fork A'), batchOnTip(tip, 'fork B')];
}

/** The receipt JSON the primary would have given for the (single) submission of a batch built by `batchOnTip`. */
export function receiptOf(bytes: Uint8Array, prevEntryHash: Uint8Array): ReceiptJson {
  const batch = decodeBatch(bytes);
  const s = batch.submissions[0];
  const digest = submissionDigest(SEPARATOR, s);
  const chain = new EntryChain(prevEntryHash, batch.header.firstSeq);
  const leaves = new Uint8Array(batch.header.count * 32);
  s.transactions.forEach((tx, i) => leaves.set(chain.append(s.sender, digest, tx), i * 32));
  const tree = new MerkleTree(leaves);
  const receipt = buildReceipt(batch, tree, (i) => tree.leaf(i), prevEntryHash, {
    digest, sender: s.sender, nonce: s.nonce, firstSeq: batch.header.firstSeq, count: s.transactions.length,
  });
  return receiptToJson(receipt, headerHash(SEPARATOR, batch.header));
}
