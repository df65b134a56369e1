/**
 * The validator's signing guard (storage/safety-store.ts, docs/protocol.md §Safety state (validators)) on a real
 * LevelDB in a temporary directory: what it signed survives a restart (a reopened database), a conflicting request is
 * refused before and after it, a repeated one gets the stored bytes, and the record is on the disk before the
 * signature is handed out (a write that fails hands out nothing; one that landed is honoured after the restart).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { ZERO32, equalBytes, toHex, type Bytes } from '../src/core/bytes.ts';
import { buildCertificate, checkCertificate, encodeCertificate, type CheckedCertificate } from '../src/core/certificate.ts';
import { timeoutDigest } from '../src/core/eip712.ts';
import { headerHash, type Header } from '../src/core/header.ts';
import { Membership } from '../src/core/membership.ts';
import type { LockVoteRequest } from '../src/core/safety.ts';
import { addressFromPrivateKey, recoverAddress } from '../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, verifyVote, type VoteContext } from '../src/core/vote.ts';
import {
  LOCK_CERT_KEY, SAFETY_STATE_KEY, SafetySigner, decodeSafetyState, decodeSignedTarget, encodeSafetyState, timeoutRecordKey,
  voteRecordKey, type SafetyDatabase, type SafetyPut,
} from '../src/storage/safety-store.ts';
import { LOG_ID, patternKey, rand, SEPARATOR } from './core/helpers.ts';

const KEYS = [patternKey(0x01), patternKey(0x11), patternKey(0x12), patternKey(0x13)];
const CTX: VoteContext = { logId: LOG_ID, separator: SEPARATOR, membership: Membership.of(KEYS.map((k) => addressFromPrivateKey(k))) };
const ME = 1;

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

type Db = ClassicLevel<Bytes, Bytes>;
async function openDb(dir: string): Promise<Db> {
  const db = new ClassicLevel<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  return db;
}
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'seq-safety-'));
  dirs.push(dir);
  return dir;
}
/** Reads one key through a handle of its own (the guard's handle closed): what a restarted node finds on the disk. */
async function readBack(dir: string, key: Uint8Array): Promise<Bytes | undefined> {
  const db = await openDb(dir);
  try { return await db.get(key); } finally { await db.close(); }
}

const H = Array.from({ length: 4 }, () => rand(32));
const lockReq = (height: number, headerHash = H[height]): LockVoteRequest =>
  ({ view: 0, height, headerHash, prevHeaderHash: height === 0 ? ZERO32 : H[height - 1] });
function lockQc(height: number, headerHash = H[height]): CheckedCertificate {
  const vote = { kind: VoteKind.lock, view: 0, height, headerHash };
  return checkCertificate(CTX, buildCertificate(4, vote, new Map([0, 1, 2].map((i) => [i, signVoteUnchecked(CTX, vote, KEYS[i]).signature]))));
}
const refuses = (code: string) => ({ name: 'SafetyRuleError', code });

