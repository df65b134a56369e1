/** Client side of a submission: build and sign one (EIP-712, docs/protocol.md §Submission). */
import type { Bytes } from '../core/bytes.ts';
import { sign, addressFromPrivateKey } from '../core/signature.ts';
import { submissionDigest, type Submission } from '../core/submission.ts';

export interface Unsigned {
  readonly nonce: bigint;
  /** Unix seconds; 0 or absent for none. */
  readonly expiry?: number;
  readonly transactions: readonly Bytes[];
}

export class SubmissionSigner {
  readonly address: Bytes;
  private readonly privateKey: Bytes;
  private readonly separator: Bytes;

  /** `separator` is the log's EIP-712 domain separator (core/eip712.ts domainSeparator). */
  constructor(privateKey: Bytes, separator: Bytes) {
    this.privateKey = privateKey;
    this.separator = separator;
    this.address = addressFromPrivateKey(privateKey);
  }

  sign(u: Unsigned): Submission {
    const unsigned = { sender: this.address, nonce: u.nonce, expiry: u.expiry ?? 0, transactions: u.transactions, signature: new Uint8Array(65) };
    return { ...unsigned, signature: sign(submissionDigest(this.separator, unsigned), this.privateKey) };
  }
}

/** A nonce that is unique without coordination: microseconds since the epoch, then a counter. */
export function timeNonces(): () => bigint {
  let last = 0n;
  return () => {
    const now = BigInt(Date.now()) * 1000n;
    last = now > last ? now : last + 1n;
    return last;
  };
}
