/**
 * Submissions waiting to be sequenced, as the validators watch them (docs/protocol.md §View change, censorship): a
 * node that takes a client's submission keeps it pending and, when no receipt came within FORWARD_GRACE_MS, publishes
 * it on the pending topic; every validator that receives it (valid by the rule book, its nonce unused in its chain)
 * keeps it pending too and forwards it to the leader. A submission pending for CENSORSHIP_MS while the leader stored
 * at least two batches with room to spare is sent to the leader once more; pending that long again, it is being
 * censored: the validator times the view out (T2), and on entering
 * the next view every pending submission goes to the new leader. A stored batch settles the ones it holds.
 *
 * Bounded: at most MAX_PENDING submissions, MAX_PER_SENDER per sender, each forgotten after MAX_AGE_MS.
 */
import { DecodeError, bytesKey } from '../core/bytes.ts';
import { nonceKey } from '../core/batch.ts';
import type { Logger } from '../core/logger.ts';
import { judgeSubmission, type LogRules } from '../core/rules.ts';
import { decodeSubmission, encodeSubmission, submissionDigest, type Submission } from '../core/submission.ts';
import type { Host } from '../p2p/host.ts';
import type { LogStore } from '../storage/log-store.ts';
import { pendingTopic } from '../wire/p2p-messages.ts';
import type { Verdict } from './role.ts';

/** A client's submission with no receipt after this long is published for every validator to watch. */
export const FORWARD_GRACE_MS = 300;
/** Pending this long while the leader stores batches with room to spare: censorship (T2). */
export const CENSORSHIP_MS = 1_000;
/** A batch with fewer transactions than this had room for more: the leader chose not to include what waits. */
export const ROOMY_BATCH_TXS = 2_048;
const MAX_PENDING = 4_096;
const MAX_PER_SENDER = 64;
const MAX_AGE_MS = 60_000;

interface Pending {
  readonly submission: Submission;
  readonly sender: string;
  firstSeen: number;
  /** Batches with room to spare stored since it was first seen. */
  roomyBatches: number;
  /** Sent to the leader (and published) once more after it first looked censored: the leader had a second chance. */
  retried: boolean;
}

export interface PendingSubmissionsOptions {
  readonly host: Host;
  readonly rules: LogRules;
  readonly store: LogStore;
  readonly log: Logger;
  /** Sends a submission to the current leader (the node's forwarding); a receipt settles it here. */
  readonly forward: (s: Submission) => Promise<unknown>;
}

export class PendingSubmissions {
  private readonly opts: PendingSubmissionsOptions;
  private readonly topic: string;
  private readonly pending = new Map<string, Pending>();
  private readonly perSender = new Map<string, number>();

  constructor(opts: PendingSubmissionsOptions) {
    this.opts = opts;
    this.topic = pendingTopic(opts.rules.logId);
  }

  start(): void {
    this.opts.host.subscribe(this.topic, (data, from) => this.onGossip(data, from));
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * A client's submission this node takes: pending from now; published for the other validators if `answered`
   * has not settled within FORWARD_GRACE_MS.
   */
  track(s: Submission, answered: Promise<unknown>): void {
    if (!this.add(s)) return;
    let settled = false;
    answered.then(() => {
      settled = true;
      this.settle(s); // sequenced (a receipt); if its batch is abandoned later, its submission comes back here
    }, () => {});
    setTimeout(() => {
      if (settled || !this.pending.has(bytesKey(nonceKey(s.sender, s.nonce)))) return;
      this.opts.host.publish(this.topic, encodeSubmission(s)).catch((e: Error) => this.opts.log.debug('pending publish failed', { error: e.message }));
    }, FORWARD_GRACE_MS).unref();
  }

  /**
   * GossipSub validator of the pending topic: not a submission, or one the rule book refuses: REJECT; its nonce
   * already used in this node's chain, already pending, or no room: IGNORE; else pending, forwarded to the leader: ACCEPT.
   */
  async onGossip(data: Uint8Array, from: string): Promise<Verdict> {
    let s: Submission;
    try {
      s = decodeSubmission(data);
    } catch (e) {
      if (e instanceof DecodeError) return 'reject';
      throw e;
    }
    if (judgeSubmission(this.opts.rules, s, { at: Date.now(), digest: submissionDigest(this.opts.rules.separator, s) })) {
      this.opts.log.debug('invalid pending submission', { from });
      return 'reject';
    }
    const key = nonceKey(s.sender, s.nonce);
    if (this.pending.has(bytesKey(key))) return 'ignore';
    const [used] = await this.opts.store.nonceHeights([key]);
    if (used !== undefined || !this.add(s)) return 'ignore';
    this.send(s);
    return 'accept';
  }

  /** Forwards to the leader; a receipt settles the submission (it is sequenced). */
  private send(s: Submission): void {
    this.opts.forward(s).then(() => this.settle(s), () => {});
  }

  private settle(s: Submission): void {
    this.remove(bytesKey(nonceKey(s.sender, s.nonce)));
  }

  private add(s: Submission): boolean {
    this.expire();
    const key = bytesKey(nonceKey(s.sender, s.nonce));
    if (this.pending.has(key)) return true;
    const sender = bytesKey(s.sender);
    const count = this.perSender.get(sender) ?? 0;
    if (this.pending.size >= MAX_PENDING || count >= MAX_PER_SENDER) return false;
    this.pending.set(key, { submission: s, sender, firstSeen: performance.now(), roomyBatches: 0, retried: false });
    this.perSender.set(sender, count + 1);
    return true;
  }

  private remove(key: string): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    const count = (this.perSender.get(p.sender) ?? 1) - 1;
    if (count <= 0) this.perSender.delete(p.sender);
    else this.perSender.set(p.sender, count);
  }

  private expire(): void {
    const now = performance.now();
    for (const [key, p] of this.pending) if (now - p.firstSeen > MAX_AGE_MS) this.remove(key);
  }

  /** A batch was stored holding these nonce keys and `txs` transactions: what it holds is settled; the rest waited once more. */
  stored(nonceKeys: readonly Uint8Array[], txs: number): void {
    if (this.pending.size === 0) return;
    for (const k of nonceKeys) this.remove(bytesKey(k));
    if (txs < ROOMY_BATCH_TXS) for (const p of this.pending.values()) p.roomyBatches++;
  }

  /**
   * Whether a submission waited CENSORSHIP_MS, twice, while the leader stored two batches with room for it each time
   * (T2). The first time it is only sent to the leader again and published: it may never have reached the leader
   * (this node was cut off, the forward was waiting for a view), which is no fault of the leader's.
   */
  censored(): boolean {
    const now = performance.now();
    let censored = false;
    for (const p of this.pending.values()) {
      if (now - p.firstSeen < CENSORSHIP_MS || p.roomyBatches < 2) continue;
      if (p.retried) {
        censored = true;
        continue;
      }
      p.retried = true;
      p.firstSeen = now;
      p.roomyBatches = 0;
      this.send(p.submission);
      this.opts.host.publish(this.topic, encodeSubmission(p.submission)).catch(() => {});
    }
    return censored;
  }

  /** A new view: every pending submission goes to its leader, and waits afresh. */
  reforward(): void {
    const now = performance.now();
    for (const p of this.pending.values()) {
      p.firstSeen = now;
      p.roomyBatches = 0;
      p.retried = false;
      this.send(p.submission);
    }
  }
}
