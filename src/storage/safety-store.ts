/**
 * A validator's persisted safety state and the guard every one of its signatures goes through (docs/protocol.md
 * §Safety state (validators)). The rule is CometBFT privval's and Aptos safety-rules': nothing is signed that
 * contradicts what the key signed before, and a signature leaves the process only after the record of it, and of
 * the state change that permits it, is on the disk (one synced LevelDB write). Asked again for something already
 * signed, the guard returns the stored bytes; asked for a conflicting signature, it refuses, also after a restart.
 *
 * The records live in the log's own LevelDB database under the prefix 'V' (docs/protocol.md §Storage layout), so a
 * vote can share one synced write with the batch it is about. The guard does not own the database: it reads and
 * writes through SafetyDatabase, which a ClassicLevel instance satisfies, and takes the caller's own puts (the
 * batch records) into its write.
 *
 *   'V' "safety"                    curView u64 | tmoView+1 u64 | lock (view u64, height u64, hash[32]) | lastLock (…)
 *                                   | lastCommit (…) | lastProposal (…) | floorView u64          216 bytes; ⊥ = zeros
 *   'V' "lockcert"                  the lock's certificate (core/certificate.ts binary form)
 *   'V' 'v' kind u8 view u64 height u64   headerHash[32] | signature[65]     every vote signed, never deleted
 *   'V' 't' view u64                lockView u64 | lockHeight u64 | lockHash[32] | signature[65]   every timeout signed
 *   'V' 'p' view u64 height u64     headerHash[32] | signature[65]           every header signed as leader
 */
import { Reader, Writer, ZERO32, equalBytes, toHex, type Bytes } from '../core/bytes.ts';
import { compareRank, decodeCertificate, encodeCertificate, type Certificate, type CheckedCertificate } from '../core/certificate.ts';
import { BaseError, SafetyRuleError } from '../core/errors.ts';
import { headerHash, type Header } from '../core/header.ts';
import {
  INITIAL_SAFETY_STATE, decideCommitVote, decideLockVote, decideProposal, decideTimeout, enterView, raiseLock,
  type LockVoteRequest, type SafetyState, type Target, type VoteDecision,
} from '../core/safety.ts';
import { addressFromPrivateKey, recoverAddress, sign, SIGNATURE_BYTES } from '../core/signature.ts';
import { VoteKind, digestOfTimeout, digestOfVote, type SignedVote, type VoteContext } from '../core/vote.ts';

// ---- Layout ----

const PREFIX = 0x56; // 'V'
const VOTE_RECORD = 0x76; // 'v'
const TIMEOUT_RECORD = 0x74; // 't'
const PROPOSAL_RECORD = 0x70; // 'p'

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);
export const SAFETY_STATE_KEY: Bytes = Uint8Array.of(PREFIX, ...utf8('safety'));
export const LOCK_CERT_KEY: Bytes = Uint8Array.of(PREFIX, ...utf8('lockcert'));

export const SAFETY_STATE_BYTES = 8 + 8 + 4 * 48 + 8;
const SIGNED_TARGET_BYTES = 32 + SIGNATURE_BYTES;

export function voteRecordKey(kind: VoteKind, view: number, height: number): Bytes {
  return new Writer(19).u8(PREFIX).u8(VOTE_RECORD).u8(kind).u64(view).u64(height).finish();
}

export function timeoutRecordKey(view: number): Bytes {
  return new Writer(10).u8(PREFIX).u8(TIMEOUT_RECORD).u64(view).finish();
}

export function proposalRecordKey(view: number, height: number): Bytes {
  return new Writer(18).u8(PREFIX).u8(PROPOSAL_RECORD).u64(view).u64(height).finish();
}

function writeTarget(w: Writer, t: Target | null): void {
  if (t === null) w.u64(0).u64(0).raw(ZERO32);
  else w.u64(t.view).u64(t.height).raw(t.headerHash);
}

function readTarget(r: Reader): Target | null {
  const view = r.u64();
  const height = r.u64();
  const headerHash = Uint8Array.from(r.raw(32));
  // A header hash is never zero, so a zero hash is "none" (rank ⊥).
  return equalBytes(headerHash, ZERO32) ? null : { view, height, headerHash };
}

