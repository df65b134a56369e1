/**
 * The chaos run's load (docs/chaos.md): a few workers, each sending one signed submission (one transaction) at a time
 * to the nodes in turn, retrying the same signed bytes at the next node until one answers with a receipt. Half the
 * workers ask for a soft receipt, half wait for the final one (`wait: "final"`); a final wait that times out
 * (-32013) still carries the soft receipt, recorded as such. Every receipt is recorded with its times.
 */
import { RpcClient } from '../../src/client/rpc-client.ts';
import { SubmissionSigner } from '../../src/client/submission-signer.ts';
import { domainSeparator } from '../../src/core/eip712.ts';
import { SequencerError, ErrorCode } from '../../src/core/errors.ts';
import { toHex, type Bytes } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import type { ReceiptJson } from '../../src/wire/rpc-types.ts';
import { contentKey, type ReceiptRecord } from './check.ts';

export interface LoadOptions {
  readonly clientKey: Bytes;
  readonly chainId: number;
  readonly logId: Bytes;
  readonly nodes: readonly { readonly name: string; readonly rpcUrl: string }[];
  readonly workers: number;
  /** The run's clock: ms since it started. */
  readonly now: () => number;
}

const PAUSE_AFTER_FAILURE_MS = 100;
const FINAL_TIMEOUT_MS = 10_000;

export class LoadGenerator {
  readonly receipts: ReceiptRecord[] = [];
  /** Attempts a node refused or did not answer (it was down, cut off, not ready): retried elsewhere. */
  failedAttempts = 0;
  private running = true;
  private nextNonce = 1n;
  private nextNode = 0;
  private readonly workers: Promise<void>[];

  private readonly opts: LoadOptions;

  /** The log's EIP-712 domain separator: what submissions are signed in and headers hashed in. */
  private readonly separator: Bytes;

  constructor(opts: LoadOptions) {
    this.opts = opts;
    this.separator = domainSeparator({ chainId: opts.chainId, logId: opts.logId });
    this.workers = Array.from({ length: opts.workers }, (_, w) => this.work(w % 2 === 0 ? 'soft' : 'final'));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async work(wait: 'soft' | 'final'): Promise<void> {
    const { opts } = this;
    const signer = new SubmissionSigner(opts.clientKey, this.separator);
    const sender = toHex(addressFromPrivateKey(opts.clientKey));
    const clients = opts.nodes.map((n) => ({ name: n.name, rpc: new RpcClient(n.rpcUrl) }));
    while (this.running) {
      const nonce = this.nextNonce++;
      const payload = `chaos ${nonce}`;
      const submission = signer.sign({ nonce, transactions: [new TextEncoder().encode(payload)] });
      const sentMs = opts.now();
      while (this.running) {
        const node = clients[this.nextNode++ % clients.length];
        try {
          const receipt = await node.rpc.append(submission, wait === 'final' ? { wait: 'final', finalTimeoutMs: FINAL_TIMEOUT_MS } : undefined);
          this.record(receipt, wait === 'final' && receipt.finality === 'final' ? 'final' : 'soft', { sender, nonce, payload, sentMs, node: node.name });
          break;
        } catch (e) {
          const softOnly = e instanceof SequencerError && e.code === ErrorCode.NotFinalYet ? (e.details as { receipt?: ReceiptJson } | undefined)?.receipt : undefined;
          if (softOnly) {
            this.record(softOnly, 'soft', { sender, nonce, payload, sentMs, node: node.name });
            break;
          }
          this.failedAttempts++;
          await new Promise((r) => setTimeout(r, PAUSE_AFTER_FAILURE_MS));
        }
      }
    }
  }

  private record(r: ReceiptJson, finality: 'soft' | 'final', sent: { sender: string; nonce: bigint; payload: string; sentMs: number; node: string }): void {
    this.receipts.push({
      sender: sent.sender, nonce: sent.nonce.toString(), payload: sent.payload, finality, height: r.height, firstSeq: r.firstSeq, count: r.count,
      headerHash: r.headerHash, contentKey: contentKey(this.separator, r.header), sentMs: Math.round(sent.sentMs), answeredMs: Math.round(this.opts.now()), node: sent.node,
    });
  }
}
