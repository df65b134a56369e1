/**
 * append: signs a submission of one or more transactions (with a private key, or a signer callback that signs
 * the EIP-712 digest, e.g. a wallet), sends it, and checks the receipt before returning it: the header is this
 * log's and signed by the leader, the entries are in its Merkle tree, they hash from these very payloads, and the
 * receipt names this submission (sender, nonce, digest). 'soft' (the default) returns on the leader's signed
 * receipt; `wait: 'final'` returns once the receipt's height is final, with the finality certificate, which is
 * checked here against the client's validator set (a quorum of their commit votes on a header the receipt's links to).
 */
import { equalBytes, type Bytes } from '../../core/bytes.ts';
import { checkReceiptFinality } from '../../core/receipt.ts';
import { addressFromPrivateKey, sign } from '../../core/signature.ts';
import { submissionDigest, type Submission } from '../../core/submission.ts';
import { DEFAULT_FINAL_TIMEOUT_MS, parseFinalReceipt, type FinalReceiptJson } from '../../wire/finality-json.ts';
import type { Finality } from '../../wire/rpc-types.ts';
import { toBytes, type BytesLike, type ClientContext } from '../context.ts';
import { VerificationError } from '../errors.ts';
import { RpcClient } from '../rpc-client.ts';
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
  /** 'soft' (default): the leader's signed receipt; 'final': once a quorum of validators made its height final. */
  readonly wait?: Finality;
  /** With `wait: 'final'`: how long the node waits (1 … 60000 ms; 10000 by default) before NotFinalYetError. */
  readonly finalTimeoutMs?: number;
}

const nextNonce = timeNonces();

/**
 * A client of the same node whose request timeout leaves the node its whole `finalTimeoutMs` to wait, plus the
 * client's usual timeout for the rest (the append itself, the answer): else a wait of 10 s would be cut by the
 * default 10 s request timeout before the node could answer -32013 with the receipt.
 */
function waitingClient(ctx: ClientContext, finalTimeoutMs: number): RpcClient {
  const node = ctx.node();
  return new RpcClient(node.url, { timeoutMs: ctx.timeoutMs + finalTimeoutMs, fetch: ctx.fetch, maxResponseBytes: node.maxResponseBytes });
}

export async function append(ctx: ClientContext, args: AppendArgs): Promise<FinalReceiptJson> {
  const account = args.account;
  const privateKey = 'privateKey' in account ? toBytes(account.privateKey, 'privateKey', 32) : undefined;
  const sender = privateKey ? addressFromPrivateKey(privateKey) : toBytes((account as { address: BytesLike }).address, 'address', 20);
  const unsigned: Submission = {
    sender, nonce: args.nonce ?? nextNonce(), expiry: args.expiry ?? 0, transactions: args.transactions, signature: new Uint8Array(65),
  };
  const digest = submissionDigest(ctx.rules.separator, unsigned);
  const signature = privateKey ? sign(digest, privateKey) : await (account as { signDigest: (d: Bytes) => Bytes | Promise<Bytes> }).signDigest(digest);
  const options = args.wait === 'final' || args.finalTimeoutMs !== undefined ? { wait: args.wait ?? 'soft', ...(args.finalTimeoutMs !== undefined && { finalTimeoutMs: args.finalTimeoutMs }) } : undefined;
  const node = options?.wait === 'final' ? waitingClient(ctx, args.finalTimeoutMs ?? DEFAULT_FINAL_TIMEOUT_MS) : ctx.node();
  const answer = await node.append({ ...unsigned, signature }, options);
  const fail = (reason: string, cause?: unknown): never => {
    throw new VerificationError(`the receipt from ${node.url} does not check: ${reason}`, { details: { url: node.url, receipt: answer }, cause });
  };
  let parsed;
  try {
    parsed = parseFinalReceipt(answer);
  } catch (e) {
    return fail((e as Error).message, e);
  }
  const { receipt, certificate } = parsed;
  if (!equalBytes(receipt.sender, sender) || receipt.nonce !== unsigned.nonce || !equalBytes(receipt.submissionDigest, digest)) fail('it names another submission');
  const { reason, finality } = checkReceiptFinality(ctx.rules, { ...receipt, certificate }, args.transactions);
  if (reason) fail(reason);
  if (finality !== answer.finality) fail(`it says ${answer.finality}, its certificate makes it ${finality}`);
  if (args.wait === 'final' && finality !== 'final') fail('asked to wait until final, the node answered without a finality certificate');
  return answer;
}