export function encodeSafetyState(s: SafetyState): Bytes {
  const w = new Writer(SAFETY_STATE_BYTES).u64(s.curView).u64(s.tmoView + 1);
  for (const t of [s.lock, s.lastLock, s.lastCommit, s.lastProposal]) writeTarget(w, t);
  return w.u64(s.floorView).finish();
}

export function decodeSafetyState(bytes: Uint8Array): SafetyState {
  const r = new Reader(bytes);
  const curView = r.u64();
  const tmoView = r.u64() - 1;
  const [lock, lastLock, lastCommit, lastProposal] = [readTarget(r), readTarget(r), readTarget(r), readTarget(r)];
  const floorView = r.u64();
  r.end();
  return { curView, tmoView, lock, lastLock, lastCommit, lastProposal, floorView };
}

/** The value of a vote or proposal record: what was signed (the header hash) and the signature. */
export function encodeSignedTarget(headerHash: Uint8Array, signature: Uint8Array): Bytes {
  return new Writer(SIGNED_TARGET_BYTES).raw(headerHash).raw(signature).finish();
}

export function decodeSignedTarget(bytes: Uint8Array): { headerHash: Bytes; signature: Bytes } {
  const r = new Reader(bytes);
  const value = { headerHash: Uint8Array.from(r.raw(32)), signature: Uint8Array.from(r.raw(SIGNATURE_BYTES)) };
  r.end();
  return value;
}

export interface SignedTimeout {
  readonly view: number;
  /** The signer's lock when it signed; null for ⊥ (zeros in the signed struct). */
  readonly lock: Target | null;
  readonly signature: Bytes;
}

function encodeTimeoutRecord(t: SignedTimeout): Bytes {
  const w = new Writer(48 + SIGNATURE_BYTES);
  writeTarget(w, t.lock);
  return w.raw(t.signature).finish();
}

function decodeTimeoutRecord(view: number, bytes: Uint8Array): SignedTimeout {
  const r = new Reader(bytes);
  const lock = readTarget(r);
  const signature = Uint8Array.from(r.raw(SIGNATURE_BYTES));
  r.end();
  return { view, lock, signature };
}

// ---- The database seam ----

export interface SafetyPut {
  readonly type: 'put';
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * What the guard needs of the node's LevelDB: point reads, and atomic writes with `sync: true`. A ClassicLevel
 * opened with `view` encodings satisfies it; the log store will hand the guard a wrapper that also routes failures
 * through its storage-fault handling.
 */
export interface SafetyDatabase {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  batch(operations: SafetyPut[], options: { sync: boolean }): Promise<void>;
}

/** The safety records cannot be used: corrupt, or made with another key (a store moved between validators). */
export class SafetyStoreError extends BaseError {
  override name = 'SafetyStoreError';
}

// ---- The guard ----

/** Performs one synced write of `records` (the log store's, when a vote shares the write of its batch). */
export type SyncedWrite = (records: readonly SafetyPut[]) => Promise<void>;

export interface SignOptions {
  /** Performs the write instead of the guard's database (same records, same synced write). */
  readonly write?: SyncedWrite;
  /**
   * Called for each vote the rules refuse, which is then skipped (not signed) while the others are signed and
   * written: a batch must still be stored when a vote on it is not allowed. Without it a refusal refuses the call.
   */
  readonly onRefused?: (e: SafetyRuleError) => void;
}

/** One vote to sign: a lock vote on a stored header, or a commit vote on a checked lock certificate. */
export type VoteRequest =
  | { readonly kind: 'lock'; readonly request: LockVoteRequest }
  | { readonly kind: 'commit'; readonly certificate: CheckedCertificate; readonly storedHeaderHash: Bytes };

export class SafetySigner {
  private readonly db: SafetyDatabase;
  private readonly ctx: VoteContext;
  private readonly privateKey: Bytes;
  readonly address: Bytes;
  private current: SafetyState;
  private lockCert: Certificate | undefined;
  /** The lock rose in memory (a certificate observed) and is not yet on the disk. */
  private lockDirty = false;
  /** A write failed: it may or may not be on the disk, so the state is read back before anything else is signed. */
  private stale = false;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(db: SafetyDatabase, ctx: VoteContext, privateKey: Bytes, state: SafetyState, lockCert: Certificate | undefined) {
    this.db = db;
    this.ctx = ctx;
    this.privateKey = privateKey;
    this.address = addressFromPrivateKey(privateKey);
    this.current = state;
    this.lockCert = lockCert;
  }