describe('SafetySigner on LevelDB', () => {
  test('lock(h, Y) after lock(h, X) is refused, before and after a restart; lock(h, X) again gives the same bytes', async () => {
    const dir = await freshDir();
    let db = await openDb(dir);
    let signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    const x = await signer.signLockVote(lockReq(0));
    assert.equal(verifyVote(CTX, x, ME), ME);
    await assert.rejects(signer.signLockVote(lockReq(0, rand(32))), refuses('conflict'));
    await db.close();

    const onDisk = decodeSignedTarget((await readBack(dir, voteRecordKey(VoteKind.lock, 0, 0)))!);
    assert.deepEqual([toHex(onDisk.headerHash), toHex(onDisk.signature)], [toHex(H[0]), toHex(x.signature)]);

    db = await openDb(dir);
    signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    assert.deepEqual(signer.state.lastLock, { view: 0, height: 0, headerHash: H[0] });
    await assert.rejects(signer.signLockVote(lockReq(0, rand(32))), refuses('conflict'));
    // Even a commit vote for another header at that (view, height), with a valid lock certificate, is refused.
    const other = rand(32);
    await assert.rejects(signer.signCommitVote(lockQc(0, other), other), refuses('conflict'));
    assert.equal(toHex((await signer.signLockVote(lockReq(0))).signature), toHex(x.signature));
    // And the log goes on from there.
    assert.equal(verifyVote(CTX, await signer.signLockVote(lockReq(1)), ME), ME);
    await db.close();
  });

  test('the record is on the disk, readable by another handle, before the signature is returned', async () => {
    const dir = await freshDir();
    const db = await openDb(dir);
    const key = voteRecordKey(VoteKind.lock, 0, 0);
    let seenBeforeReturn: Bytes | undefined;
    const writes: { sync: boolean; keys: string[] }[] = [];
    // After the guard's write returns, and before the guard returns, close its handle and read through another one.
    const probe: SafetyDatabase = {
      get: (k) => db.get(k),
      async batch(ops: SafetyPut[], options: { sync: boolean }) {
        writes.push({ sync: options.sync, keys: ops.map((o) => toHex(o.key)) });
        await db.batch(ops, options);
        await db.close();
        seenBeforeReturn = await readBack(dir, key);
        await db.open();
      },
    };
    const signer = await SafetySigner.open(probe, CTX, KEYS[ME]);
    const batchKey = Uint8Array.of(0x42, 0, 0, 0, 0, 0, 0, 0, 0);
    const vote = await signer.signLockVote(lockReq(0), [{ type: 'put', key: batchKey, value: Uint8Array.of(1) }]);
    assert.ok(seenBeforeReturn, 'the vote record was on the disk before signLockVote returned');
    assert.equal(toHex(decodeSignedTarget(seenBeforeReturn).signature), toHex(vote.signature));
    // One synced write holding the caller's batch record, the vote record and the state.
    assert.deepEqual(writes, [{ sync: true, keys: [toHex(batchKey), toHex(key), toHex(SAFETY_STATE_KEY)] }]);
    await db.close();
  });

  test('a crash between the synced write and the hand-out: nothing left the process, and after the restart the vote stands', async () => {
    const dir = await freshDir();
    let db = await openDb(dir);
    const crashAfterWrite: SafetyDatabase = {
      get: (k) => db.get(k),
      async batch(ops: SafetyPut[], options: { sync: boolean }) { await db.batch(ops, options); throw new Error('process killed after the write'); },
    };
    const signer = await SafetySigner.open(crashAfterWrite, CTX, KEYS[ME]);
    await assert.rejects(signer.signLockVote(lockReq(0)), /process killed/);
    await db.close();

    db = await openDb(dir);
    const restarted = await SafetySigner.open(db, CTX, KEYS[ME]);
    await assert.rejects(restarted.signLockVote(lockReq(0, rand(32))), refuses('conflict'));
    const again = await restarted.signLockVote(lockReq(0));
    const stored = decodeSignedTarget((await db.get(voteRecordKey(VoteKind.lock, 0, 0)))!);
    assert.equal(toHex(again.signature), toHex(stored.signature));
    await db.close();
  });

  test('a write that fails hands out nothing; the guard reads the state back before signing again', async () => {
    const dir = await freshDir();
    const db = await openDb(dir);
    let mode: 'ok' | 'lost' | 'landed' = 'ok';
    const flaky: SafetyDatabase = {
      get: (k) => db.get(k),
      async batch(ops: SafetyPut[], options: { sync: boolean }) {
        if (mode === 'lost') throw new Error('I/O error');
        await db.batch(ops, options);
        if (mode === 'landed') throw new Error('I/O error after the write');
      },
    };
    const signer = await SafetySigner.open(flaky, CTX, KEYS[ME]);
    await signer.signLockVote(lockReq(0));
    mode = 'lost';
    await assert.rejects(signer.signLockVote(lockReq(1)), /I\/O error/);
    assert.equal(await db.get(voteRecordKey(VoteKind.lock, 0, 1)), undefined);
    mode = 'landed';
    await assert.rejects(signer.signLockVote(lockReq(1)), /after the write/);
    mode = 'ok';
    // The write of height 1 landed although it failed: the guard must know it voted there (read back from the disk).
    await assert.rejects(signer.signLockVote(lockReq(1, rand(32))), refuses('conflict'));
    assert.equal(verifyVote(CTX, await signer.signLockVote(lockReq(2)), ME), ME);
    await db.close();
  });

  test('commit votes persist the raised lock and its certificate with the vote; group commit is one write', async () => {
    const dir = await freshDir();
    let db = await openDb(dir);
    let batches = 0;
    const counting: SafetyDatabase = { get: (k) => db.get(k), batch: (ops, o) => { batches++; return db.batch(ops, o); } };
    let signer = await SafetySigner.open(counting, CTX, KEYS[ME]);
    await signer.signLockVote(lockReq(0));
    const qc0 = lockQc(0);
    const [commit0, lock1] = await signer.signVotes([
      { kind: 'commit', certificate: qc0, storedHeaderHash: H[0] },
      { kind: 'lock', request: lockReq(1) },
    ]);
    assert.equal(batches, 2);
    assert.equal(commit0.kind, VoteKind.commit);
    assert.equal(lock1.height, 1);
    await db.close();

    assert.equal(toHex((await readBack(dir, LOCK_CERT_KEY))!), toHex(encodeCertificate(qc0)));
    const state = decodeSafetyState((await readBack(dir, SAFETY_STATE_KEY))!);
    assert.deepEqual(state.lock, { view: 0, height: 0, headerHash: H[0] });
    assert.deepEqual(state.lastCommit, { view: 0, height: 0, headerHash: H[0] });
    assert.deepEqual(state.lastLock, { view: 0, height: 1, headerHash: H[1] });

    db = await openDb(dir);
    signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    assert.equal(toHex(encodeCertificate(signer.lockCertificate!)), toHex(encodeCertificate(qc0)));
    assert.equal(toHex((await signer.signCommitVote(qc0, H[0])).signature), toHex(commit0.signature), 'a repeat gives the stored bytes');
    await assert.rejects(signer.signVotes([{ kind: 'lock', request: lockReq(2) }, { kind: 'lock', request: lockReq(2, rand(32)) }]), refuses('conflict'));
    assert.equal(await db.get(voteRecordKey(VoteKind.lock, 0, 2)), undefined, 'a refused group writes nothing');
    await db.close();
  });

  test('a vote at a new height reads no record from the disk; a repeated one reads it and returns the stored bytes', async () => {
    const db = await openDb(await freshDir());
    let reads = 0;
    const counting: SafetyDatabase = { get: (k) => { reads++; return db.get(k); }, batch: (ops, o) => db.batch(ops, o) };
    const signer = await SafetySigner.open(counting, CTX, KEYS[ME]);
    const opened = reads;
    const first = await signer.signLockVote(lockReq(0));
    await signer.signLockVote(lockReq(1));
    await signer.signCommitVote(lockQc(1), H[1]);
    assert.equal(reads - opened, 0, 'nothing can be on record above the last vote of each kind');
    const again = await signer.signLockVote(lockReq(0));
    assert.ok(reads - opened > 0, 'a request at or below the last vote looks its record up');
    assert.ok(equalBytes(again.signature, first.signature));
    await db.close();
  });

  test('concurrent conflicting requests: exactly one is signed', async () => {
    const db = await openDb(await freshDir());
    const signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    const results = await Promise.allSettled([signer.signLockVote(lockReq(0)), signer.signLockVote(lockReq(0, rand(32)))]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
    await db.close();
  });

  test('a timeout is kept: the same view again gives the stored one, no vote follows it, also after a restart', async () => {
    const dir = await freshDir();
    let db = await openDb(dir);
    let signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    await signer.signLockVote(lockReq(0));
    await signer.observeCertificate(lockQc(0));
    const t = await signer.signTimeout(0);
    assert.deepEqual(t.lock, { view: 0, height: 0, headerHash: H[0] });
    const digest = timeoutDigest(SEPARATOR, { logId: LOG_ID, membershipHash: CTX.membership.hash, view: 0, lockView: 0, lockHeight: 0, lockHash: H[0] });
    assert.ok(equalBytes(recoverAddress(digest, t.signature), CTX.membership.validators[ME]));
    await db.close();
    assert.ok(await readBack(dir, timeoutRecordKey(0)));
    assert.ok(await readBack(dir, LOCK_CERT_KEY), 'the observed lock was written with the timeout that reports it');

    db = await openDb(dir);
    signer = await SafetySigner.open(db, CTX, KEYS[ME]);
    assert.equal(toHex((await signer.signTimeout(0)).signature), toHex(t.signature));
    await assert.rejects(signer.signLockVote(lockReq(1)), refuses('timed-out'));
    await signer.enterView(1);
    await db.close();
    assert.equal(decodeSafetyState((await readBack(dir, SAFETY_STATE_KEY))!).curView, 1);
  });

  test('proposals: one header per (view, height), repeated identically, across a restart', async () => {
    const dir = await freshDir();
    const header = (prev: Bytes): Header => ({
      logId: LOG_ID, height: 0, view: 0, firstSeq: 0, count: 1, prevHeaderHash: prev, headHash: rand(32), entriesRoot: rand(32), timestamp: 1,
    });
    const h = header(ZERO32);
    let db = await openDb(dir);
    const leader = await SafetySigner.open(db, CTX, KEYS[0]);
    const signature = await leader.signProposal(h);
    assert.ok(equalBytes(recoverAddress(headerHash(SEPARATOR, h), signature), CTX.membership.validators[0]));
    await db.close();
    db = await openDb(dir);
    const restarted = await SafetySigner.open(db, CTX, KEYS[0]);
    assert.equal(toHex(await restarted.signProposal(h)), toHex(signature));
    await assert.rejects(restarted.signProposal(header(ZERO32)), refuses('conflict'));
    await db.close();
  });

  test('refuses a key outside the set, and stored signatures of another key', async () => {
    const dir = await freshDir();
    const db = await openDb(dir);
    await assert.rejects(SafetySigner.open(db, CTX, patternKey(0x04)), { name: 'SafetyStoreError' });
    await (await SafetySigner.open(db, CTX, KEYS[2])).signLockVote(lockReq(0));
    const moved = await SafetySigner.open(db, CTX, KEYS[ME]);
    await assert.rejects(moved.signLockVote(lockReq(0)), { name: 'SafetyStoreError' });
    await db.close();
  });

  test('the state record is 216 bytes and round-trips, ⊥ as zeros', () => {
    const s = { curView: 5, tmoView: 4, lock: { view: 4, height: 9, headerHash: H[0] }, lastLock: null, lastCommit: { view: 5, height: 2, headerHash: H[1] }, lastProposal: null, floorView: 3 };
    const bytes = encodeSafetyState(s);
    assert.equal(bytes.byteLength, 216);
    assert.deepEqual(decodeSafetyState(bytes), s);
    assert.deepEqual(decodeSafetyState(encodeSafetyState({ ...s, tmoView: -1 })).tmoView, -1);
  });
});
