/**
 * Thin ethers 6 wrapper around contracts/SequencerBond.sol (artefact: contracts/build/SequencerBond.json,
 * committed; rebuild with `node scripts/compile-contracts.ts`).
 */
import { readFileSync } from 'node:fs';
import {
  Contract,
  ContractFactory,
  Interface,
  isHexString,
  keccak256,
  type ContractRunner,
  type Log,
  type Provider,
  type Signer,
  type TransactionReceipt,
} from 'ethers';
import { DOMAIN_NAME, DOMAIN_VERSION, domainSeparator } from '../core/eip712.ts';
import { checkProof as checkCoreProof, type EquivocationProof as CoreProof } from '../core/equivocation.ts';
import { parseHeader, parseProof } from '../wire/json.ts';
import { toHex } from '../core/bytes.ts';
import { headerHash } from '../core/header.ts';
import { ChainError, InvalidProofError } from './errors.ts';
import type { BondStatusJson } from '../wire/rpc-types.ts';
import {
  PROOF_KIND_CODE,
  type EquivocationProof,
  type HeaderJson,
} from './proof-types.ts';

export interface BondArtifact {
  abi: unknown[];
  /** Creation code (constructor arguments follow it). */
  bytecode: string;
  /** Runtime code, with zeros where a deployment's immutables go. */
  deployedBytecode: string;
}

const ARTIFACT_URL = new URL('../../contracts/build/SequencerBond.json', import.meta.url);
let artifact: BondArtifact | undefined;
let iface: Interface | undefined;

/** The committed build artefact { abi, bytecode, deployedBytecode } (read once). */
export function bondArtifact(): BondArtifact {
  if (!artifact) {
    const json = JSON.parse(readFileSync(ARTIFACT_URL, 'utf8')) as BondArtifact;
    artifact = { abi: json.abi, bytecode: json.bytecode, deployedBytecode: json.deployedBytecode };
  }
  return artifact;
}

export function bondInterface(): Interface {
  return (iface ??= new Interface(bondArtifact().abi as never));
}

/**
 * The contract's bounds on its constructor arguments (SequencerBond.MIN_WITHDRAWAL_DELAY, MAX_REWARD_BPS;
 * test/slashing-contract.test.ts checks they agree). docs/slashing.md explains both.
 */
export const MIN_WITHDRAWAL_DELAY = 2 * 24 * 3600;
export const MAX_WITHDRAWAL_DELAY = 2 ** 32 - 1;
export const MAX_REWARD_BPS = 5000;

export interface BondParams {
  /** Minimum total bond, wei. */
  minBond: bigint;
  /** Seconds between requestWithdrawal and withdraw, MIN_WITHDRAWAL_DELAY..MAX_WITHDRAWAL_DELAY. */
  withdrawalDelay: number | bigint;
  /** Share of a slashed bond paid to the reporter, basis points (0..MAX_REWARD_BPS). The rest stays locked. */
  rewardBps: number;
}

/** Deploy a SequencerBond and wait until it is mined. */
export async function deployBond(signer: Signer, params: BondParams): Promise<Contract> {
  const { abi, bytecode } = bondArtifact();
  const factory = new ContractFactory(abi as never, bytecode, signer);
  const c = await factory.deploy(params.minBond, params.withdrawalDelay, params.rewardBps);
  await c.waitForDeployment();
  return connectBond(await c.getAddress(), signer);
}

export function connectBond(address: string, runner: ContractRunner | null): Contract {
  return new Contract(address, bondInterface(), runner);
}

async function mined(p: Promise<{ wait(): Promise<TransactionReceipt | null> }>): Promise<TransactionReceipt> {
  const receipt = await (await p).wait();
  if (!receipt) throw new ChainError('transaction was dropped');
  return receipt;
}

/** Bond (or top up) `value` wei for `logId` as the contract's runner. */
export function register(contract: Contract, logId: string, value: bigint): Promise<TransactionReceipt> {
  return mined(contract.getFunction('register')(logId, { value }));
}

export function requestWithdrawal(contract: Contract, logId: string): Promise<TransactionReceipt> {
  return mined(contract.getFunction('requestWithdrawal')(logId));
}

export function cancelWithdrawal(contract: Contract, logId: string): Promise<TransactionReceipt> {
  return mined(contract.getFunction('cancelWithdrawal')(logId));
}

export function withdraw(contract: Contract, logId: string): Promise<TransactionReceipt> {
  return mined(contract.getFunction('withdraw')(logId));
}

