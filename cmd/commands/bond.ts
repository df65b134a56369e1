/** `sequencer bond ACTION`: read a sequencer's bond, manage its withdrawal, list slashes (SequencerBond). */
import { getAddress, type Contract, type Provider } from 'ethers';
import { UsageError, integer, oneOf, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { chainProvider, chainWallet, contractCall, formatEther } from '../../src/cli/chain.ts';
import { DEFAULT_LOG_NAME, loadKey, parseAddress, parseLogId } from '../../src/cli/keys.ts';
import { printJson } from '../../src/cli/output.ts';
import { toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import {
  bondInfo,
  bondParams,
  bondStatus,
  cancelWithdrawal,
  connectBond,
  listSlashes,
  requestWithdrawal,
  withdraw,
} from '../../src/chain/bond-contract.ts';

const ACTIONS = ['info', 'request-withdrawal', 'cancel-withdrawal', 'withdraw', 'slashes'] as const;
type Action = (typeof ACTIONS)[number];
const SENDS: readonly Action[] = ['request-withdrawal', 'cancel-withdrawal', 'withdraw'];

export const USAGE = `Usage: sequencer bond ACTION --rpc ETH_URL --contract ADDRESS [--log-id ID] [--sequencer ADDRESS] [--key-file FILE]

Reads or manages a sequencer's bond on a SequencerBond deployment (docs/slashing.md). ACTION is one of:
  info                 the bond of --sequencer (default: the key's address) for the log:
                       {contract, chainId, sequencer, logId, status, amount, withdrawableAt, slashed,
                        minBond, withdrawalDelay, rewardBps}; status is active, leaving (withdrawal
                        requested), slashed or unbonded; withdrawableAt is unix seconds (0 = none requested)
  request-withdrawal   start the withdrawal delay (sent from the key's account). Nodes stop following a
                       primary whose bond is leaving, at once: do this only when retiring the log's primary.
  cancel-withdrawal    abandon a requested withdrawal (the bond is active again)
  withdraw             take the bond back once the delay has passed
  slashes              every Slashed event of the deployment, oldest first, as a JSON array (only the
                       --sequencer's, and only the --log-id's, when those flags are given; from block
                       --from-block N on, default 0: public RPCs may limit the range of one query)
The three transactions print {action, tx, gasUsed, bond: <info as above>}. A refused call prints the
contract's error by name (e.g. WithdrawalNotReady(1767225600)) and exits 1.

Options:
  --rpc ETH_URL          Ethereum JSON-RPC URL
  --contract ADDRESS     the SequencerBond deployment
  --log-id ID            0x + 32-byte hex, or a name hashed with keccak256 (default: ${DEFAULT_LOG_NAME})
  --sequencer ADDRESS    whose bond to read (info, slashes; default for info: the key's address)
  --key-file FILE        key file (else PRIVATE_KEY); needed to send, and for info without --sequencer
  --from-block N         slashes: first block to search (default 0)
  -h, --help             show this help
`;

const SPEC = {
  name: 'bond',
  usage: USAGE,
  options: {
    rpc: { type: 'string' }, contract: { type: 'string' }, 'log-id': { type: 'string' }, sequencer: { type: 'string' },
    'key-file': { type: 'string' }, 'from-block': { type: 'string' },
  },
  positionals: { min: 1, max: 1, what: `ACTION (${ACTIONS.join(', ')})` },
} as const satisfies CommandSpec<any>;

async function describeBond(contract: Contract, provider: Provider, sequencer: string, logId: string) {
  const [info, params, network] = await contractCall('reading the bond', () =>
    Promise.all([bondInfo(contract, sequencer, logId), bondParams(contract), provider.getNetwork()]));
  return {
    contract: await contract.getAddress(),
    chainId: Number(network.chainId),
    sequencer,
    logId,
    status: bondStatus(info),
    amount: formatEther(info.amount),
    withdrawableAt: Number(info.withdrawableAt),
    slashed: info.slashed,
    minBond: formatEther(params.minBond),
    withdrawalDelay: Number(params.withdrawalDelay),
    rewardBps: Number(params.rewardBps),
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(SPEC, argv);
  const action = oneOf<Action>(positionals[0]!, 'ACTION', ACTIONS);
  const url = rpcUrl(required(values.rpc, 'rpc'));
  const address = getAddress(toHex(parseAddress(required(values.contract, 'contract'), 'contract')));
  const logId = toHex(parseLogId(values['log-id'] ?? DEFAULT_LOG_NAME));
  const named = values.sequencer !== undefined ? getAddress(toHex(parseAddress(values.sequencer, 'sequencer'))) : undefined;

  if (SENDS.includes(action)) {
    if (named !== undefined) throw new UsageError(`${action} is sent from the key's account: --sequencer does not apply`);
    const wallet = await chainWallet(url, values['key-file']);
    try {
      const contract = connectBond(address, wallet);
      const send = { 'request-withdrawal': requestWithdrawal, 'cancel-withdrawal': cancelWithdrawal, withdraw }[action as 'withdraw'];
      const receipt = await contractCall(action, () => send(contract, logId));
      printJson({ action, tx: receipt.hash, gasUsed: Number(receipt.gasUsed), bond: await describeBond(contract, wallet.provider!, wallet.address, logId) });
    } finally {
      wallet.provider?.destroy();
    }
    return 0;
  }

  const provider = await chainProvider(url);
  try {
    const contract = connectBond(address, provider);
    if (action === 'slashes') {
      const filter = {
        sequencer: named,
        logId: values['log-id'] !== undefined ? logId : undefined,
        fromBlock: integer(values['from-block'] ?? '0', 'from-block'),
      };
      const events = await contractCall('listing Slashed events', () => listSlashes(contract, filter));
      printJson(events.map((e) => ({ ...e, reward: formatEther(e.reward), burned: formatEther(e.burned) })));
      return 0;
    }
    let sequencer = named;
    if (sequencer === undefined) {
      const key = await loadKey(values['key-file']);
      if (!key) throw new UsageError('whose bond? pass --sequencer ADDRESS (or a key: --key-file / PRIVATE_KEY)');
      sequencer = getAddress(toHex(addressFromPrivateKey(key)));
    }
    printJson(await describeBond(contract, provider, sequencer, logId));
  } finally {
    provider.destroy();
  }
  return 0;
}