  /** Reads the state back (INITIAL_SAFETY_STATE for a store that never signed). The key must be a validator's. */
  static async open(db: SafetyDatabase, ctx: VoteContext, privateKey: Uint8Array): Promise<SafetySigner> {
    const key = Uint8Array.from(privateKey);
    if (!ctx.membership.includes(addressFromPrivateKey(key))) {
      throw new SafetyStoreError(`${toHex(addressFromPrivateKey(key))} is not a validator of this log`);
    }
    const { state, lockCert } = await readState(db);
    return new SafetySigner(db, ctx, key, state, lockCert);
  }

  /** The state as persisted, plus any lock raised since (persisted with the next write). */
  get state(): SafetyState {
    return this.current;
  }

  /** The certificate of the current lock, if any. */
  get lockCertificate(): Certificate | undefined {
    return this.lockCert;
  }

  /** Runs `op` after every earlier call: two requests never judge the same state and both write. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.stale) {
        ({ state: this.current, lockCert: this.lockCert } = await readState(this.db));
        this.lockDirty = false;
        this.stale = false;
      }
      return op();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes the state change and the records together, synced (by `write` when the caller performs the write, e.g.
   * the log store writing a batch with its lock votes); only then does the caller hand out a signature.
   */
  private async persist(
    state: SafetyState, lockCert: Certificate | undefined, records: SafetyPut[], extra: readonly SafetyPut[], write?: SyncedWrite,
  ): Promise<void> {
    const lockChanged = lockCert !== this.lockCert || this.lockDirty;
    const ops: SafetyPut[] = [...extra, ...records, { type: 'put', key: SAFETY_STATE_KEY, value: encodeSafetyState(state) }];
    if (lockChanged && lockCert !== undefined) ops.push({ type: 'put', key: LOCK_CERT_KEY, value: encodeCertificate(lockCert) });
    try {
      await (write ? write(ops) : this.db.batch(ops, { sync: true }));
    } catch (e) {
      this.stale = true;
      throw e;
    }
    this.current = state;
    this.lockCert = lockCert;
    this.lockDirty = false;
  }

  /** A stored signature handed out again: it must be this key's (a store of another validator is refused). */
  private reuse(digest: Bytes, signature: Bytes): Bytes {
    let signer: Bytes | undefined;
    try { signer = recoverAddress(digest, signature); } catch { signer = undefined; }
    if (signer === undefined || !equalBytes(signer, this.address)) throw new SafetyStoreError('a stored signature is not by this validator key');
    return signature;
  }

  /** One lock vote: rules, one synced write with `extra` (the batch it is about), then the signature. */
  async signLockVote(request: LockVoteRequest, extra: readonly SafetyPut[] = []): Promise<SignedVote> {
    return (await this.signVotes([{ kind: 'lock', request }], extra))[0];
  }

  async signCommitVote(certificate: CheckedCertificate, storedHeaderHash: Bytes, extra: readonly SafetyPut[] = []): Promise<SignedVote> {
    return (await this.signVotes([{ kind: 'commit', certificate, storedHeaderHash }], extra))[0];
  }

