/**
 * The `proofs` vectors of docs/test-vectors.json (docs/protocol.md §Equivocation proofs, kinds 3-6), built by
 * scripts/gen-vectors.ts: one proof of each kind by the finality vectors' validators over batches 0 and 1, with its
 * JSON, statement digests, proof id and contract calldata; and honest pairs that no judge may turn into a proof.
 * test/core/vote-proofs.test.ts checks them.
 */
import { toHex, type Bytes } from '../src/core/bytes.ts';
import { keccak256 } from '../src/core/hash.ts';
import { headerHash, type Header } from '../src/core/header.ts';
import { Membership } from '../src/core/membership.ts';
import { addressFromPrivateKey, sign } from '../src/core/signature.ts';
import { VoteKind, signVoteUnchecked, type LockRef, type SignedVote, type Vote, type VoteContext } from '../src/core/vote.ts';
import {
  digestOfProofTimeout, judgeLockLie, judgeTimeoutConflict, judgeVoteConflict, judgeVoteFork, voteProofDigests, voteProofId,
  type SignedTimeout, type VoteProof,
} from '../src/core/vote-proofs.ts';
import { headerToJson } from '../src/wire/json.ts';
import { signedTimeoutToJson, signedVoteToJson, voteProofToJson, type VoteProofScope } from '../src/wire/vote-proof-json.ts';
import { encodeVoteSlashCalldata } from '../src/chain/vote-slashing.ts';

const utf8 = (s: string): Bytes => new TextEncoder().encode(s);

export interface VoteProofVectorInput {
  readonly chainId: number;
  readonly logId: Bytes;
  readonly separator: Bytes;
  /** The finality vectors' validator keys, in set order. */
  readonly validatorKeys: readonly Bytes[];
  /** batches[0] and batches[1] of the vectors (heights 0 and 1 of view 0). */
  readonly batch0: Header;
  readonly batch1: Header;
}

export function buildVoteProofVectors(input: VoteProofVectorInput): Record<string, unknown> {
  const membership = Membership.of(input.validatorKeys.map((k) => addressFromPrivateKey(k)));
  const ctx: VoteContext = { logId: input.logId, separator: input.separator, membership };
  const scope: VoteProofScope = { chainId: input.chainId, logId: input.logId, membershipHash: membership.hash };
  const hash0 = headerHash(input.separator, input.batch0);
  const hash1 = headerHash(input.separator, input.batch1);
  /** A header hash at height 0 that is not batch 0's: what a double-voting validator voted for besides it. */
  const other0 = keccak256(utf8('another header at height 0'));
  /** batch 0 re-proposed in view 1 (docs/design/replication.md §5.3): its own hash, the same content. */
  const reproposal = { ...input.batch0, view: 1 };
  const reproposalHash = headerHash(input.separator, reproposal);

  const vote = (validator: number, kind: VoteKind, view: number, height: number, headerHash_: Bytes): SignedVote =>
    signVoteUnchecked(ctx, { kind, view, height, headerHash: headerHash_ } satisfies Vote, input.validatorKeys[validator]);
  const timeout = (validator: number, view: number, lock: LockRef | null): SignedTimeout =>
    ({ view, lock, signature: sign(digestOfProofTimeout(ctx, { view, lock }), input.validatorKeys[validator]) });
  const lock0: LockRef = { view: 0, height: 0, headerHash: hash0 };

  const proofs: { name: string; signerIndex: number; proof: VoteProof | null }[] = [
    {
      name: 'vote-conflict: validator 1 lock-voted batch 0 and another header at (view 0, height 0)', signerIndex: 1,
      proof: judgeVoteConflict(ctx, 1, vote(1, VoteKind.lock, 0, 0, hash0), vote(1, VoteKind.lock, 0, 0, other0)),
    },
    {
      name: 'vote-fork: validator 2 lock-voted another header at height 0, then batch 1 (whose parent is batch 0) at height 1', signerIndex: 2,
      proof: judgeVoteFork(ctx, 2, vote(2, VoteKind.lock, 0, 0, other0), vote(2, VoteKind.lock, 0, 1, hash1), input.batch1),
    },
    {
      name: 'lock-lie: validator 3 commit-voted batch 0, then timed out view 0 reporting no lock', signerIndex: 3,
      proof: judgeLockLie(ctx, 3, vote(3, VoteKind.commit, 0, 0, hash0), timeout(3, 0, null)),
    },
    {
      name: 'timeout-conflict: validator 1 timed out view 0 twice, with no lock and with the lock of batch 0', signerIndex: 1,
      proof: judgeTimeoutConflict(ctx, 1, timeout(1, 0, null), timeout(1, 0, lock0)),
    },
  ];
  const valid = proofs.map(({ name, signerIndex, proof }) => {
    if (!proof) throw new Error(`vector "${name}" is not a proof`);
    const json = voteProofToJson(scope, proof);
    return {
      name, signerIndex, json, digests: voteProofDigests(ctx, proof).map(toHex), proofId: toHex(voteProofId(ctx, proof)),
      calldata: encodeVoteSlashCalldata(json),
    };
  });

  const v = (s: SignedVote) => signedVoteToJson(scope, s);
  const t = (s: SignedTimeout) => signedTimeoutToJson(scope, s);
  const honest = [
    {
      name: 'lock votes of validator 1 on batch 0 and on its view-1 re-proposal (same height, different views)', judge: 'vote-conflict', signerIndex: 1,
      a: v(vote(1, VoteKind.lock, 0, 0, hash0)), b: v(vote(1, VoteKind.lock, 1, 0, reproposalHash)),
    },
    {
      name: 'a commit vote of view 0 and a lock vote of view 2 at height 0 for different headers', judge: 'vote-conflict', signerIndex: 1,
      a: v(vote(1, VoteKind.commit, 0, 0, hash0)), b: v(vote(1, VoteKind.lock, 2, 0, other0)),
    },
    {
      name: 'lock and commit vote on the same header', judge: 'vote-conflict', signerIndex: 1,
      a: v(vote(1, VoteKind.lock, 0, 0, hash0)), b: v(vote(1, VoteKind.commit, 0, 0, hash0)),
    },
    {
      name: 'lock votes on batch 0 and batch 1, which extends it', judge: 'vote-fork', signerIndex: 2,
      a: v(vote(2, VoteKind.lock, 0, 0, hash0)), b: v(vote(2, VoteKind.lock, 0, 1, hash1)), child: headerToJson(input.batch1),
    },
    {
      name: 'a commit vote on the view-1 re-proposal and a timeout of view 0 (earlier) with no lock', judge: 'lock-lie', signerIndex: 3,
      a: v(vote(3, VoteKind.commit, 1, 0, reproposalHash)), b: t(timeout(3, 0, null)),
    },
    {
      name: 'a commit vote on batch 0 and a timeout of view 0 reporting that very lock', judge: 'lock-lie', signerIndex: 3,
      a: v(vote(3, VoteKind.commit, 0, 0, hash0)), b: t(timeout(3, 0, lock0)),
    },
    {
      name: 'timeouts of views 0 and 1 with different locks', judge: 'timeout-conflict', signerIndex: 1,
      a: t(timeout(1, 0, null)), b: t(timeout(1, 1, lock0)),
    },
  ];
  return {
    description: 'Validator proofs (kinds 3-6) by the finality validators over batches 0 and 1 (chain and log of `domain`); honest pairs must judge as no proof.',
    valid,
    honest,
  };
}
