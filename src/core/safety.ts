/**
 * The safety rules of a validator (docs/protocol.md §Safety state (validators)), as pure functions: given what a
 * validator signed before (its SafetyState), may it sign this now, and what is its state once it has? Each
 * `decide…` function returns the new state, which the caller must persist (synced) before the signature leaves the
 * process (storage/safety-store.ts does both), or throws SafetyRuleError naming the rule, changing nothing.
 *
 * Rule names follow docs/design/replication.md §3.2: L1-L5 for lock votes, C1-C4 for commit votes, the leader rule
 * for proposals, and the timeout rule. What the functions cannot see is the caller's to establish first and is
 * said on each parameter: that the batch was verified and stored (L2), that a certificate was checked (the type
 * CheckedCertificate says it), that a view's entry justification (TC) was checked.
 */
import { ZERO32, equalBytes, toHex, type Bytes } from './bytes.ts';
import { compareRank, type CheckedCertificate } from './certificate.ts';
import { SafetyRuleError } from './errors.ts';
import { VoteKind, type Vote } from './vote.ts';

/** A (view, height, header hash): a vote's, a proposal's or a lock's target. Ranked by (view, height). */
export interface Target {
  readonly view: number;
  readonly height: number;
  readonly headerHash: Bytes;
}

export interface SafetyState {
  /** The view the validator is in. */
  readonly curView: number;
  /** Highest view it signed a Timeout for; -1 for none. It never votes or proposes in a view <= tmoView. */
  readonly tmoView: number;
  /** The highest-ranked certificate (either kind) it holds for a header it stores; null for none (rank ⊥). */
  readonly lock: Target | null;
  /** Its last lock vote, last commit vote and last proposal (a header it signed as leader); null for none. */
  readonly lastLock: Target | null;
  readonly lastCommit: Target | null;
  readonly lastProposal: Target | null;
  /** It signs nothing in a view below this (recovery after a lost store, docs/design/replication.md §4). */
  readonly floorView: number;
}

/** A validator that never signed anything, in view 0. */
export const INITIAL_SAFETY_STATE: SafetyState = {
  curView: 0, tmoView: -1, lock: null, lastLock: null, lastCommit: null, lastProposal: null, floorView: 0,
};

export interface LockVoteRequest extends Target {
  /** The voted header's prevHeaderHash. */
  readonly prevHeaderHash: Bytes;
  /**
   * Only for the first header of a view v > 0 (L3): how the view was entered, from the header's justification,
   * which the caller has checked (TC(v − 1), and the certificate of its highest lock).
   */
  readonly viewEntry?: ViewEntry;
}

export interface ViewEntry {
  /** The view of the timeout certificate the header's justification holds. */
  readonly tcView: number;
  /** The TC's highest lock (TC.highLock); null for ⊥. */
  readonly highLock: Target | null;
  /** True when the header is a re-proposal of the highest lock's header (contentEqual, checked by the caller). */
  readonly reproposal: boolean;
}

export interface VoteDecision {
  readonly state: SafetyState;
  readonly vote: Vote;
}

function describe(t: Target | null): string {
  return t === null ? '⊥' : `(${t.view}, ${t.height}, ${toHex(t.headerHash)})`;
}

function refuse(code: ConstructorParameters<typeof SafetyRuleError>[0], message: string, facts: Record<string, unknown> = {}): never {
  throw new SafetyRuleError(code, message, facts);
}

/** L1 / C1 / leader rule: the view is the current one, not timed out, not below the floor. */
function requireActiveView(s: SafetyState, view: number, what: string): void {
  if (view !== s.curView) refuse('wrong-view', `${what} in view ${view}, the validator is in view ${s.curView}`, { view, curView: s.curView });
  if (view <= s.tmoView) refuse('timed-out', `${what} in view ${view}, which the validator timed out`, { view, tmoView: s.tmoView });
  if (view < s.floorView) refuse('below-floor', `${what} in view ${view}, below the recovery floor ${s.floorView}`, { view, floorView: s.floorView });
}

/** Never two votes (any kinds) at one (view, height) for different headers: checked against the last of each kind. */
function requireNoConflict(s: SafetyState, t: Target): void {
  for (const previous of [s.lastLock, s.lastCommit]) {
    if (previous !== null && previous.view === t.view && previous.height === t.height && !equalBytes(previous.headerHash, t.headerHash)) {
      refuse('conflict', `a vote for ${describe(t)} conflicts with the vote for ${describe(previous)}`);
    }
  }
}

export function higherLock(lock: Target | null, candidate: Target): Target {
  return lock === null || compareRank(candidate, lock) > 0 ? candidate : lock;
}

/**
 * May the validator lock-vote for this header (L1, L3, L4, L5)? The caller has verified the whole batch against
 * its parent and stored it durably as height `height` of its chain (L2), and fetched any missing ancestors (L3′).
 */
