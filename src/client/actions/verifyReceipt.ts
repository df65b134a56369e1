/**
 * verifyReceipt: checks a receipt on its own (checkReceipt: this log, the leader's signature, the Merkle proof, and
 * its finality certificate when it carries one), then asks the node how it stands against the log it holds
 * (sequencer_verifyReceipt: consistent, pending, mismatch, conflict with the equivocation proof). A receipt that does
 * not check alone is `invalid` without asking. `finality` is `final` only on a certificate this client checked: the
 * receipt's own, or the one the node attaches for a height it holds final.
 */
import { checkReceiptFinality, finalityReason } from '../../core/receipt.ts';
import { parseFinalityCertificate, parseFinalReceipt, type FinalReceiptJson } from '../../wire/finality-json.ts';
import type { ReceiptJson, VerifyReceiptJson } from '../../wire/rpc-types.ts';
import type { ClientContext } from '../context.ts';
import { VerificationError } from '../errors.ts';

export async function verifyReceipt(ctx: ClientContext, receipt: ReceiptJson | FinalReceiptJson): Promise<VerifyReceiptJson> {
  let parsed;
  let local;
  try {
    parsed = parseFinalReceipt(receipt);
    local = checkReceiptFinality(ctx.rules, { ...parsed.receipt, certificate: parsed.certificate });
  } catch (e) {
    local = { reason: (e as Error).message, finality: 'soft' as const };
  }
  if (local.reason || !parsed) return { valid: false, reason: local.reason, status: 'invalid', proof: null, finality: 'soft', certificate: null };
  const node = ctx.node();
  const verdict = await node.verifyReceipt(receipt);
  if (!verdict.valid) return { ...verdict, finality: 'soft', certificate: null };
  if (local.finality === 'final') return { ...verdict, finality: 'final', certificate: (receipt as FinalReceiptJson).certificate };
  if (verdict.finality !== 'final' || !verdict.certificate) return { ...verdict, finality: 'soft', certificate: null };
  let problem: string | null;
  try {
    problem = finalityReason(ctx.rules, parsed.receipt, parseFinalityCertificate(verdict.certificate));
  } catch (e) {
    problem = (e as Error).message;
  }
  if (problem) throw new VerificationError(`${node.url} says the receipt is final, its certificate does not check: ${problem}`, { details: { url: node.url } });
  return verdict;
}