export async function bondOf(contract: Contract, sequencer: string, logId: string): Promise<bigint> {
  return (await contract.getFunction('bondOf')(sequencer, logId)) as bigint;
}

export interface BondInfo {
  amount: bigint;
  /** Unix seconds at which a pending withdrawal may execute; 0n if none is pending. */
  withdrawableAt: bigint;
  slashed: boolean;
}

/**
 * What a bond means for trusting its sequencer: only an `active` bond (posted, no withdrawal requested, never
 * slashed) backs new headers. `leaving` = a withdrawal was requested (still slashable until `withdraw` runs).
 */
export type BondStatus = BondStatusJson;

export function bondStatus(info: BondInfo): BondStatus {
  if (info.slashed) return 'slashed';
  if (info.amount === 0n) return 'unbonded';
  return info.withdrawableAt !== 0n ? 'leaving' : 'active';
}

/** The bond as of block `blockTag` (default: the latest). */
export async function bondInfo(contract: Contract, sequencer: string, logId: string, blockTag?: number): Promise<BondInfo> {
  const overrides = blockTag === undefined ? [] : [{ blockTag }];
  const [amount, withdrawableAt, slashed] = (await contract.getFunction('bondInfo')(sequencer, logId, ...overrides)) as [bigint, bigint, boolean];
  return { amount, withdrawableAt, slashed };
}

/**
 * The bond as of the chain's latest block, with that block's timestamp (unix ms): how fresh the read is in chain
 * time, whatever the endpoint's lag (docs/slashing.md §Withdrawal delay).
 */
export async function latestBondInfo(contract: Contract, sequencer: string, logId: string): Promise<BondInfo & { blockTimeMs: number }> {
  const provider = contract.runner?.provider;
  if (!provider) throw new ChainError('contract runner has no provider');
  const block = await provider.getBlock('latest');
  if (!block) throw new ChainError('the chain RPC returned no latest block');
  return { ...(await bondInfo(contract, sequencer, logId, block.number)), blockTimeMs: block.timestamp * 1000 };
}

/** How old (chain time) a bond read may be and still count, by default: docs/slashing.md §Withdrawal delay. */
export const BOND_READ_MAX_AGE_MS = 60_000;

/** The deployment's immutable parameters. */
export async function bondParams(contract: Contract): Promise<{ minBond: bigint; withdrawalDelay: bigint; rewardBps: bigint }> {
  const read = (name: string): Promise<bigint> => contract.getFunction(name)() as Promise<bigint>;
  const [minBond, withdrawalDelay, rewardBps] = await Promise.all([read('minBond'), read('withdrawalDelay'), read('rewardBps')]);
  return { minBond, withdrawalDelay, rewardBps };
}

export interface BondDeployment {
  minBond: bigint;
  withdrawalDelay: bigint;
  rewardBps: bigint;
  /** keccak256 of the contract's runtime code. */
  codeHash: string;
}

/**
 * Checks that `address` holds a SequencerBond the guarantee of docs/slashing.md §Withdrawal delay holds for, and
 * returns its parameters; throws ChainError (saying what is wrong) otherwise. Two checks, both needed:
 *
 * - Its parameters are inside the contract's bounds (withdrawalDelay >= MIN_WITHDRAWAL_DELAY, rewardBps <=
 *   MAX_REWARD_BPS). The constructor enforces them, but a deployment need not run the constructor: any init code
 *   may return the genuine runtime code with other values in its immutable slots.
 * - Its runtime code is exactly what the committed artefact's constructor returns for those parameters. The
 *   runtime code embeds the immutables (minBond, withdrawalDelay, rewardBps), so it is compared not with the
 *   artefact's `deployedBytecode` (zeros in those slots) but with the artefact's creation code run through
 *   eth_call (a simulated deployment: nothing is sent) with the parameters the views report. Equal code means
 *   equal behaviour with those immutables everywhere, so the views cannot lie (an impostor answering the same
 *   views with good values has other code); and no slot-offset table is needed, nor trust in one.
 *
 * Not covered: storage written by a deployment's own init code (e.g. bonds credited without ETH): only reading
 * the deployment transaction could tell; docs/slashing.md §Known limitations.
 */
