/**
 * The slasher: collects equivocation proofs from nodes (sequencer_getEquivocations) and submits each one to
 * the SequencerBond contract once. Proofs against a signer with nothing left to slash (already slashed, or no
 * bond) are skipped after a read-only check, so watching many nodes that report the same proof costs one
 * transaction. What a node sends is untrusted: a malformed proof is reported and skipped, never fatal.
 */
import type { Contract } from 'ethers';
import { RpcClient } from '../client/rpc-client.ts';
import { parseProof, proofToJson } from '../wire/json.ts';
import { bondInfo, checkProof, describeBondError, slash, type SlashResult } from './bond-contract.ts';
import type { EquivocationProof } from './proof-types.ts';
import { isVoteProofJson, parseVoteProof, voteProofToJson, type VoteProofJson } from '../wire/vote-proof-json.ts';
import { checkVoteProofForChain, slashValidator } from './vote-slashing.ts';
import { ChainError, InvalidProofError } from './errors.ts';

export type SubmitOutcome =
  | { status: 'slashed'; result: SlashResult }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

/**
 * Submits one proof, unless the chain already shows its signer's bond used up. Never throws: a refused proof,
 * a revert or an unreachable chain is a 'failed' outcome (the watch retries it on its next poll).
 */
export function submitProof(contract: Contract, proof: EquivocationProof): Promise<SubmitOutcome> {
  return submitChecked(contract, proof, (chainId) => checkProof(proof, chainId), () => slash(contract, proof, { preflight: false }));
}

/** submitProof for a validator proof (kinds 3-6, src/chain/vote-slashing.ts): the same checks and outcomes. */
export function submitVoteProof(contract: Contract, proof: VoteProofJson): Promise<SubmitOutcome> {
  return submitChecked(contract, proof, (chainId) => checkVoteProofForChain(proof, chainId), () => slashValidator(contract, proof, { preflight: false }));
}

async function submitChecked(
  contract: Contract, proof: { signer: string; domain: { salt: string } },
  check: (chainId: number) => string[], send: () => Promise<SlashResult>,
): Promise<SubmitOutcome> {
  try {
    const provider = contract.runner?.provider;
    if (!provider) throw new ChainError('contract runner has no provider');
    const chainId = Number((await provider.getNetwork()).chainId);
    const problems = check(chainId);
    if (problems.length > 0) return { status: 'failed', reason: `invalid proof: ${problems.join('; ')}` };
    const bond = await bondInfo(contract, proof.signer, proof.domain.salt);
    if (bond.slashed) return { status: 'skipped', reason: 'signer already slashed for this log' };
    if (bond.amount === 0n) return { status: 'skipped', reason: 'signer has no bond for this log' };
    return { status: 'slashed', result: await send() };
  } catch (e) {
    return { status: 'failed', reason: describeBondError(e) };
  }
}

/** The proof in its canonical JSON form, or throws (InvalidParamsError) saying what is malformed. */
export function wellFormedProof(value: unknown): EquivocationProof {
  return proofToJson(parseProof(value));
}

/** A validator proof in its canonical JSON form, or throws (InvalidParamsError) saying what is malformed. */
export function wellFormedVoteProof(value: unknown): VoteProofJson {
  const parsed = parseVoteProof(value);
  return voteProofToJson(parsed, parsed.proof);
}

/** Any proof a node lists (sequencer_getEquivocations) or a file holds: of a primary (kinds 1-2) or a validator (3-6). */
export type AnyProof = EquivocationProof | VoteProofJson;

/** Whether a well-formed proof is a validator's (kinds 3-6). */
export function isVoteProof(p: AnyProof): p is VoteProofJson {
  return isVoteProofJson(p);
}

/**
 * wellFormedProof or wellFormedVoteProof, as the JSON's `kind` says. The `calldata` a node (sequencer_getEquivocations)
 * or `sequencer proofs --calldata` adds is no part of the proof: it is dropped, not refused as an unknown field.
 */
export function wellFormedAnyProof(value: unknown): AnyProof {
  if (!isVoteProofJson(value)) return wellFormedProof(value);
  const { calldata: _, ...proof } = value as Record<string, unknown>;
  return wellFormedVoteProof(proof);
}

/** submitProof or submitVoteProof, as the proof's kind says. */
export function submitAnyProof(contract: Contract, proof: AnyProof): Promise<SubmitOutcome> {
  return isVoteProof(proof) ? submitVoteProof(contract, proof) : submitProof(contract, proof);
}

