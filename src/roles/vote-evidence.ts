/**
 * Accountability for votes (docs/protocol.md §Equivocation proofs, validator proofs): every node that counts votes
 * (roles/finality.ts) meets a validator's two votes at one (kind, view, height) for different headers; each such pair
 * becomes a kind-3 proof (core/vote-proofs.ts), stored durably as a node record ('E' 'V' signer proofId), listed by
 * sequencer_getEquivocations and published on the equivocations topic (roles/proof-gossip.ts), where proofs of any
 * validator kind (3-6) found by other nodes are adopted once they check out against this log's validator set.
 *
 * Unlike a header equivocation, a vote equivocation does not stop the node: it follows a quorum of validators, not one
 * key, and a quorum stays honest with up to f of them Byzantine (docs/design/replication.md §6.1). The proof is there
 * to be slashed on chain.
 *
 * Bounded: one validator is slashed once whatever the number of proofs against it, so at most
 * PROOFS_PER_VALIDATOR proofs are kept (in memory and on disk) per validator; further ones are valid but not kept.
 */
import { equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import type { Header } from '../core/header.ts';
import { subscribe } from '../core/listeners.ts';
import type { Logger } from '../core/logger.ts';
import type { LogRules } from '../core/rules.ts';
import type { CheckedTimeoutMessage } from '../core/timeout.ts';
import { VoteKind, type SignedVote } from '../core/vote.ts';
import {
  checkVoteProof, judgeLockLie, judgeTimeoutConflict, judgeVoteConflict, judgeVoteFork, voteProofId, VOTE_PROOF_KIND_CODE, type VoteProof,
} from '../core/vote-proofs.ts';
import { StoreFaultError, type LogStore } from '../storage/log-store.ts';
import { voteProofToJson, type ParsedVoteProof, type VoteProofJson, type VoteProofScope } from '../wire/vote-proof-json.ts';
import { decodeRecord, encodeVoteProofRecord, voteProofRecordName } from '../wire/storage-records.ts';
import type { Finality, VoteConflict } from './finality.ts';
import type { Pacemaker } from './pacemaker.ts';

/** Proofs kept per validator: one is enough to slash it; a few more in case one is refused somewhere. */
export const PROOFS_PER_VALIDATOR = 4;
/** Lock votes kept per validator to find vote forks (kind 4) among: its latest ones (consecutive heights in a view). */
const LOCK_VOTES_KEPT = 8;

/** What vote-fork detection reads: the hash of the header stored at a height, and any held header by its hash. */
export interface HeaderLookup {
  /** The hash of the header this node stores at `height` (undefined when none): cheap for recent heights. */
  storedHeaderHash(height: number): Promise<Bytes | undefined>;
  /** A leader-signed header with this hash at `height` the node holds (stored, seen ahead, or inside a header proof). */
  headerByHash(height: number, hash: Uint8Array): Promise<Header | undefined>;
}

export interface VoteEvidenceOptions {
  readonly store: LogStore;
  readonly rules: LogRules;
  readonly chainId: number;
  readonly log: Logger;
}

export type AdoptOutcome = 'new' | 'known' | 'invalid';

export class VoteEvidence {
  private readonly opts: VoteEvidenceOptions;
  private readonly scope: VoteProofScope;
  /** Held proofs in their JSON form (what is stored, served and published), oldest first. */
  private readonly proofList: VoteProofJson[] = [];
  /**
   * Signer and proof id (`proofKey`) of every proof held or being recorded: claimed before the write, so one
   * equivocation is one proof.
   */
  private readonly recorded = new Set<string>();
  /** Proofs held or being recorded, per validator address (hex). */
  private readonly perSigner = new Map<string, number>();
  /** Proofs whose write failed in a storage fault, by key: written once the store recovers. */
  private readonly unsaved = new Map<string, { name: Uint8Array; value: Uint8Array }>();
  private readonly listeners: ((p: VoteProofJson) => void)[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  /** Per validator index, its latest counted lock votes (at most LOCK_VOTES_KEPT), for vote forks. */
  private readonly lockVotes = new Map<number, SignedVote[]>();
  /** Per validator index, its highest-view timeout this node verified, for lock lies found from the vote's side. */
  private readonly timeouts = new Map<number, CheckedTimeoutMessage>();

  private constructor(opts: VoteEvidenceOptions) {
    this.opts = opts;
    this.scope = { chainId: opts.chainId, logId: opts.rules.logId, membershipHash: opts.rules.membership.hash };
    this.unsubscribe.push(opts.store.onRecovered(() => void this.saveUnsaved()));
  }

  /** Reads the proofs held from the store. */
  static async open(opts: VoteEvidenceOptions): Promise<VoteEvidence> {
    const evidence = new VoteEvidence(opts);
    for await (const [name, value] of opts.store.records()) {
      const record = decodeRecord(name, value);
      if (record?.kind !== 'vote-proof') continue;
      // Checked like a proof from a peer: what is listed and published must be valid whatever the disk holds.
      if (evidence.outOfScope(record.parsed) !== null || checkVoteProof(opts.rules, record.parsed.proof) !== null) continue;
      const claimed = evidence.claim(record.parsed.proof);
      if (claimed) evidence.proofList.push(claimed.json);
    }
    return evidence;
  }

  /**
   * Turns what `finality` counts into proofs from now on: two votes at one (kind, view, height) (kind 3); lock votes
   * at consecutive heights of a view whose higher header, held here (`headers`), does not extend the lower one (kind
   * 4); and a commit vote above the lock a timeout of that validator for its view or a later one reported (kind 5,
   * with followTimeouts: the timeout may come first).
   */
  follow(finality: Pick<Finality, 'onConflict' | 'onVote'>, headers?: HeaderLookup): void {
    this.unsubscribe.push(
      finality.onConflict((c) => void this.onConflict(c)),
      finality.onVote((index, v) => {
        if (v.kind === VoteKind.commit) this.judgeCommit(index, v);
        else if (headers) void this.judgeLock(index, v, headers);
      }),
    );
  }

  /** A commit vote against the validator's highest-view timeout held: a lock lie if the timeout reported less. */
  private judgeCommit(index: number, vote: SignedVote): void {
    const timeout = this.timeouts.get(index);
    const proof = timeout && judgeLockLie(this.opts.rules, index, vote, timeout);
    if (proof) this.keep(proof, `a commit vote counted by this node after a timeout it verified (validator ${index})`);
  }

  /**
   * A lock vote against the validator's lock votes at the heights just below and above in its view. An honest pair
   * is two headers of this node's own chain, told apart by the stored hashes alone; only a pair off that chain needs
   * the higher header itself (a fork header is held inside the leader's header proof): a vote fork when it does not
   * extend the lower one. Detected when that header is held by the time the second vote is counted.
   */
  private async judgeLock(index: number, vote: SignedVote, headers: HeaderLookup): Promise<void> {
    const kept = this.lockVotes.get(index) ?? [];
    const pairs = kept.filter((other) => other.view === vote.view && Math.abs(other.height - vote.height) === 1);
    kept.push(vote);
    if (kept.length > LOCK_VOTES_KEPT) kept.shift();
    this.lockVotes.set(index, kept);
    try {
      for (const other of pairs) {
        const [lower, higher] = other.height < vote.height ? [other, vote] : [vote, other];
        const [storedLower, storedHigher] = await Promise.all([headers.storedHeaderHash(lower.height), headers.storedHeaderHash(higher.height)]);
        if (storedLower && storedHigher && equalBytes(storedLower, lower.headerHash) && equalBytes(storedHigher, higher.headerHash)) continue;
        const child = await headers.headerByHash(higher.height, higher.headerHash);
        const proof = child && judgeVoteFork(this.opts.rules, index, lower, higher, child);
        if (proof) this.keep(proof, `lock votes counted by this node (validator ${index})`);
      }
    } catch (e) {
      this.opts.log.warn('could not judge a lock vote against its neighbours', { validator: index, error: (e as Error).message });
    }
  }

  /** Records a proof found here, logging (never throwing) a failure. */
  private keep(proof: VoteProof, origin: string): void {
    this.record(proof, origin).catch((e: Error) => this.opts.log.error('could not record a vote equivocation proof', { kind: proof.kind, error: e.message }));
  }

  /**
   * Turns what the pacemaker meets into proofs from now on: two different timeouts of one validator for one view
   * (kind 6), and a timeout reporting a lock below a commit vote of that validator this node counted (kind 5).
   */
  followTimeouts(pacemaker: Pick<Pacemaker, 'onTimeout' | 'onConflict'>, finality: Pick<Finality, 'highestCommitVote'>): void {
    const { rules } = this.opts;
    const keep = (proof: VoteProof | null, index: number) => {
      if (proof) this.keep(proof, `timeouts verified by this node (validator ${index})`);
    };
    this.unsubscribe.push(
      pacemaker.onConflict((a, b) => keep(judgeTimeoutConflict(rules, a.signerIndex, a, b), a.signerIndex)),
      pacemaker.onTimeout((t) => {
        const held = this.timeouts.get(t.signerIndex);
        if (!held || t.view > held.view) this.timeouts.set(t.signerIndex, t);
        const vote = finality.highestCommitVote(t.signerIndex);
        if (vote) keep(judgeLockLie(rules, t.signerIndex, vote, t), t.signerIndex);
      }),
    );
  }

  /** Stops following finality and writing what a storage fault left unsaved (the node is stopping). */
  close(): void {
    this.unsubscribe.forEach((u) => u());
  }

  /** Held proofs, JSON form (wire/vote-proof-json.ts), oldest first. */
  get proofs(): readonly VoteProofJson[] {
    return this.proofList;
  }

  /** Whether a proof against the validator at `address` is held. */
  convicted(address: Uint8Array): boolean {
    const signer = toHex(address);
    return this.proofList.some((p) => p.signer.toLowerCase() === signer);
  }

  /** Called once for every new proof, after it is stored. Returns the unsubscribe. */
  onProof(listener: (p: VoteProofJson) => void): () => void {
    return subscribe(this.listeners, listener);
  }

  /**
   * Takes a proof from elsewhere (gossip): adopted only if it is of this chain, log and validator set and checks out
   * on its own (checkVoteProof: signatures, membership, conflict, canonical order). 'known' also for a valid proof
   * against a validator already holding PROOFS_PER_VALIDATOR proofs here. A proof whose signer and id are held is
   * 'known' without its signatures being checked: the same validator's same two statements add nothing (peers
   * re-announce held proofs to every peer that joins, so this is the common case).
   */
  async adopt(parsed: ParsedVoteProof, origin: string): Promise<AdoptOutcome> {
    if (this.outOfScope(parsed) !== null) return 'invalid';
    if (this.recorded.has(this.proofKey(parsed.proof))) return 'known';
    if (checkVoteProof(this.opts.rules, parsed.proof) !== null) return 'invalid';
    return (await this.record(parsed.proof, origin)) ? 'new' : 'known';
  }

  /** Null when `parsed` is a proof for this node's chain, log and validator set, else the reason. */
  private outOfScope(parsed: ParsedVoteProof): string | null {
    const { rules, chainId } = this.opts;
    if (parsed.chainId !== chainId) return `proof for chain ${parsed.chainId}`;
    if (toHex(parsed.logId) !== toHex(rules.logId)) return 'proof for another log';
    if (toHex(parsed.membershipHash) !== toHex(rules.membership.hash)) return 'proof for another validator set';
    return null;
  }

  /** A pair Finality met, both votes verified as the validator's: a kind-3 proof. */
  private async onConflict(c: VoteConflict): Promise<void> {
    const proof = judgeVoteConflict(this.opts.rules, c.signerIndex, c.first, c.second);
    if (!proof) return;
    try {
      await this.record(proof, `votes counted by this node (validator ${c.signerIndex})`);
    } catch (e) {
      this.opts.log.error('could not record a vote equivocation proof', { validator: c.signerIndex, error: (e as Error).message });
    }
  }

  /**
   * What tells one proof from another: its signer and its id. The id alone does not name the signer (two validators
   * voting the same two headers sign the same digests), and each of them is to be slashed.
   */
  private proofKey(proof: VoteProof): string {
    return `${toHex(proof.signer)}:${toHex(voteProofId(this.opts.rules, proof))}`;
  }

  /** Claims a proof's key and a slot of its signer; undefined when already held or the signer has its share. */
  private claim(proof: VoteProof): { key: string; json: VoteProofJson } | undefined {
    const key = this.proofKey(proof);
    const signer = toHex(proof.signer);
    const count = this.perSigner.get(signer) ?? 0;
    if (this.recorded.has(key) || count >= PROOFS_PER_VALIDATOR) return undefined;
    this.recorded.add(key);
    this.perSigner.set(signer, count + 1);
    return { key, json: voteProofToJson(this.scope, proof) };
  }

  private release(proof: VoteProof, key: string): void {
    this.recorded.delete(key);
    const signer = toHex(proof.signer);
    this.perSigner.set(signer, (this.perSigner.get(signer) ?? 1) - 1);
  }

  /**
   * Stores a proof unless already held, then lists and publishes it; returns whether it was new. Claimed before the
   * write is awaited, so a concurrent detection of the same proof is 'known'. In a storage fault the proof is kept in
   * memory, listed and published all the same, and written once the store recovers.
   */
  private async record(proof: VoteProof, origin: string): Promise<boolean> {
    const claimed = this.claim(proof);
    if (!claimed) return false;
    const { key, json } = claimed;
    const name = voteProofRecordName(proof.signer, voteProofId(this.opts.rules, proof));
    const value = encodeVoteProofRecord(json);
    try {
      await this.opts.store.putRecord(name, value);
    } catch (e) {
      if (!(e instanceof StoreFaultError)) {
        this.release(proof, key); // not a storage fault: a bug; a later detection must try again
        throw e;
      }
      this.opts.log.warn('storage fault: vote proof kept in memory, written once the store recovers', { proof: key, error: e.message });
      this.unsaved.set(key, { name, value });
    }
    this.proofList.push(json);
    this.opts.log.error('VALIDATOR EQUIVOCATION: a validator signed conflicting statements (the node goes on following the quorum)', {
      kind: VOTE_PROOF_KIND_CODE[proof.kind], validator: json.signer, origin, proof: key,
    });
    for (const l of [...this.listeners]) l(json);
    return true;
  }

  private async saveUnsaved(): Promise<void> {
    for (const [key, { name, value }] of [...this.unsaved]) {
      try {
        await this.opts.store.putRecord(name, value);
        this.unsaved.delete(key);
      } catch (e) {
        if (!(e instanceof StoreFaultError)) this.opts.log.error('writing a vote proof kept through a storage fault failed', { proof: key, error: (e as Error).message });
        return;
      }
    }
  }
}