  /**
   * Signs several votes with one synced write (votes of one event-loop turn: commit(h) and lock(h+1) under load).
   * A vote already signed, for the same header, comes back as stored; any vote the rules refuse refuses the whole
   * call, and nothing is written or signed.
   */
  signVotes(requests: readonly VoteRequest[], extra: readonly SafetyPut[] = [], options: SignOptions = {}): Promise<SignedVote[]> {
    return this.serial(async () => {
      let state = this.current;
      let lockCert = this.lockCert;
      const pending = new Map<string, Bytes>();
      const records: SafetyPut[] = [];
      const out: SignedVote[] = [];
      for (const r of requests) {
        const t: Target = r.kind === 'lock' ? r.request : r.certificate;
        const kind = r.kind === 'lock' ? VoteKind.lock : VoteKind.commit;
        const vote = { kind, view: t.view, height: t.height, headerHash: t.headerHash };
        const digest = digestOfVote(this.ctx, vote);
        const stored = await this.signedVoteAt(state, pending, kind, t);
        if (stored !== undefined && equalBytes(stored.headerHash, t.headerHash)) {
          out.push({ ...vote, signature: this.reuse(digest, stored.signature) });
          continue;
        }
        let decision: VoteDecision;
        try {
          const other = await this.votedHeaderAt(state, pending, kind === VoteKind.lock ? VoteKind.commit : VoteKind.lock, t);
          for (const previous of [stored, other]) {
            if (previous !== undefined && !equalBytes(previous.headerHash, t.headerHash)) {
              throw new SafetyRuleError('conflict', `a vote for ${toHex(t.headerHash)} at (${t.view}, ${t.height}) conflicts with the signed vote for ${toHex(previous.headerHash)}`);
            }
          }
          decision = r.kind === 'lock' ? decideLockVote(state, r.request) : decideCommitVote(state, r.certificate, r.storedHeaderHash);
        } catch (e) {
          if (!(e instanceof SafetyRuleError) || !options.onRefused) throw e;
          options.onRefused(e);
          continue;
        }
        if (r.kind === 'commit' && decision.state.lock !== state.lock) lockCert = r.certificate;
        state = decision.state;
        // Made now because the record keeps it (a repeat must return these very bytes), but held in memory: it is
        // returned only after the write below is synced, so no one sees a signature the disk does not know.
        const signature = sign(digest, this.privateKey);
        const key = voteRecordKey(kind, t.view, t.height);
        const value = encodeSignedTarget(t.headerHash, signature);
        pending.set(toHex(key), value);
        records.push({ type: 'put', key, value });
        out.push({ ...vote, signature });
      }
      if (records.length > 0 || extra.length > 0) await this.persist(state, lockCert, records, extra, options.write);
      return out;
    });
  }

  /**
   * The vote of `kind` this key signed at t's (view, height), if any. Votes of a kind are signed at strictly rising
   * ranks and the state's last vote of that kind is the highest (rules L5, C4; written in the same synced write as the
   * record), so above it there is none and the disk is not asked: the common case, a new height, reads nothing.
   */
  private signedVoteAt(state: SafetyState, pending: Map<string, Bytes>, kind: VoteKind, t: Target): Promise<{ headerHash: Bytes; signature: Bytes } | undefined> {
    const last = kind === VoteKind.lock ? state.lastLock : state.lastCommit;
    if (last === null || compareRank(t, last) > 0) return Promise.resolve(undefined);
    return this.signedTarget(pending, voteRecordKey(kind, t.view, t.height));
  }

  /**
   * The header this key voted with `kind` at t's (view, height), if any: as signedVoteAt, and at the very rank of the
   * last vote of that kind the state says which header without reading the record (a commit vote at the height of
   * the last lock vote: the common case).
   */
  private async votedHeaderAt(state: SafetyState, pending: Map<string, Bytes>, kind: VoteKind, t: Target): Promise<{ headerHash: Bytes } | undefined> {
    const last = kind === VoteKind.lock ? state.lastLock : state.lastCommit;
    if (last !== null && compareRank(t, last) === 0 && !pending.has(toHex(voteRecordKey(kind, t.view, t.height)))) {
      // lastLock may also be a recovery floor with no record (startAfter): its header is still the one at that height.
      return { headerHash: last.headerHash };
    }
    return this.signedVoteAt(state, pending, kind, t);
  }

  private async signedTarget(pending: Map<string, Bytes>, key: Bytes): Promise<{ headerHash: Bytes; signature: Bytes } | undefined> {
    const value = pending.get(toHex(key)) ?? await this.db.get(key);
    if (value === undefined) return undefined;
    try {
      return decodeSignedTarget(value);
    } catch (e) {
      throw new SafetyStoreError(`corrupt safety record ${toHex(key)}`, { cause: e });
    }
  }

