/**
 * What the explorer shows of the validators and of finality that no signed object says (docs/protocol.md
 * §sequencer_info, `validatorVotes` and `finalizedAt`): the last vote this node counted from each validator (a vote it
 * verified as that validator's), and when this node's final height last rose, by its own clock. In memory only and
 * bounded: one vote per validator and the last FINAL_RISES rises. A node's word, labelled as such by the page; the
 * votes themselves and the certificates are what a client verifies.
 */
import type { Finality } from '../roles/finality.ts';
import { VoteKind, type SignedVote } from '../core/vote.ts';
import type { ValidatorVoteJson, FinalRiseJson } from '../wire/rpc-types.ts';

/** Final-height rises remembered: a page polling once a second sees every rise of a network sealing a few batches a second. */
const FINAL_RISES = 64;

export class ValidatorActivity {
  private readonly votes: (ValidatorVoteJson | null)[];
  private readonly rises: FinalRiseJson[] = [];
  private readonly unsubscribe: (() => void)[];

  constructor(finality: Finality, validators: number) {
    this.votes = Array.from({ length: validators }, () => null);
    this.unsubscribe = [
      finality.onVote((index, v) => this.onVote(index, v)),
      finality.onFinal((height) => {
        this.rises.push({ height, at: Date.now() });
        if (this.rises.length > FINAL_RISES) this.rises.shift();
      }),
    ];
  }

  private onVote(index: number, v: SignedVote): void {
    if (index < 0 || index >= this.votes.length) return;
    this.votes[index] = { kind: v.kind === VoteKind.lock ? 'lock' : 'commit', view: v.view, height: v.height, at: Date.now() };
  }

  /** Each validator's last counted vote, by index (null: none since this node started). */
  get validatorVotes(): (ValidatorVoteJson | null)[] {
    return [...this.votes];
  }

  /** The last rises of the final height, oldest first: height h became final at the first rise to h or above. */
  get finalizedAt(): FinalRiseJson[] {
    return [...this.rises];
  }

  stop(): void {
    for (const u of this.unsubscribe) u();
  }
}
