/** The voting rules (core/safety.ts, docs/protocol.md §Safety state (validators)): one table row per rule. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ZERO32, type Bytes } from '../../src/core/bytes.ts';
import { buildCertificate, checkCertificate, type CheckedCertificate } from '../../src/core/certificate.ts';
import { Membership } from '../../src/core/membership.ts';
import {
  INITIAL_SAFETY_STATE, decideCommitVote, decideLockVote, decideProposal, decideTimeout, enterView, raiseLock,
  type LockVoteRequest, type SafetyState, type Target,
} from '../../src/core/safety.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type VoteContext } from '../../src/core/vote.ts';
import { LOG_ID, patternKey, rand, SEPARATOR } from './helpers.ts';

const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))) };

/** A chain of header hashes of view 0: H[h] at height h. */
const H: Bytes[] = Array.from({ length: 6 }, () => rand(32));
const lockReq = (height: number, over: Partial<LockVoteRequest> = {}): LockVoteRequest =>
  ({ view: 0, height, headerHash: H[height], prevHeaderHash: height === 0 ? ZERO32 : H[height - 1], ...over });
const at = (view: number, height: number, headerHash: Bytes): Target => ({ view, height, headerHash });
function qcOf(kind: VoteKind, t: Target): CheckedCertificate {
  const vote = { kind, ...t };
  return checkCertificate(CTX, buildCertificate(4, vote, new Map([0, 1, 2].map((i) => [i, signVoteUnchecked(CTX, vote, KEYS[i]).signature]))));
}
/** The state after lock-voting heights 0..h of view 0. */
function lockedUpTo(h: number): SafetyState {
  let s = INITIAL_SAFETY_STATE;
  for (let i = 0; i <= h; i++) s = decideLockVote(s, lockReq(i)).state;
  return s;
}
const refuses = (code: string, fn: () => unknown): void => { assert.throws(fn, { name: 'SafetyRuleError', code }); };

describe('lock votes (L1, L3, L4, L5)', () => {
  test('a fresh validator votes height 0 of view 0, then each next height on its parent', () => {
    const d0 = decideLockVote(INITIAL_SAFETY_STATE, lockReq(0));
    assert.deepEqual(d0.vote, { kind: VoteKind.lock, view: 0, height: 0, headerHash: H[0] });
    assert.deepEqual(d0.state.lastLock, at(0, 0, H[0]));
    assert.equal(INITIAL_SAFETY_STATE.lastLock, null, 'the input state is not changed');
    assert.deepEqual(decideLockVote(d0.state, lockReq(1)).state.lastLock, at(0, 1, H[1]));
  });

  const rows: [string, string, SafetyState, LockVoteRequest][] = [
    ['L1 another view than the current one', 'wrong-view', lockedUpTo(1), lockReq(2, { view: 1 })],
    ['L1 a view already timed out', 'timed-out', { ...lockedUpTo(1), tmoView: 0 }, lockReq(2)],
    ['L1 a view below the recovery floor', 'below-floor', { ...lockedUpTo(1), floorView: 1 }, lockReq(2)],
    ['L5 the same height again, another header (lock(h, Y) after lock(h, X))', 'conflict', lockedUpTo(2), lockReq(2, { headerHash: rand(32) })],
    ['L5 the same height again, the same header (a repeat is the store\'s job, not a new vote)', 'not-increasing', lockedUpTo(2), lockReq(2)],
    ['L5 a lower height', 'not-increasing', lockedUpTo(3), lockReq(1)],
    ['L5 a gap in the heights', 'not-consecutive', lockedUpTo(1), lockReq(3)],
    ['L4 a header whose parent is not the one voted at h - 1', 'fork', lockedUpTo(1), lockReq(2, { prevHeaderHash: rand(32) })],
    ['L3 a first vote of view 0 above height 0', 'unjustified', INITIAL_SAFETY_STATE, lockReq(1)],
    ['L3 a first vote of view 0 at height 0 with a parent', 'unjustified', INITIAL_SAFETY_STATE, lockReq(0, { prevHeaderHash: rand(32) })],
    ['L3 a first vote of view 1 without TC(0)', 'unjustified', { ...lockedUpTo(2), curView: 1 }, lockReq(3, { view: 1 })],
    ['L3 a first vote of view 2 with TC(0)', 'unjustified', { ...lockedUpTo(2), curView: 2 },
      lockReq(3, { view: 2, viewEntry: { tcView: 0, highLock: at(0, 2, H[2]), reproposal: false } })],
    ['L3 a view-1 header that skips the TC\'s highest lock', 'unjustified', { ...lockedUpTo(2), curView: 1 },
      lockReq(3, { view: 1, viewEntry: { tcView: 0, highLock: at(0, 1, H[1]), reproposal: false } })],
    ['L3 a view-1 re-proposal at another height than the highest lock', 'unjustified', { ...lockedUpTo(2), curView: 1 },
      lockReq(2, { view: 1, viewEntry: { tcView: 0, highLock: at(0, 1, H[1]), reproposal: true } })],
    ['L3 a re-proposal of ⊥', 'unjustified', { ...lockedUpTo(2), curView: 1 },
      lockReq(0, { view: 1, viewEntry: { tcView: 0, highLock: null, reproposal: true } })],
  ];
  for (const [name, code, state, req] of rows) {
    test(`refuses: ${name} (${code})`, () => refuses(code, () => decideLockVote(state, req)));
  }

  test('L3 allows the first header of view 1 to extend or re-propose TC.highLock, even below its own lock', () => {
    const s = { ...lockedUpTo(3), curView: 1 };
    const high = at(0, 1, H[1]);
    const extend = decideLockVote(s, lockReq(2, { view: 1, headerHash: rand(32), viewEntry: { tcView: 0, highLock: high, reproposal: false } }));
    assert.equal(extend.state.lastLock?.view, 1);
    const repropose = decideLockVote(s, { view: 1, height: 1, headerHash: rand(32), prevHeaderHash: H[0], viewEntry: { tcView: 0, highLock: high, reproposal: true } });
    assert.equal(repropose.state.lastLock?.height, 1);
    const fromBottom = decideLockVote(s, lockReq(0, { view: 1, headerHash: rand(32), viewEntry: { tcView: 0, highLock: null, reproposal: false } }));
    assert.equal(fromBottom.state.lastLock?.height, 0);
  });
});

