/** Counting votes into certificates (core/vote-tally.ts, docs/protocol.md §Finality, counting). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toHex } from '../../src/core/bytes.ts';
import { checkCertificate, signerIndices } from '../../src/core/certificate.ts';
import { Membership } from '../../src/core/membership.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type SignedVote, type Vote, type VoteContext } from '../../src/core/vote.ts';
import { VoteTally } from '../../src/core/vote-tally.ts';
import { LOG_ID, patternKey, rand, SEPARATOR } from './helpers.ts';

const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))) };
const vote = (height: number, headerHash = rand(32), kind: VoteKind = VoteKind.lock): Vote => ({ kind, view: 0, height, headerHash });
const signed = (i: number, v: Vote): SignedVote => signVoteUnchecked(CTX, v, KEYS[i]);

test('a quorum of votes on one target makes one certificate, which checkCertificate accepts; more votes add nothing', () => {
  const tally = new VoteTally(CTX.membership, -1, 16);
  const v = vote(0);
  assert.deepEqual(tally.add(2, signed(2, v)), { kind: 'counted' });
  assert.deepEqual(tally.add(2, signed(2, v)), { kind: 'duplicate' }, 'the same vote again');
  assert.deepEqual(tally.add(0, signed(0, v)), { kind: 'counted' });
  const third = tally.add(3, signed(3, v));
  assert.equal(third.kind, 'counted');
  assert.ok(third.kind === 'counted' && third.certificate);
  const cert = third.certificate!;
  assert.deepEqual(signerIndices(cert.signers), [0, 2, 3]);
  checkCertificate(CTX, cert);
  assert.equal(tally.wants(1, v), false, 'a fourth vote after the certificate is not worth verifying');
  assert.deepEqual(tally.add(1, signed(1, v)), { kind: 'duplicate' }, 'a fourth vote after the certificate');
});

test('votes for different headers at one height are counted apart; kinds are separate slots', () => {
  const tally = new VoteTally(CTX.membership, -1, 16);
  const [a, b] = [vote(5), vote(5)];
  tally.add(0, signed(0, a));
  tally.add(1, signed(1, b));
  tally.add(2, signed(2, a));
  assert.deepEqual(tally.votersOf(a).sort(), [0, 2]);
  assert.deepEqual(tally.votersOf(b), [1]);
  // Validator 0's commit vote on a is another slot than its lock vote: counted, not a conflict.
  assert.equal(tally.add(0, signed(0, { ...a, kind: VoteKind.commit })).kind, 'counted');
});

test('a validator voting two headers at one slot is caught once, with both votes; after that it is not news, and neither vote counts twice', () => {
  const tally = new VoteTally(CTX.membership, -1, 16);
  const [a, b, c] = [vote(3), vote(3), vote(3)];
  const first = signed(1, a);
  tally.add(1, first);
  assert.equal(tally.wants(1, b), true, 'a second header is evidence');
  const outcome = tally.add(1, signed(1, b));
  assert.equal(outcome.kind, 'conflict');
  assert.ok(outcome.kind === 'conflict');
  assert.equal(toHex(outcome.first.headerHash), toHex(a.headerHash));
  assert.equal(toHex(outcome.second.headerHash), toHex(b.headerHash));
  assert.deepEqual(tally.votersOf(b), [], 'the second vote is not counted');
  assert.equal(tally.wants(1, c), false, 'a third header from a validator already caught is not verified again');
  assert.deepEqual(tally.add(1, signed(1, c)), { kind: 'duplicate' });
  assert.equal(tally.wants(2, c), true, 'others still count');
});

test('only heights in (floor, floor + window] are kept; raising the floor forgets what is at or below it', () => {
  const tally = new VoteTally(CTX.membership, 9, 4);
  assert.deepEqual(tally.add(0, signed(0, vote(9))), { kind: 'out-of-window' });
  assert.deepEqual(tally.add(0, signed(0, vote(14))), { kind: 'out-of-window' });
  assert.equal(tally.wants(0, vote(14)), false);
  const v = vote(13);
  tally.add(0, signed(0, v));
  tally.add(1, signed(1, vote(11)));
  assert.equal(tally.size, 2);
  tally.raiseFloor(11);
  assert.equal(tally.size, 1, 'height 11 forgotten, 13 kept');
  assert.deepEqual(tally.votersOf(v), [0]);
  assert.equal(tally.add(2, signed(2, vote(15))).kind, 'counted', 'the window moved up with the floor');
});