/** How long a node may take to answer before the slasher gives up on it for this round. */
export const NODE_TIMEOUT_MS = 10_000;

/**
 * The most the slasher reads of one node's answer: a node is untrusted, and a larger answer is dropped unread
 * (the node skipped for that round) rather than buffered. A proof is about 2.5 KB with its calldata, and a node
 * holds one per equivocation it saw, so this leaves room for some 1,600 of them.
 */
export const NODE_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The proofs a node holds, as it sends them (each also carries `calldata`); unchecked. */
export async function fetchProofs(nodeUrl: string, timeoutMs = NODE_TIMEOUT_MS, maxResponseBytes = NODE_MAX_RESPONSE_BYTES): Promise<AnyProof[]> {
  return new RpcClient(nodeUrl, { timeoutMs, maxResponseBytes }).getEquivocations();
}

export type FetchedProof = { proof: AnyProof } | { malformed: string; index: number };

/**
 * The proofs a node holds, each checked for shape: a malformed one comes back as `{malformed, index}` so the
 * caller can report it and go on. Throws only when the node cannot be asked or does not answer a list.
 */
export async function fetchCheckedProofs(nodeUrl: string, timeoutMs = NODE_TIMEOUT_MS, maxResponseBytes = NODE_MAX_RESPONSE_BYTES): Promise<FetchedProof[]> {
  const result: unknown = await fetchProofs(nodeUrl, timeoutMs, maxResponseBytes);
  if (!Array.isArray(result)) throw new ChainError('sequencer_getEquivocations did not return an array');
  return result.map((value: unknown, index) => {
    try {
      return { proof: wellFormedAnyProof(value) };
    } catch (e) {
      return { malformed: (e as Error).message, index };
    }
  });
}

/** Identity of a proof for de-duplication: its two signatures. */
export function proofKey(p: AnyProof): string {
  return `${p.a.signature}:${p.b.signature}`;
}

export interface WatchOptions {
  readonly contract: Contract;
  readonly nodes: readonly string[];
  readonly intervalMs: number;
  /** Per node and poll (default NODE_TIMEOUT_MS): a node that hangs must not stall the others. */
  readonly nodeTimeoutMs?: number;
  /** Per node and poll (default NODE_MAX_RESPONSE_BYTES): a larger answer is not read, the node is skipped. */
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
  /** Each outcome once; a failed one again only when its reason changes. */
  readonly onOutcome: (proof: AnyProof, outcome: SubmitOutcome, node: string) => void;
  /**
   * A node that could not be polled (unreachable, timed out, answer too large), or one malformed proof it served:
   * that node's other proofs still count. Each once while it lasts: again only after a poll without it.
   */
  readonly onError: (node: string, error: Error) => void;
}

/**
 * Polls every node until aborted; submits each distinct proof once (a failed submission is retried next poll).
 * What it reports is news only: the same warning about the same node, or the same failure of the same proof,
 * is not repeated every poll.
 */
export async function watchNodes(opts: WatchOptions): Promise<void> {
  const done = new Set<string>();
  /** Per node, the warnings of its last poll. */
  const warned = new Map<string, Set<string>>();
  /** Per proof still failing, the reason last reported. */
  const failing = new Map<string, string>();
  while (!opts.signal?.aborted) {
    for (const node of opts.nodes) {
      const before = warned.get(node);
      const now = new Set<string>();
      warned.set(node, now);
      const warn = (error: Error): void => {
        now.add(error.message);
        if (!before?.has(error.message)) opts.onError(node, error);
      };
      let fetched: FetchedProof[];
      try {
        fetched = await fetchCheckedProofs(node, opts.nodeTimeoutMs, opts.maxResponseBytes);
      } catch (e) {
        warn(e as Error);
        continue;
      }
      for (const item of fetched) {
        if ('malformed' in item) {
          warn(new InvalidProofError(`skipping malformed proof #${item.index}: ${item.malformed}`));
          continue;
        }
        const { proof } = item;
        const key = proofKey(proof);
        if (done.has(key)) continue;
        const outcome = await submitAnyProof(opts.contract, proof);
        if (outcome.status === 'failed') {
          if (failing.get(key) === outcome.reason) continue;
          failing.set(key, outcome.reason);
        } else {
          done.add(key);
          failing.delete(key);
        }
        opts.onOutcome(proof, outcome, node);
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }
}
