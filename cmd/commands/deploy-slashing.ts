/** `sequencer deploy-slashing`: deploy SequencerBond (unless --contract) and post the sequencer's bond for a log. */
import { getAddress } from 'ethers';
import { integer, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { chainWallet, ether, formatEther } from '../../src/cli/chain.ts';
import { parseAddress, parseLogId, DEFAULT_LOG_NAME } from '../../src/cli/keys.ts';
import { printJson } from '../../src/cli/output.ts';
import { toHex } from '../../src/core/bytes.ts';
import { bondInfo, connectBond, deployBond, register } from '../../src/chain/bond-contract.ts';

export const USAGE = `Usage: sequencer deploy-slashing --rpc ETH_URL [--key-file FILE] [--log-id ID] [--bond ETH]
                                 [--contract ADDRESS | --min-bond ETH --withdrawal-delay SECONDS --reward-bps N]

Deploys the SequencerBond contract on the Ethereum (L2) chain at ETH_URL and posts a bond for the log from
the key's account; that account is then the bonded sequencer, so use the primary's key (PRIVATE_KEY or
--key-file). With --contract, only posts (or tops up) the bond on an existing deployment.
Prints {contract, chainId, sequencer, logId, bond}. See docs/slashing.md.

Options:
  --rpc ETH_URL               Ethereum JSON-RPC URL
  --key-file FILE             key file (else PRIVATE_KEY)
  --log-id ID                 0x + 32-byte hex, or a name hashed with keccak256 (default: ${DEFAULT_LOG_NAME})
  --bond ETH                  bond to post (default 1)
  --contract ADDRESS          use this deployment instead of deploying
  --min-bond ETH              minimum bond of a new deployment (default 1)
  --withdrawal-delay SECONDS  delay between requesting and taking a withdrawal (default 604800, a week)
  --reward-bps N              reporter's share of a slashed bond in basis points (default 5000)
  -h, --help                  show this help
`;

const SPEC = {
  name: 'deploy-slashing',
  usage: USAGE,
  options: {
    rpc: { type: 'string' }, 'key-file': { type: 'string' }, 'log-id': { type: 'string' }, bond: { type: 'string' },
    contract: { type: 'string' }, 'min-bond': { type: 'string' }, 'withdrawal-delay': { type: 'string' }, 'reward-bps': { type: 'string' },
  },
} as const satisfies CommandSpec<any>;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const logId = toHex(parseLogId(values['log-id'] ?? DEFAULT_LOG_NAME));
  const bond = ether(values.bond ?? '1', 'bond');
  const wallet = await chainWallet(rpcUrl(required(values.rpc, 'rpc')), values['key-file']);
  try {
    const contract = values.contract !== undefined
      ? connectBond(getAddress(toHex(parseAddress(values.contract, 'contract'))), wallet)
      : await deployBond(wallet, {
        minBond: ether(values['min-bond'] ?? '1', 'min-bond'),
        withdrawalDelay: integer(values['withdrawal-delay'] ?? '604800', 'withdrawal-delay', 0, 2 ** 32 - 1),
        rewardBps: integer(values['reward-bps'] ?? '5000', 'reward-bps', 0, 10_000),
      });
    await register(contract, logId, bond);
    const info = await bondInfo(contract, wallet.address, logId);
    printJson({
      contract: await contract.getAddress(),
      chainId: Number((await wallet.provider!.getNetwork()).chainId),
      sequencer: wallet.address,
      logId,
      bond: formatEther(info.amount),
    });
  } finally {
    (wallet.provider as { destroy?: () => void }).destroy?.();
  }
  return 0;
}