  /**
   * The leader's signature on a header it proposes (leader rule), written with `extra` (the batch records) in one
   * synced write. The same header again gives the stored signature; another header at its (view, height) is refused.
   */
  signProposal(header: Header, extra: readonly SafetyPut[] = []): Promise<Bytes> {
    return this.serial(async () => {
      const hash = headerHash(this.ctx.separator, header);
      const key = proposalRecordKey(header.view, header.height);
      const stored = await this.signedTarget(new Map(), key);
      if (stored !== undefined) {
        if (equalBytes(stored.headerHash, hash)) return this.reuse(hash, stored.signature);
        throw new SafetyRuleError('conflict', `header ${toHex(hash)} at (${header.view}, ${header.height}) conflicts with the signed header ${toHex(stored.headerHash)}`);
      }
      const state = decideProposal(this.current, { view: header.view, height: header.height, headerHash: hash });
      const signature = sign(hash, this.privateKey);
      await this.persist(state, this.lockCert, [{ type: 'put', key, value: encodeSignedTarget(hash, signature) }], extra);
      return signature;
    });
  }

  /** Times out `view`, reporting the current lock; the same view again gives the stored timeout. */
  signTimeout(view: number): Promise<SignedTimeout> {
    return this.serial(async () => {
      const key = timeoutRecordKey(view);
      const stored = await this.db.get(key);
      if (stored !== undefined) {
        let t: SignedTimeout;
        try { t = decodeTimeoutRecord(view, stored); } catch (e) { throw new SafetyStoreError(`corrupt timeout record of view ${view}`, { cause: e }); }
        this.reuse(digestOfTimeout(this.ctx, view, t.lock), t.signature);
        return t;
      }
      const decision = decideTimeout(this.current, view);
      const timeout = { view, lock: decision.lock, signature: sign(digestOfTimeout(this.ctx, view, decision.lock), this.privateKey) };
      await this.persist(decision.state, this.lockCert, [{ type: 'put', key, value: encodeTimeoutRecord(timeout) }], []);
      return timeout;
    });
  }

  /**
   * For a key with no lock vote on record here whose store already holds the log up to `tip` (a replica made a
   * validator, or a store that predates its votes): its lock votes start at the height after `tip`, as if it had
   * voted up to it (docs/protocol.md §Safety state, height floor). Persisted synced. Does nothing once it has voted.
   */
  startAfter(tip: Target): Promise<void> {
    return this.serial(async () => {
      if (this.current.lastLock !== null) return;
      await this.persist({ ...this.current, lastLock: { view: tip.view, height: tip.height, headerHash: tip.headerHash } }, this.lockCert, [], []);
    });
  }

  /**
   * For a key recovering from a lost store: it timed out `view` before (peers saw the timeout), so it signs no
   * timeout and no vote in `view` or below again (raises `tmoView`; persisted synced). Never lowers it.
   */
  recoverTimedOut(view: number): Promise<void> {
    return this.serial(async () => {
      if (view <= this.current.tmoView) return;
      await this.persist({ ...this.current, tmoView: view }, this.lockCert, [], []);
    });
  }

  /** Enters `view` (after the caller checked TC(view − 1)), persisted synced. */
  enterView(view: number): Promise<void> {
    return this.serial(() => this.persist(enterView(this.current, view), this.lockCert, [], []));
  }

  /**
   * Raises the lock to a checked certificate for a header the caller stores. In memory only: it is persisted with
   * the next write, which is always before any commit vote or timeout that reports it (docs/protocol.md C3).
   */
  observeCertificate(cert: CheckedCertificate): Promise<void> {
    return this.serial(async () => {
      const state = raiseLock(this.current, cert);
      if (state === this.current) return;
      this.current = state;
      this.lockCert = cert;
      this.lockDirty = true;
    });
  }
}

async function readState(db: SafetyDatabase): Promise<{ state: SafetyState; lockCert: Certificate | undefined }> {
  const [stateBytes, certBytes] = [await db.get(SAFETY_STATE_KEY), await db.get(LOCK_CERT_KEY)];
  try {
    const state = stateBytes === undefined ? INITIAL_SAFETY_STATE : decodeSafetyState(stateBytes);
    const lockCert = certBytes === undefined ? undefined : decodeCertificate(certBytes);
    return { state, lockCert };
  } catch (e) {
    throw new SafetyStoreError('corrupt safety state record', { cause: e });
  }
}
