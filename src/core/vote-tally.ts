/**
 * Counting votes into certificates (docs/protocol.md §Finality): every node, validator or observer, adds each vote it
 * has verified (vote.ts verifyVote) and learns when a quorum of validators signed one and the same vote: that is a
 * certificate, checked by construction (each signature was verified on its way in). Pure and bounded: votes are
 * kept only for heights inside a window above the finalized height, one per validator, kind, view and height (the
 * first one counts; a second one for another header is the signer's equivocation, returned to the caller as the
 * pair once, and not counted; further ones from it there are not news).
 */
import { bytesKey, equalBytes, type Bytes } from './bytes.ts';
import { buildCertificate, type CheckedCertificate } from './certificate.ts';
import type { Membership } from './membership.ts';
import type { SignedVote, Vote } from './vote.ts';

/** What adding one vote came to. */
export type TallyOutcome =
  /** Counted; `certificate` is set when this vote completed a quorum (once per vote target). */
  | { readonly kind: 'counted'; readonly certificate?: CheckedCertificate }
  /** Already counted (the same vote again), or for a target that already has its certificate: nothing new. */
  | { readonly kind: 'duplicate' }
  /** Outside the window the tally keeps (at or below the floor, or too far above it). */
  | { readonly kind: 'out-of-window' }
  /** The signer already voted another header for this kind, view and height: both votes, for a proof. */
  | { readonly kind: 'conflict'; readonly first: SignedVote; readonly second: SignedVote };

interface Target {
  readonly vote: Vote;
  readonly signatures: Map<number, Bytes>;
  certified: boolean;
}

/** Key of a (kind, view, height): the slot each validator may fill once. */
function slotKey(v: Vote): string {
  return `${v.kind}:${v.view}:${v.height}`;
}

export class VoteTally {
  private readonly membership: Membership;
  private readonly window: number;
  /** Votes are kept for heights in (floor, floor + window]. */
  private floor: number;
  /** slot -> header hash (bytesKey) -> the target's signatures. */
  private readonly slots = new Map<string, Map<string, Target>>();
  /** slot -> validator index -> the vote it cast there (to tell a repeat from a conflict). */
  private readonly cast = new Map<string, Map<number, SignedVote>>();
  /** Heights that have slots, for pruning. */
  private readonly heights = new Map<number, Set<string>>();
  /** slot -> validators already caught voting two headers there: one proof is enough, later votes are not news. */
  private readonly caught = new Map<string, Set<number>>();

  /** `floor`: votes at or below it are of no use (final already); `window`: how far above it votes are kept. */
  constructor(membership: Membership, floor: number, window: number) {
    this.membership = membership;
    this.floor = floor;
    this.window = window;
  }

  /** Adds a vote of validator `index`, whose signature the caller has verified for this log and set. */
  add(index: number, v: SignedVote): TallyOutcome {
    if (v.height <= this.floor || v.height > this.floor + this.window) return { kind: 'out-of-window' };
    const slot = slotKey(v);
    let voters = this.cast.get(slot);
    const previous = voters?.get(index);
    if (previous !== undefined) {
      if (equalBytes(previous.headerHash, v.headerHash) || this.caught.get(slot)?.has(index)) return { kind: 'duplicate' };
      let caught = this.caught.get(slot);
      if (!caught) this.caught.set(slot, (caught = new Set()));
      caught.add(index);
      return { kind: 'conflict', first: previous, second: v };
    }
    if (!voters) {
      voters = new Map();
      this.cast.set(slot, voters);
      let atHeight = this.heights.get(v.height);
      if (!atHeight) this.heights.set(v.height, (atHeight = new Set()));
      atHeight.add(slot);
    }
    voters.set(index, v);
    let targets = this.slots.get(slot);
    if (!targets) this.slots.set(slot, (targets = new Map()));
    const hash = bytesKey(v.headerHash);
    let target = targets.get(hash);
    if (!target) {
      target = { vote: { kind: v.kind, view: v.view, height: v.height, headerHash: v.headerHash }, signatures: new Map(), certified: false };
      targets.set(hash, target);
    }
    if (target.certified) return { kind: 'duplicate' };
    target.signatures.set(index, v.signature);
    if (target.signatures.size < this.membership.quorum) return { kind: 'counted' };
    target.certified = true;
    // Every signature was verified for exactly this vote, log and set on its way in: a quorum of them is a
    // certificate that checkCertificate would accept (the lowest-indexed quorum is kept, as it would be built anyway).
    const certificate = buildCertificate(this.membership.n, target.vote, target.signatures, this.membership.quorum) as CheckedCertificate;
    return { kind: 'counted', certificate };
  }

  /**
   * Whether a vote of validator `index` would be news: inside the window, not for a target already certified, and
   * not the very vote it already cast there (a different one is news too: evidence, the first time). Lets the caller
   * skip verifying what it would not count.
   */
  wants(index: number, v: Vote): boolean {
    if (v.height <= this.floor || v.height > this.floor + this.window) return false;
    const slot = slotKey(v);
    const previous = this.cast.get(slot)?.get(index);
    // A vote for a target that already has its certificate adds nothing (its signature would not be used).
    if (previous === undefined) return this.slots.get(slot)?.get(bytesKey(v.headerHash))?.certified !== true;
    // Another header is evidence, the first time only: a validator caught once cannot make the node verify more.
    return !equalBytes(previous.headerHash, v.headerHash) && !this.caught.get(slot)?.has(index);
  }

  /** The validators (indices) that voted this exact vote so far. */
  votersOf(v: Vote): number[] {
    const target = this.slots.get(slotKey(v))?.get(bytesKey(v.headerHash));
    return target ? [...target.signatures.keys()] : [];
  }

  /** Forgets every vote at or below `floor` (the finalized height) and moves the window up. */
  raiseFloor(floor: number): void {
    if (floor <= this.floor) return;
    for (const [height, slots] of this.heights) {
      if (height > floor) continue;
      for (const slot of slots) {
        this.slots.delete(slot);
        this.cast.delete(slot);
        this.caught.delete(slot);
      }
      this.heights.delete(height);
    }
    this.floor = floor;
  }

  /** Heights with votes held (for metrics and tests). */
  get size(): number {
    return this.heights.size;
  }
}