export async function verifyBondDeployment(provider: Provider, address: string): Promise<BondDeployment> {
  const code = await provider.getCode(address);
  if (code === '0x') throw new ChainError(`no contract at ${address}`);
  let params: Awaited<ReturnType<typeof bondParams>>;
  try {
    params = await bondParams(connectBond(address, provider));
  } catch (e) {
    throw new ChainError(`the contract at ${address} is not a SequencerBond: its parameter views fail (${describeBondError(e)})`, { cause: e });
  }
  const { withdrawalDelay, rewardBps } = params;
  if (withdrawalDelay < BigInt(MIN_WITHDRAWAL_DELAY) || withdrawalDelay > BigInt(MAX_WITHDRAWAL_DELAY) || rewardBps > BigInt(MAX_REWARD_BPS)) {
    throw new ChainError(
      `the SequencerBond at ${address} has withdrawalDelay ${withdrawalDelay} s and rewardBps ${rewardBps}, outside the bounds its ` +
      `guarantee needs (withdrawalDelay ${MIN_WITHDRAWAL_DELAY}..${MAX_WITHDRAWAL_DELAY}, rewardBps <= ${MAX_REWARD_BPS})`,
      { details: { withdrawalDelay: String(withdrawalDelay), rewardBps: String(rewardBps) } },
    );
  }
  let expected: string;
  try {
    expected = await provider.call({ data: bondCreationCode(params) });
  } catch (e) {
    throw new ChainError(`cannot verify the code at ${address}: simulating the SequencerBond deployment failed (${describeBondError(e)})`, { cause: e });
  }
  const codeHash = keccak256(code);
  if (codeHash !== keccak256(expected)) {
    throw new ChainError(
      `the contract at ${address} is not the SequencerBond build this node trusts (contracts/build/SequencerBond.json): ` +
      `its code hash is ${codeHash}, a deployment of the build with the parameters it reports would have ${keccak256(expected)}`,
      { details: { codeHash, expected: keccak256(expected) } },
    );
  }
  return { ...params, codeHash };
}

/** The artefact's creation code with its constructor arguments: what deploying it with `params` sends. */
function bondCreationCode(params: { minBond: bigint; withdrawalDelay: bigint; rewardBps: bigint }): string {
  const args = bondInterface().encodeDeploy([params.minBond, params.withdrawalDelay, params.rewardBps]);
  return bondArtifact().bytecode + args.slice(2);
}

/**
 * The header as the contract's `Header` struct. The Solidity field for `view` is `viewNumber` (`view` is
 * a reserved word in Solidity); the EIP-712 type still calls it `view`.
 */
export function headerToStruct(h: HeaderJson) {
  return {
    logId: h.logId,
    height: h.height,
    viewNumber: h.view,
    firstSeq: h.firstSeq,
    count: h.count,
    prevHeaderHash: h.prevHeaderHash,
    headHash: h.headHash,
    entriesRoot: h.entriesRoot,
    timestamp: h.timestamp,
  };
}

/** headerHash (the EIP-712 digest the sequencer signs) of `h` on `chainId`, domain salt = h.logId. */
export function headerDigest(h: HeaderJson, chainId: number): string {
  const header = parseHeader(h);
  return toHex(headerHash(domainSeparator({ chainId, logId: header.logId }), header));
}

function slashArgs(proof: EquivocationProof): unknown[] {
  const kind = PROOF_KIND_CODE[proof.kind];
  if (kind === undefined) throw new InvalidProofError(`unknown proof kind ${String(proof.kind)}`);
  return [kind, headerToStruct(proof.a.header), proof.a.signature, headerToStruct(proof.b.header), proof.b.signature];
}

/** ABI calldata of SequencerBond.slash(kind, a, sigA, b, sigB) for `proof`, ready for eth_sendTransaction. */
export function encodeSlashCalldata(proof: EquivocationProof): string {
  return bondInterface().encodeFunctionData('slash', slashArgs(proof));
}

/**
 * Off-chain check of a proof against what the contract will require on `chainId`: the domain must be this
 * chain's, then the same rules the nodes apply (core/equivocation.ts checkProof). Returns a list of problems
 * (empty = the contract should accept it, provided the signer is bonded and not yet slashed).
 */
