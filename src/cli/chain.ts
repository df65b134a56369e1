/** Shared by the on-chain commands: an ethers wallet on an Ethereum JSON-RPC endpoint, from the CLI key. */
import { JsonRpcProvider, Wallet, formatEther, parseEther } from 'ethers';
import { toHex } from '../core/bytes.ts';
import { CliError, UsageError } from './args.ts';
import { loadKey } from './keys.ts';

export async function chainWallet(url: string, keyFile: string | undefined): Promise<Wallet> {
  const key = await loadKey(keyFile);
  if (!key) throw new UsageError('a key is needed to send transactions: set PRIVATE_KEY or pass --key-file');
  const provider = new JsonRpcProvider(url, undefined, { pollingInterval: 200, cacheTimeout: -1 });
  try {
    await provider.getNetwork();
  } catch (e) {
    provider.destroy();
    throw new CliError(`cannot reach the Ethereum node at ${url}: ${(e as Error).message}`);
  }
  return new Wallet(toHex(key), provider);
}

/** An amount of ETH written in decimal ("1", "0.5"). */
export function ether(value: string, flag: string): bigint {
  try {
    const v = parseEther(value);
    if (v < 0n) throw new Error('negative');
    return v;
  } catch {
    throw new UsageError(`--${flag}: expected an amount of ETH such as 1 or 0.25, got '${value}'`);
  }
}

export { formatEther };
