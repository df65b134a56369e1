/** Shared by the on-chain commands: an ethers provider or wallet on an Ethereum JSON-RPC endpoint, from the CLI key. */
import { JsonRpcProvider, Wallet, formatEther, parseEther } from 'ethers';
import { toHex } from '../core/bytes.ts';
import { describeBondError } from '../chain/bond-contract.ts';
import { CliError, UsageError } from './args.ts';
import { loadKey } from './keys.ts';
import { InvalidArgumentError } from '../core/errors.ts';

/** A provider on `url`, checked to answer (and, with `expectedChainId`, to be that chain). */
export async function chainProvider(url: string, expectedChainId?: number): Promise<JsonRpcProvider> {
  const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 200, cacheTimeout: -1 });
  let chainId: number;
  try {
    chainId = Number((await provider.getNetwork()).chainId);
  } catch (e) {
    provider.destroy();
    throw new CliError(`cannot reach the Ethereum node at ${url}: ${(e as Error).message}`);
  }
  if (expectedChainId !== undefined && chainId !== expectedChainId) {
    provider.destroy();
    throw new CliError(
      `the Ethereum node at ${url} is chain ${chainId}, but the log's headers are signed for chain ${expectedChainId} ` +
      '(--chain-id): the contract rebuilds the EIP-712 domain from its own chain id, so no proof against this log could ever be slashed there',
    );
  }
  return provider;
}

export async function chainWallet(url: string, keyFile: string | undefined, expectedChainId?: number): Promise<Wallet> {
  const key = await loadKey(keyFile);
  if (!key) throw new UsageError('a key is needed to send transactions: set PRIVATE_KEY or pass --key-file');
  return new Wallet(toHex(key), await chainProvider(url, expectedChainId));
}

/** Runs a contract call or transaction; a failure becomes a CliError naming the contract's custom error. */
export async function contractCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof CliError || e instanceof UsageError) throw e;
    throw new CliError(`${what}: ${describeBondError(e)}`);
  }
}

/** An amount of ETH written in decimal ("1", "0.5"). */
export function ether(value: string, flag: string): bigint {
  try {
    const v = parseEther(value);
    if (v < 0n) throw new InvalidArgumentError('negative');
    return v;
  } catch {
    throw new UsageError(`--${flag}: expected an amount of ETH such as 1 or 0.25, got '${value}'`);
  }
}

export { formatEther };

/**
 * Refuses (CliError) unless the contract at `contract` is a SequencerBond the guarantee holds for
 * (verifyBondDeployment) and `sequencer`'s bond for `logId` there is active: a client must not take headers
 * from a primary whose bond is leaving, slashed or gone, or held by a contract that only claims to be the
 * bond, since an equivocation it signs then may not be slashable (docs/slashing.md §Withdrawal delay).
 */
export async function requireActiveBond(chainRpc: string, contract: string, sequencer: string, logId: string, chainId: number): Promise<void> {
  const { BOND_READ_MAX_AGE_MS, bondStatus, connectBond, latestBondInfo, verifyBondDeployment } = await import('../chain/bond-contract.ts');
  const provider = await chainProvider(chainRpc, chainId);
  try {
    try {
      await verifyBondDeployment(provider, contract);
    } catch (e) {
      throw new CliError(`${(e as Error).message}; refusing to append`);
    }
    const info = await contractCall(`reading the bond at ${contract}`, () => latestBondInfo(connectBond(contract, provider), sequencer, logId));
    // As a node's watcher: a read at an old block (a lagging endpoint) does not show the bond as it is now.
    const ageMs = Date.now() - info.blockTimeMs;
    if (ageMs > BOND_READ_MAX_AGE_MS) {
      throw new CliError(`the Ethereum node at ${chainRpc} serves a latest block ${Math.round(ageMs / 1000)} s old (more than ${BOND_READ_MAX_AGE_MS / 1000} s): it cannot show whether the primary's bond is active now; refusing to append`);
    }
    const status = bondStatus(info);
    if (status !== 'active') {
      const detail = status === 'leaving' ? ` (withdrawal requested, withdrawable at ${info.withdrawableAt})` : '';
      throw new CliError(`the primary's bond is not active: ${status}${detail}; refusing to append (its headers may not be slashable)`);
    }
  } finally {
    provider.destroy();
  }
}
