/**
 * What a node does in its log, behind one interface: the primary sequences (src/roles/primary-role.ts), a
 * replica follows and verifies (src/roles/replica-role.ts). The node (src/node/sequencer-node.ts) creates one
 * role and drives it: hands it appends and the log's gossip, reads its state for status and info, stops it.
 */
import type { PeerRecord } from '../core/peer-record.ts';
import type { Receipt } from '../core/receipt.ts';
import type { Submission } from '../core/submission.ts';

/** A GossipSub validator's verdict: it decides propagation and scores the relaying peer. */
export type Verdict = 'accept' | 'ignore' | 'reject';

/** Whether the primary's on-chain bond backs it (src/chain/bond-watcher.ts; docs/slashing.md §Withdrawal delay). */
export interface BondTrust {
  /** Why a primary must stop sequencing (its bond is leaving, slashed or gone), or null. */
  revoked(): string | null;
  /** Why a replica must stop following (as `revoked`, or the bond cannot be read), or null. */
  distrust(): string | null;
  onChange(listener: () => void): () => void;
}

export interface Role {
  readonly kind: 'primary' | 'replica';
  /** A primary sequences the submission; a replica forwards it to the primary. Resolves with the receipt. */
  append(s: Submission): Promise<Receipt>;
  /** Validator of the log's batch topic. */
  onGossip(bytes: Uint8Array, fromPeer: string): Promise<Verdict>;
  /** Why the role stopped for good (a halted primary), or undefined. */
  readonly halted: string | undefined;
  /** Why it takes no appends yet (a primary recovering at start-up), or undefined. */
  readonly notReady: string | undefined;
  /** Why the primary's bond does not back it now, for this role, or null (always null without a bond to watch). */
  bondProblem(): string | null;
  /** The primary's signed claim to its peer id, served in its status (docs/protocol.md §Status); undefined for a replica. */
  readonly peerRecord: PeerRecord | undefined;
  /** Stops the role's work and unsubscribes its listeners; the node then stops what the role used. */
  stop(): Promise<void>;
}