export function decideLockVote(s: SafetyState, req: LockVoteRequest): VoteDecision {
  const what = `lock vote for ${describe(req)}`;
  requireActiveView(s, req.view, what);
  requireNoConflict(s, req);
  const last = s.lastLock;
  if (last !== null && compareRank(req, last) <= 0) refuse('not-increasing', `${what}: not above the last lock vote ${describe(last)}`);
  if (last !== null && last.view === req.view) {
    // L5 and L4: within a view one lock vote per height, consecutive, each on the header voted just before.
    if (req.height !== last.height + 1) refuse('not-consecutive', `${what}: the last lock vote in this view is at height ${last.height}`);
    if (!equalBytes(req.prevHeaderHash, last.headerHash)) refuse('fork', `${what}: its parent is not ${toHex(last.headerHash)}, voted at height ${last.height}`);
  } else {
    requireViewEntry(req, what);
  }
  return { state: { ...s, lastLock: target(req) }, vote: { kind: VoteKind.lock, ...target(req) } };
}

/** L3: the first header a validator votes for in a view starts the log (view 0) or follows the view's TC. */
function requireViewEntry(req: LockVoteRequest, what: string): void {
  if (req.view === 0) {
    if (req.height !== 0 || !equalBytes(req.prevHeaderHash, ZERO32)) {
      refuse('unjustified', `${what}: the first lock vote of view 0 is for the genesis batch (height 0)`);
    }
    return;
  }
  const entry = req.viewEntry;
  if (entry === undefined || entry.tcView !== req.view - 1) refuse('unjustified', `${what}: the first header of view ${req.view} needs TC(${req.view - 1})`);
  const high = entry.highLock;
  if (entry.reproposal) {
    if (high === null || req.height !== high.height) refuse('unjustified', `${what}: a re-proposal must be at the height of TC.highLock ${describe(high)}`);
    return;
  }
  const [height, parent] = high === null ? [0, ZERO32] : [high.height + 1, high.headerHash];
  if (req.height !== height || !equalBytes(req.prevHeaderHash, parent)) {
    refuse('unjustified', `${what}: the first header of view ${req.view} must re-propose or extend TC.highLock ${describe(high)}`);
  }
}

/**
 * May the validator commit-vote for the header of this lock certificate (C1, C2, C4)? `storedHeaderHash` is the
 * hash of the header the caller stores at the certificate's height (C2: it commits only what it stores). The new
 * state raises the lock to the certificate (C3): the caller persists it, and the certificate, with the vote.
 */
export function decideCommitVote(s: SafetyState, qc: CheckedCertificate, storedHeaderHash: Bytes): VoteDecision {
  const t = target(qc);
  const what = `commit vote for ${describe(t)}`;
  if (qc.kind !== VoteKind.lock) refuse('not-locked', `${what}: needs a lock certificate, not a commit certificate`);
  if (!equalBytes(storedHeaderHash, qc.headerHash)) refuse('not-stored', `${what}: the header stored at height ${qc.height} is ${toHex(storedHeaderHash)}`);
  requireActiveView(s, qc.view, what);
  requireNoConflict(s, t);
  if (s.lastCommit !== null && compareRank(t, s.lastCommit) <= 0) refuse('not-increasing', `${what}: not above the last commit vote ${describe(s.lastCommit)}`);
  return { state: { ...s, lastCommit: t, lock: higherLock(s.lock, t) }, vote: { kind: VoteKind.commit, ...t } };
}

/** The state after learning a certificate (either kind) for a header the validator stores: its lock rises to it. */
export function raiseLock(s: SafetyState, cert: CheckedCertificate): SafetyState {
  const lock = higherLock(s.lock, target(cert));
  return lock === s.lock ? s : { ...s, lock };
}

/** Leader rule: may the leader of `curView` sign this header? (Its content rules, L3/L4 and the window, are the role's.) */
export function decideProposal(s: SafetyState, header: Target): SafetyState {
  const what = `proposal ${describe(header)}`;
  requireActiveView(s, header.view, what);
  if (s.lastProposal !== null && compareRank(header, s.lastProposal) <= 0) refuse('not-increasing', `${what}: not above the last proposal ${describe(s.lastProposal)}`);
  return { ...s, lastProposal: target(header) };
}

/** May the validator time out `view`? The timeout reports the state's lock; afterwards it never votes in `view`. */
export function decideTimeout(s: SafetyState, view: number): { readonly state: SafetyState; readonly lock: Target | null } {
  requireActiveView(s, view, `timeout of view ${view}`);
  return { state: { ...s, tmoView: view }, lock: s.lock };
}

/** Entering a view (on a checked TC for view − 1, or the recovery floor): views only go up. */
export function enterView(s: SafetyState, view: number): SafetyState {
  if (view <= s.curView) refuse('view-regression', `cannot enter view ${view} from view ${s.curView}`);
  return { ...s, curView: view };
}

function target(t: Target): Target {
  return { view: t.view, height: t.height, headerHash: t.headerHash };
}
