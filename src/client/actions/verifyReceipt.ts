/**
 * verifyReceipt: checks a receipt on its own (checkReceipt: this log, the leader's signature, the Merkle proof),
 * then asks the node how it stands against the log it holds (sequencer_verifyReceipt: consistent, pending,
 * mismatch, conflict with the equivocation proof). A receipt that does not check alone is `invalid` without asking.
 */
import { checkReceipt } from '../../core/receipt.ts';
import { parseReceipt, type ReceiptJson } from '../../wire/json.ts';
import type { VerifyReceiptJson } from '../../wire/rpc-types.ts';
import type { ClientContext } from '../context.ts';

export async function verifyReceipt(ctx: ClientContext, receipt: ReceiptJson): Promise<VerifyReceiptJson> {
  let reason: string | null;
  try {
    reason = checkReceipt(ctx.rules, parseReceipt(receipt));
  } catch (e) {
    reason = (e as Error).message;
  }
  if (reason) return { valid: false, reason, status: 'invalid', proof: null };
  return ctx.node().verifyReceipt(receipt);
}
