/**
 * The validator set of a log: who may sign its headers, how many faults it tolerates, how many signatures make
 * a quorum, and who leads each view. Part of a log's configuration (LogRules.membership), fixed for the log's
 * life. Today's logs have one member, the primary: n = 1, f = 0, quorum 1, and it leads every view. Larger
 * sets are for quorum finality and leader failover, which judge votes against `quorum` and bind them to `hash`.
 */
import { equalBytes, toHex, type Bytes } from './bytes.ts';
import { keccak256 } from './hash.ts';
import { InvalidArgumentError } from './errors.ts';

export class Membership {
  /** Validator addresses (20 bytes each), in the configured order: that order decides the leader of each view. */
  readonly validators: readonly Bytes[];
  /** Faults tolerated: the largest f with n >= 3f + 1. */
  readonly f: number;
  /** Signatures that make a quorum: ceil((n + f + 1) / 2), so that any two quorums share an honest validator. */
  readonly quorum: number;
  /** keccak256 of the addresses concatenated in order (20 bytes each): names this exact set and order. */
  readonly hash: Bytes;

  private constructor(validators: readonly Bytes[]) {
    this.validators = validators;
    this.f = Math.floor((validators.length - 1) / 3);
    this.quorum = Math.ceil((validators.length + this.f + 1) / 2);
    const packed = new Uint8Array(validators.length * 20);
    validators.forEach((v, i) => packed.set(v, i * 20));
    this.hash = keccak256(packed);
  }

  /** A set of distinct 20-byte addresses, in the order that assigns views to leaders. Throws on anything else. */
  static of(validators: readonly Bytes[]): Membership {
    if (validators.length === 0) throw new InvalidArgumentError('a membership needs at least one validator');
    const seen = new Set<string>();
    for (const v of validators) {
      if (v.byteLength !== 20) throw new InvalidArgumentError(`a validator address is 20 bytes, not ${v.byteLength}`);
      const hex = toHex(v);
      if (seen.has(hex)) throw new InvalidArgumentError(`validator ${hex} listed twice`);
      seen.add(hex);
    }
    return new Membership(validators.map((v) => Uint8Array.from(v)));
  }

  /** Today's log: one primary, which leads every view. */
  static single(primary: Bytes): Membership {
    return Membership.of([primary]);
  }

  get n(): number {
    return this.validators.length;
  }

  /** The validator that signs the headers of `view`: round-robin over the set, in its order. */
  leaderOf(view: number): Bytes {
    return this.validators[view % this.validators.length];
  }

  /** The position of `address` in the set (its validator index), or -1 for an address outside it. */
  indexOf(address: Uint8Array): number {
    return this.validators.findIndex((v) => equalBytes(v, address));
  }

  includes(address: Uint8Array): boolean {
    return this.indexOf(address) >= 0;
  }
}