describe('commit votes (C1-C4)', () => {
  test('commits a stored header with a lock certificate and raises the lock to it (C3)', () => {
    const s = lockedUpTo(2);
    const d = decideCommitVote(s, qcOf(VoteKind.lock, at(0, 2, H[2])), H[2]);
    assert.deepEqual(d.vote, { kind: VoteKind.commit, view: 0, height: 2, headerHash: H[2] });
    assert.deepEqual(d.state.lastCommit, at(0, 2, H[2]));
    assert.deepEqual(d.state.lock, at(0, 2, H[2]));
    // A lower commit later (a certificate that arrived late) does not lower the lock.
    const lower = decideCommitVote({ ...d.state, lastCommit: null }, qcOf(VoteKind.lock, at(0, 1, H[1])), H[1]);
    assert.deepEqual(lower.state.lock, at(0, 2, H[2]));
  });

  const s = lockedUpTo(2);
  const rows: [string, string, () => unknown][] = [
    ['C2 a commit certificate instead of a lock certificate', 'not-locked', () => decideCommitVote(s, qcOf(VoteKind.commit, at(0, 2, H[2])), H[2])],
    ['C2 a header it does not store at that height', 'not-stored', () => decideCommitVote(s, qcOf(VoteKind.lock, at(0, 2, H[2])), rand(32))],
    ['C1 another view', 'wrong-view', () => decideCommitVote({ ...s, curView: 1 }, qcOf(VoteKind.lock, at(0, 2, H[2])), H[2])],
    ['C1 a view timed out', 'timed-out', () => decideCommitVote({ ...s, tmoView: 0 }, qcOf(VoteKind.lock, at(0, 2, H[2])), H[2])],
    ['C4 not above the last commit vote', 'not-increasing', () => decideCommitVote({ ...s, lastCommit: at(0, 2, H[2]) }, qcOf(VoteKind.lock, at(0, 1, H[1])), H[1])],
    ['a commit for another header than its lock vote at that (view, height)', 'conflict', () => {
      const other = rand(32);
      return decideCommitVote(s, qcOf(VoteKind.lock, at(0, 2, other)), other);
    }],
  ];
  for (const [name, code, fn] of rows) test(`refuses: ${name} (${code})`, () => refuses(code, fn));

  test('a lock vote for another header than its commit vote at that (view, height) is refused', () => {
    const committed = decideCommitVote({ ...INITIAL_SAFETY_STATE }, qcOf(VoteKind.lock, at(0, 0, H[0])), H[0]).state;
    refuses('conflict', () => decideLockVote(committed, lockReq(0, { headerHash: rand(32) })));
  });
});

describe('locks, timeouts, views, proposals', () => {
  test('raiseLock keeps the highest-ranked certificate of either kind', () => {
    const s1 = raiseLock(INITIAL_SAFETY_STATE, qcOf(VoteKind.lock, at(0, 3, H[3])));
    assert.deepEqual(s1.lock, at(0, 3, H[3]));
    assert.equal(raiseLock(s1, qcOf(VoteKind.commit, at(0, 2, H[2]))), s1);
    assert.deepEqual(raiseLock(s1, qcOf(VoteKind.commit, at(1, 0, H[0]))).lock, at(1, 0, H[0]));
  });

  test('a timeout reports the lock and ends voting in its view; views only go up', () => {
    const s = raiseLock(lockedUpTo(2), qcOf(VoteKind.lock, at(0, 2, H[2])));
    const t = decideTimeout(s, 0);
    assert.deepEqual(t.lock, at(0, 2, H[2]));
    assert.equal(t.state.tmoView, 0);
    refuses('timed-out', () => decideLockVote(t.state, lockReq(3)));
    refuses('timed-out', () => decideTimeout(t.state, 0));
    refuses('wrong-view', () => decideTimeout(s, 1));
    const v1 = enterView(t.state, 1);
    assert.equal(v1.curView, 1);
    refuses('view-regression', () => enterView(v1, 1));
    refuses('view-regression', () => enterView(v1, 0));
  });

  test('proposals: one per (view, height), increasing, only in an active view', () => {
    const p = decideProposal(INITIAL_SAFETY_STATE, at(0, 0, H[0]));
    assert.deepEqual(p.lastProposal, at(0, 0, H[0]));
    refuses('not-increasing', () => decideProposal(p, at(0, 0, rand(32))));
    assert.equal(decideProposal(p, at(0, 1, H[1])).lastProposal?.height, 1);
    refuses('timed-out', () => decideProposal({ ...p, tmoView: 0 }, at(0, 1, H[1])));
  });
});
