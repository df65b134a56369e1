/**
 * The slasher: collects equivocation proofs from nodes (sequencer_getEquivocations) and submits each one to
 * the SequencerBond contract once. Proofs already paid, or against a signer with nothing left to slash, are
 * skipped after a read-only check, so watching many nodes that report the same proof costs one transaction.
 */
import type { Contract } from 'ethers';
import { RpcClient } from '../client/rpc-client.ts';
import { bondInfo, checkProof, decodeBondError, headerDigest, slash, type SlashResult } from './bond-contract.ts';
import type { EquivocationProof } from './proof-types.ts';

export type SubmitOutcome =
  | { status: 'slashed'; result: SlashResult }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; reason: string };

/** Submits one proof, unless the chain already shows it (or the bond) used up. Never throws for a refused proof. */
export async function submitProof(contract: Contract, proof: EquivocationProof): Promise<SubmitOutcome> {
  const provider = contract.runner?.provider;
  if (!provider) throw new Error('contract runner has no provider');
  const chainId = Number((await provider.getNetwork()).chainId);
  const problems = checkProof(proof, chainId);
  if (problems.length > 0) return { status: 'failed', reason: `invalid proof: ${problems.join('; ')}` };
  const id = (await contract.getFunction('proofIdOf')(headerDigest(proof.a.header, chainId), headerDigest(proof.b.header, chainId))) as string;
  if ((await contract.getFunction('usedProofs')(id)) as boolean) return { status: 'skipped', reason: 'proof already paid' };
  const bond = await bondInfo(contract, proof.signer, proof.domain.salt);
  if (bond.slashed) return { status: 'skipped', reason: 'signer already slashed for this log' };
  if (bond.amount === 0n) return { status: 'skipped', reason: 'signer has no bond for this log' };
  try {
    return { status: 'slashed', result: await slash(contract, proof, { preflight: false }) };
  } catch (e) {
    const decoded = decodeBondError(e);
    return { status: 'failed', reason: decoded ? `${decoded.name}(${decoded.args.join(', ')})` : (e as Error).message };
  }
}

/** Fetches the proofs a node holds. */
export async function fetchProofs(nodeUrl: string): Promise<EquivocationProof[]> {
  return new RpcClient(nodeUrl).call<EquivocationProof[]>('sequencer_getEquivocations', []);
}

/** Identity of a proof for de-duplication: its two signatures. */
export function proofKey(p: EquivocationProof): string {
  return `${p.a.signature}:${p.b.signature}`;
}

export interface WatchOptions {
  readonly contract: Contract;
  readonly nodes: readonly string[];
  readonly intervalMs: number;
  readonly signal?: AbortSignal;
  readonly onOutcome: (proof: EquivocationProof, outcome: SubmitOutcome, node: string) => void;
  readonly onError: (node: string, error: Error) => void;
}

/** Polls every node until aborted; submits each distinct proof once (a failed submission is retried next poll). */
export async function watchNodes(opts: WatchOptions): Promise<void> {
  const done = new Set<string>();
  while (!opts.signal?.aborted) {
    for (const node of opts.nodes) {
      let proofs: EquivocationProof[];
      try {
        proofs = await fetchProofs(node);
      } catch (e) {
        opts.onError(node, e as Error);
        continue;
      }
      for (const proof of proofs) {
        if (done.has(proofKey(proof))) continue;
        const outcome = await submitProof(opts.contract, proof);
        if (outcome.status !== 'failed') done.add(proofKey(proof));
        opts.onOutcome(proof, outcome, node);
      }
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }
}
