/**
 * Slashing validators with proofs of kinds 3-6 (core/vote-proofs.ts) through SequencerBond's slashVoteConflict,
 * slashVoteFork, slashLockLie and slashTimeoutConflict. The sibling of bond-contract.ts's `slash` for header proofs:
 * same preflight idea (a proof the contract would refuse is refused here without sending anything), same event.
 */
import type { Contract, TransactionReceipt } from 'ethers';
import { DOMAIN_NAME, DOMAIN_VERSION, domainSeparator } from '../core/eip712.ts';
import { checkVoteProofStatements, type VoteProofKind } from '../core/vote-proofs.ts';
import { parseVoteProof, type ParsedVoteProof, type TimeoutJson, type VoteJson, type VoteProofJson } from '../wire/vote-proof-json.ts';
import { bondInterface, headerToStruct, slashedEvents, type SlashResult } from './bond-contract.ts';
import { ChainError, InvalidProofError } from './errors.ts';

/** The contract function that judges each kind. */
export const VOTE_SLASH_FUNCTION: Readonly<Record<VoteProofKind, string>> = {
  'vote-conflict': 'slashVoteConflict', 'vote-fork': 'slashVoteFork', 'lock-lie': 'slashLockLie', 'timeout-conflict': 'slashTimeoutConflict',
};

/** The vote as the contract's `Vote` struct (`view` is `viewNumber` there: `view` is reserved in Solidity). */
export function voteToStruct(v: VoteJson) {
  return { logId: v.logId, membershipHash: v.membershipHash, viewNumber: v.view, height: v.height, headerHash: v.headerHash, kind: v.kind };
}

/** The timeout as the contract's `Timeout` struct. */
export function timeoutToStruct(t: TimeoutJson) {
  return { logId: t.logId, membershipHash: t.membershipHash, viewNumber: t.view, lockView: t.lockView, lockHeight: t.lockHeight, lockHash: t.lockHash };
}

function voteSlashArgs(p: VoteProofJson): unknown[] {
  switch (p.kind) {
    case 'vote-conflict': return [voteToStruct(p.a.vote), p.a.signature, voteToStruct(p.b.vote), p.b.signature];
    case 'vote-fork': return [voteToStruct(p.a.vote), p.a.signature, voteToStruct(p.b.vote), p.b.signature, headerToStruct(p.child)];
    case 'lock-lie': return [voteToStruct(p.a.vote), p.a.signature, timeoutToStruct(p.b.timeout), p.b.signature];
    case 'timeout-conflict': return [timeoutToStruct(p.a.timeout), p.a.signature, timeoutToStruct(p.b.timeout), p.b.signature];
    default: throw new InvalidProofError(`unknown validator proof kind ${String((p as { kind: unknown }).kind)}`);
  }
}

/** ABI calldata of the slashing function for `proof` (SequencerBond.slashVoteConflict, …), ready for eth_sendTransaction. */
export function encodeVoteSlashCalldata(proof: VoteProofJson): string {
  return bondInterface().encodeFunctionData(VOTE_SLASH_FUNCTION[proof.kind], voteSlashArgs(proof));
}

/**
 * Off-chain check of a validator proof against what the contract will require on `chainId`: the proof's domain is
 * this chain's, its JSON is well formed, and core/vote-proofs.ts checkVoteProofStatements holds. Returns the problems
 * (empty = the contract should accept it, provided the signer is bonded for the log and not yet slashed).
 */
export function checkVoteProofForChain(proof: VoteProofJson, chainId: number): string[] {
  const { domain } = proof;
  if (domain?.name !== DOMAIN_NAME || domain.version !== DOMAIN_VERSION) return ['wrong domain: name/version'];
  if (domain.chainId !== chainId) return [`wrong domain: proof is for chain ${domain.chainId}, contract is on chain ${chainId}`];
  let parsed: ParsedVoteProof;
  try {
    parsed = parseVoteProof(proof);
  } catch (e) {
    return [`malformed proof: ${(e as Error).message}`];
  }
  const scope = { logId: parsed.logId, separator: domainSeparator({ chainId, logId: parsed.logId }), membership: { hash: parsed.membershipHash } };
  const problem = checkVoteProofStatements(scope, parsed.proof);
  return problem ? [problem] : [];
}

/**
 * Submits a validator proof from the contract's runner (the reporter, who receives the reward). Unless
 * `preflight: false`, first runs checkVoteProofForChain and throws InvalidProofError on a bad proof.
 */
export async function slashValidator(contract: Contract, proof: VoteProofJson, opts: { preflight?: boolean } = {}): Promise<SlashResult> {
  if (opts.preflight !== false) {
    const provider = contract.runner?.provider;
    if (!provider) throw new ChainError('contract runner has no provider');
    const problems = checkVoteProofForChain(proof, Number((await provider.getNetwork()).chainId));
    if (problems.length > 0) throw new InvalidProofError(`invalid validator proof: ${problems.join('; ')}`, { details: { problems } });
  }
  const tx = (await contract.getFunction(VOTE_SLASH_FUNCTION[proof.kind])(...voteSlashArgs(proof))) as { wait(): Promise<TransactionReceipt | null> };
  const receipt = await tx.wait();
  if (!receipt) throw new ChainError('transaction was dropped');
  const [event] = slashedEvents(receipt);
  if (!event) throw new ChainError('slash mined without a Slashed event');
  return { receipt, event };
}