export function checkProof(proof: EquivocationProof, chainId: number): string[] {
  const { domain } = proof;
  if (domain?.name !== DOMAIN_NAME || domain.version !== DOMAIN_VERSION) return ['wrong domain: name/version'];
  if (domain.chainId !== chainId) return [`wrong domain: proof is for chain ${domain.chainId}, contract is on chain ${chainId}`];
  if (typeof domain.salt !== 'string' || domain.salt.toLowerCase() !== proof.a?.header?.logId?.toLowerCase()) return ['wrong domain: salt != header logId'];
  let parsed: CoreProof;
  try {
    parsed = parseProof(proof);
  } catch (e) {
    return [`malformed proof: ${(e as Error).message}`];
  }
  const problem = checkCoreProof(domainSeparator({ chainId, logId: parsed.logId }), parsed);
  return problem ? [problem] : [];
}

export interface SlashedEvent {
  sequencer: string;
  logId: string;
  kind: number;
  digestA: string;
  digestB: string;
  reporter: string;
  reward: bigint;
  burned: bigint;
}

export interface SlashResult {
  receipt: TransactionReceipt;
  event: SlashedEvent;
}

/** A Slashed event with where it was emitted. */
export type SlashedLog = SlashedEvent & { blockNumber: number; tx: string };

/** The Slashed events among `logs` (a receipt's, or a log query's). */
export function slashedEvents(receipt: { readonly logs: readonly Log[] }): SlashedLog[] {
  const out: SlashedLog[] = [];
  const i = bondInterface();
  for (const log of receipt.logs) {
    let parsed;
    try {
      parsed = i.parseLog(log);
    } catch {
      continue;
    }
    if (parsed?.name !== 'Slashed') continue;
    const [sequencer, logId, kind, digestA, digestB, reporter, reward, burned] = parsed.args;
    out.push({ sequencer, logId, kind: Number(kind), digestA, digestB, reporter, reward, burned, blockNumber: log.blockNumber, tx: log.transactionHash });
  }
  return out;
}

/** Every Slashed event of the deployment, oldest first, optionally only those of one sequencer and/or log. */
export async function listSlashes(contract: Contract, filter: { sequencer?: string; logId?: string; fromBlock?: number } = {}): Promise<SlashedLog[]> {
  const provider = contract.runner?.provider;
  if (!provider) throw new ChainError('contract runner has no provider');
  const topics = bondInterface().encodeFilterTopics('Slashed', [filter.sequencer ?? null, filter.logId ?? null]);
  const logs = await provider.getLogs({ address: await contract.getAddress(), topics, fromBlock: filter.fromBlock ?? 0, toBlock: 'latest' });
  return slashedEvents({ logs });
}

/**
 * Submit `proof` from the contract's runner (the reporter, who receives the reward). Unless
 * `preflight: false`, first runs checkProof against the connected chain and throws on a bad proof
 * (e.g. "wrong domain") without sending anything.
 */
export async function slash(contract: Contract, proof: EquivocationProof, opts: { preflight?: boolean } = {}): Promise<SlashResult> {
  if (opts.preflight !== false) {
    const provider = contract.runner?.provider;
    if (!provider) throw new ChainError('contract runner has no provider');
    const chainId = Number((await provider.getNetwork()).chainId);
    const problems = checkProof(proof, chainId);
    if (problems.length > 0) throw new InvalidProofError(`invalid equivocation proof: ${problems.join('; ')}`, { details: { problems } });
  }
  const receipt = await mined(contract.getFunction('slash')(...slashArgs(proof)));
  const [event] = slashedEvents(receipt);
  if (!event) throw new ChainError('slash mined without a Slashed event');
  return { receipt, event };
}

/** A SequencerBond custom error found in an ethers error (or its revert data), or null. */
export function decodeBondError(err: unknown): { name: string; args: unknown[] } | null {
  const e = err as { revert?: { name: string; args: unknown[] }; data?: unknown; info?: { error?: { data?: unknown } } } | null;
  if (e?.revert?.name) return { name: e.revert.name, args: [...e.revert.args] };
  for (const data of [e?.data, e?.info?.error?.data]) {
    if (typeof data !== 'string' || !isHexString(data) || data.length < 10) continue;
    try {
      const parsed = bondInterface().parseError(data);
      if (parsed) return { name: parsed.name, args: [...parsed.args] };
    } catch {
      // not one of ours
    }
  }
  return null;
}

/** One line for an error from a contract call: the custom error's name and arguments when it is one of ours. */
export function describeBondError(err: unknown): string {
  const decoded = decodeBondError(err);
  if (decoded) return `${decoded.name}(${decoded.args.map(String).join(', ')})`;
  const e = err as { shortMessage?: string; message?: string } | null;
  return e?.shortMessage ?? e?.message ?? String(err);
}
