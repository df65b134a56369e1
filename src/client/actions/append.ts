/**
 * append: signs a submission of one or more transactions (with a private key, or a signer callback that signs
 * the EIP-712 digest, e.g. a wallet), sends it, and checks the receipt before returning it: the header is this
 * log's and signed by the leader, the entries are in its Merkle tree, they hash from these very payloads, and the
 * receipt names this submission (sender, nonce, digest). `wait: 'final'` throws NotSupportedError until finality
 * certificates exist; 'soft' (the default) returns on the leader's signed receipt.
 */
import { equalBytes, type Bytes } from '../../core/bytes.ts';
import { checkReceipt } from '../../core/receipt.ts';
import { addressFromPrivateKey, sign } from '../../core/signature.ts';
import { submissionDigest, type Submission } from '../../core/submission.ts';
import { parseReceipt, type ReceiptJson } from '../../wire/json.ts';
import { toBytes, type BytesLike, type ClientContext } from '../context.ts';
import { NotSupportedError, VerificationError } from '../errors.ts';
import { timeNonces } from '../submission-signer.ts';

/** Who signs: a private key, or an address with a callback that signs a 32-byte digest (65-byte r|s|v signature). */
export type Account =
  | { readonly privateKey: BytesLike }
  | { readonly address: BytesLike; readonly signDigest: (digest: Bytes) => Bytes | Promise<Bytes> };

export interface AppendArgs {
  readonly account: Account;
  readonly transactions: readonly Uint8Array[];
  /** Unique per sender, forever; microseconds since the epoch (then a counter) by default. */
  readonly nonce?: bigint;
  /** Unix seconds after which the submission must not be sequenced; none by default. */
  readonly expiry?: number;
  readonly wait?: 'soft' | 'final';
}

const nextNonce = timeNonces();

export async function append(ctx: ClientContext, args: AppendArgs): Promise<ReceiptJson> {
  if (args.wait === 'final') throw new NotSupportedError("wait: 'final' needs finality certificates, which the protocol does not have yet: use 'soft'");
  const account = args.account;
  const privateKey = 'privateKey' in account ? toBytes(account.privateKey, 'privateKey', 32) : undefined;
  const sender = privateKey ? addressFromPrivateKey(privateKey) : toBytes((account as { address: BytesLike }).address, 'address', 20);
  const unsigned: Submission = {
    sender, nonce: args.nonce ?? nextNonce(), expiry: args.expiry ?? 0, transactions: args.transactions, signature: new Uint8Array(65),
  };
  const digest = submissionDigest(ctx.rules.separator, unsigned);
  const signature = privateKey ? sign(digest, privateKey) : await (account as { signDigest: (d: Bytes) => Bytes | Promise<Bytes> }).signDigest(digest);
  const node = ctx.node();
  const answer = await node.append({ ...unsigned, signature });
  const fail = (reason: string, cause?: unknown): never => {
    throw new VerificationError(`the receipt from ${node.url} does not check: ${reason}`, { details: { url: node.url, receipt: answer }, cause });
  };
  let receipt;
  try {
    receipt = parseReceipt(answer);
  } catch (e) {
    return fail((e as Error).message, e);
  }
  if (!equalBytes(receipt.sender, sender) || receipt.nonce !== unsigned.nonce || !equalBytes(receipt.submissionDigest, digest)) fail('it names another submission');
  const reason = checkReceipt(ctx.rules, receipt, args.transactions);
  if (reason) fail(reason);
  return answer;
}
