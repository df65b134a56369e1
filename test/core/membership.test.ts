import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keccak256 } from '../../src/core/hash.ts';
import { Membership } from '../../src/core/membership.ts';
import { ALICE, BOB, MALLORY, PRIMARY, rand } from './helpers.ts';

test("today's log is the one-member case: n = 1, f = 0, quorum 1, the primary leads every view", () => {
  const m = Membership.single(PRIMARY);
  assert.deepEqual([m.n, m.f, m.quorum], [1, 0, 1]);
  for (const view of [0, 1, 7, 2 ** 40]) assert.deepEqual(m.leaderOf(view), PRIMARY);
  assert.ok(m.includes(PRIMARY));
  assert.ok(!m.includes(ALICE));
  assert.deepEqual(m.hash, keccak256(PRIMARY));
});

test('f = floor((n - 1) / 3) and quorum = ceil((n + f + 1) / 2): any two quorums share an honest validator', () => {
  const expected: [number, number, number][] = [[1, 0, 1], [2, 0, 2], [3, 0, 2], [4, 1, 3], [5, 1, 4], [6, 1, 4], [7, 2, 5], [10, 3, 7], [100, 33, 67]];
  for (const [n, f, quorum] of expected) {
    const m = Membership.of(Array.from({ length: n }, () => rand(20)));
    assert.deepEqual([m.n, m.f, m.quorum], [n, f, quorum], `n = ${n}`);
    assert.ok(2 * m.quorum - m.n >= m.f + 1, `n = ${n}: two quorums overlap in more than f validators`);
  }
});

test('leaders rotate over the set in its order, and the hash names the set and its order', () => {
  const m = Membership.of([ALICE, BOB, MALLORY]);
  assert.deepEqual([0, 1, 2, 3, 4].map((v) => m.leaderOf(v)), [ALICE, BOB, MALLORY, ALICE, BOB]);
  assert.deepEqual(m.hash, keccak256(new Uint8Array([...ALICE, ...BOB, ...MALLORY])));
  assert.notDeepEqual(Membership.of([BOB, ALICE, MALLORY]).hash, m.hash);
});

test('a membership needs distinct 20-byte addresses', () => {
  assert.throws(() => Membership.of([]), /at least one validator/);
  assert.throws(() => Membership.of([ALICE, BOB, ALICE]), /listed twice/);
  assert.throws(() => Membership.of([rand(32)]), /20 bytes/);
});
