/** `sequencer deploy-slashing`: deploy SequencerBond (unless --contract) and post the sequencer's bond for a log. */
import { getAddress } from 'ethers';
import { integer, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { chainWallet, contractCall, ether, formatEther } from '../../src/cli/chain.ts';
import { DEFAULT_CHAIN_ID, parseAddress, parseLogId, DEFAULT_LOG_NAME } from '../../src/cli/keys.ts';
import { printJson } from '../../src/cli/output.ts';
import { toHex } from '../../src/core/bytes.ts';
import {
  MAX_REWARD_BPS,
  MAX_WITHDRAWAL_DELAY,
  MIN_WITHDRAWAL_DELAY,
  bondInfo,
  connectBond,
  deployBond,
  register,
} from '../../src/chain/bond-contract.ts';

export const USAGE = `Usage: sequencer deploy-slashing --rpc ETH_URL [--key-file FILE] [--log-id ID] [--chain-id N] [--bond ETH]
                                 [--contract ADDRESS | --min-bond ETH --withdrawal-delay SECONDS --reward-bps N]

Deploys the SequencerBond contract on the Ethereum (L2) chain at ETH_URL and posts a bond for the log from
the key's account; that account is then the bonded sequencer, so use the primary's key (PRIVATE_KEY or
--key-file). With --contract, only posts (or tops up) the bond on an existing deployment.
Refuses (exit 1, nothing sent) when ETH_URL is not the chain the log's nodes sign for (--chain-id): the
contract checks proofs against its own chain id, so a bond on another chain could never be slashed.
Prints {contract, chainId, sequencer, logId, bond}. See docs/slashing.md.

Options:
  --rpc ETH_URL               Ethereum JSON-RPC URL
  --key-file FILE             key file (else PRIVATE_KEY)
  --log-id ID                 0x + 32-byte hex, or a name hashed with keccak256 (default: ${DEFAULT_LOG_NAME})
  --chain-id N                the chain id the log's nodes use (their --chain-id; default ${DEFAULT_CHAIN_ID})
  --bond ETH                  bond to post (default 1)
  --contract ADDRESS          use this deployment instead of deploying
  --min-bond ETH              minimum bond of a new deployment (default 1)
  --withdrawal-delay SECONDS  delay between requesting and taking a withdrawal, ${MIN_WITHDRAWAL_DELAY} (2 days) to
                              ${MAX_WITHDRAWAL_DELAY} (default 604800, a week)
  --reward-bps N              reporter's share of a slashed bond in basis points, 0 to ${MAX_REWARD_BPS} (default 5000);
                              the rest is burned, so a self-report always costs at least half the bond
  -h, --help                  show this help
`;

const SPEC = {
  name: 'deploy-slashing',
  usage: USAGE,
  options: {
    rpc: { type: 'string' }, 'key-file': { type: 'string' }, 'log-id': { type: 'string' }, 'chain-id': { type: 'string' },
    bond: { type: 'string' }, contract: { type: 'string' }, 'min-bond': { type: 'string' }, 'withdrawal-delay': { type: 'string' },
    'reward-bps': { type: 'string' },
  },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const logId = toHex(parseLogId(values['log-id'] ?? DEFAULT_LOG_NAME));
  const chainId = integer(values['chain-id'] ?? String(DEFAULT_CHAIN_ID), 'chain-id', 1);
  const bond = ether(values.bond ?? '1', 'bond');
  const existing = values.contract !== undefined ? getAddress(toHex(parseAddress(values.contract, 'contract'))) : undefined;
  // Every flag is checked before anything touches the chain.
  const params = existing === undefined
    ? {
      minBond: ether(values['min-bond'] ?? '1', 'min-bond'),
      withdrawalDelay: integer(values['withdrawal-delay'] ?? '604800', 'withdrawal-delay', MIN_WITHDRAWAL_DELAY, MAX_WITHDRAWAL_DELAY),
      rewardBps: integer(values['reward-bps'] ?? '5000', 'reward-bps', 0, MAX_REWARD_BPS),
    }
    : undefined;
  const wallet = await chainWallet(rpcUrl(required(values.rpc, 'rpc')), values['key-file'], chainId);
  try {
    const contract = existing !== undefined
      ? connectBond(existing, wallet)
      : await contractCall('deploying SequencerBond', () => deployBond(wallet, params!));
    await contractCall('register', () => register(contract, logId, bond));
    const info = await contractCall('bondInfo', () => bondInfo(contract, wallet.address, logId));
    printJson({
      contract: await contract.getAddress(),
      chainId,
      sequencer: wallet.address,
      logId,
      bond: formatEther(info.amount),
    });
  } finally {
    wallet.provider?.destroy();
  }
  return 0;
}
