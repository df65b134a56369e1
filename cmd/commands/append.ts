/** `sequencer append`: signs a submission (EIP-712) and sends it to a node; prints the verified receipt. */
import { fromHex, toHex, type Bytes } from '../../src/core/bytes.ts';
import { domainSeparator } from '../../src/core/eip712.ts';
import { NotFinalYetError } from '../../src/core/errors.ts';
import { Membership } from '../../src/core/membership.ts';
import { checkReceiptFinality, type ReceiptRules } from '../../src/core/receipt.ts';
import { submissionDigest } from '../../src/core/submission.ts';
import { SubmissionSigner, timeNonces } from '../../src/client/submission-signer.ts';
import { parseU64 } from '../../src/wire/json.ts';
import { parseFinalReceipt } from '../../src/wire/finality-json.ts';
import type { AppendOptions, InfoJson } from '../../src/wire/rpc-types.ts';
import { CliError, UsageError, integer, list, oneOf, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { KEY_ENV, loadKey, parseAddress } from '../../src/cli/keys.ts';
import { printJson, rpcClient } from '../../src/cli/output.ts';

export const USAGE = `Usage: sequencer append --rpc URL [options] DATA...

Signs one submission holding every DATA as a transaction, sends it with sequencer_append and prints the receipt
(JSON) once the batch holding it is durable, with "finality": "soft" (signed by the leader) or "final" and the
finality certificate ("certificate"). The receipt is checked before it is printed: signed by the primary,
entries in the signed batch, entry hashes over the given data, and its certificate (a quorum of the validators'
commit votes on its header, or on a header that links to it).

Options:
  --rpc URL              the node's JSON-RPC URL (a primary, or a replica, which forwards to the primary)
  --key-file FILE        file holding the sender's 0x-hex private key, mode 0600 (else the ${KEY_ENV} env variable)
  --nonce N              submission nonce, decimal or 0x-hex uint64 (default: microseconds since the epoch);
                         the same nonce, data and expiry again returns the original receipt
  --expiry T             refuse the submission after unix time T (seconds); +S means S seconds from now (default: none)
  --hex                  each DATA is 0x-hex bytes (default: UTF-8 text)
  --wait soft|final      soft (default): print once the batch is durable; final: once a quorum of validators made
                         it final (the receipt then carries its certificate). Not final within the timeout: the
                         soft receipt is printed, then 'error -32013: not final yet', exit 1
  --final-timeout-ms N   with --wait final: how long the node waits, 1..60000 ms (default 10000)
  --primary ADDRESS      expected primary address for the receipt check (default: what the node reports); a log of
                         one validator (without --validators)
  --validators A,B,...   expected validator set, in order, for the checks (default: what the node reports)
  --bond-contract ADDRESS  with --chain-rpc: refuse (exit 1, nothing sent) unless the address holds the committed
                         SequencerBond build, parameters in bounds, and the primary's bond there is active (not
                         leaving, slashed or missing) at a latest block at most 60 s old; see docs/slashing.md
  --chain-rpc URL        Ethereum JSON-RPC URL of the log's chain (the node's chainId), for --bond-contract
  -h, --help             show this help

Example:
  sequencer append --rpc http://127.0.0.1:7545 --key-file .devnet/client.key hello world
`;

const SPEC = {
  name: 'append',
  usage: USAGE,
  options: {
    rpc: { type: 'string' },
    'key-file': { type: 'string' },
    nonce: { type: 'string' },
    expiry: { type: 'string' },
    hex: { type: 'boolean', default: false },
    primary: { type: 'string' },
    validators: { type: 'string', multiple: true },
    wait: { type: 'string' },
    'final-timeout-ms': { type: 'string' },
    'bond-contract': { type: 'string' },
    'chain-rpc': { type: 'string' },
  },
  positionals: { min: 1, max: Infinity, what: 'DATA (one or more transactions)' },
} as const satisfies CommandSpec<any>;

function parseNonce(v: string): bigint {
  try {
    return parseU64(v, '--nonce');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function parseExpiry(v: string): number {
  if (v.startsWith('+')) return Math.floor(Date.now() / 1000) + integer(v.slice(1), 'expiry');
  return integer(v, 'expiry');
}

function parseData(items: readonly string[], hex: boolean): Bytes[] {
  if (!hex) return items.map((s) => new TextEncoder().encode(s));
  return items.map((s, i) => {
    try {
      return fromHex(s);
    } catch (e) {
      throw new UsageError(`DATA #${i + 1}: ${(e as Error).message} (with --hex every DATA is 0x-hex)`);
    }
  });
}

/**
 * What the receipt is checked against: the pinned validator set, else a pinned primary alone (a log of one
 * validator), else the set the node reports (today's nodes without one: their primary).
 */
function receiptRules(logId: Bytes, separator: Bytes, info: InfoJson, pinned: { primary?: Bytes; validators?: Bytes[] }): ReceiptRules {
  if (pinned.validators) return { logId, separator, membership: Membership.of(pinned.validators) };
  if (pinned.primary) return { logId, separator, primary: pinned.primary };
  try {
    const reported = Array.isArray(info.validators) && info.validators.length > 0 ? info.validators : [info.primary];
    return { logId, separator, membership: Membership.of(reported.map((a) => fromHex(String(a), 20))) };
  } catch (e) {
    throw new CliError(`the node answered sequencer_info without a valid validator set: ${(e as Error).message}`);
  }
}

function appendOptions(wait: string | undefined, timeout: string | undefined): AppendOptions | undefined {
  const mode = wait === undefined ? undefined : oneOf(wait, 'wait', ['soft', 'final'] as const);
  if (timeout !== undefined && mode !== 'final') throw new UsageError('--final-timeout-ms goes with --wait final');
  if (mode !== 'final') return undefined;
  return timeout === undefined ? { wait: mode } : { wait: mode, finalTimeoutMs: integer(timeout, 'final-timeout-ms', 1, 60_000) };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(SPEC, argv);
  const url = rpcUrl(required(values.rpc, 'rpc'));
  const options = appendOptions(values.wait, values['final-timeout-ms']);
  const pinnedValidators = values.validators !== undefined ? list(values.validators).map((a, i) => parseAddress(a, `validators[${i}]`)) : undefined;
  const transactions = parseData(positionals, values.hex ?? false);
  const nonce = values.nonce !== undefined ? parseNonce(values.nonce) : timeNonces()();
  const expiry = values.expiry !== undefined ? parseExpiry(values.expiry) : 0;
  const pinnedPrimary = values.primary !== undefined ? parseAddress(values.primary, 'primary') : undefined;
  const key = await loadKey(values['key-file']);
  if (!key) throw new UsageError(`no signing key: set ${KEY_ENV}=0x... or pass --key-file FILE`);

  const client = rpcClient(url);
  const info = await client.info();
  let logId: Bytes;
  let primary: Bytes;
  try {
    logId = fromHex(String(info.logId), 32);
    primary = pinnedPrimary ?? fromHex(String(info.primary), 20);
  } catch {
    throw new CliError(`${url} answered sequencer_info without a valid logId/primary`);
  }
  const chainId = Number(info.chainId);
  if (!Number.isSafeInteger(chainId) || chainId < 0) throw new CliError(`${url} answered sequencer_info without a valid chainId`);
  if ((values['bond-contract'] === undefined) !== (values['chain-rpc'] === undefined)) throw new UsageError('--bond-contract and --chain-rpc go together');
  if (values['bond-contract'] !== undefined) {
    const { requireActiveBond } = await import('../../src/cli/chain.ts');
    const contract = toHex(parseAddress(values['bond-contract'], 'bond-contract'));
    await requireActiveBond(rpcUrl(values['chain-rpc']!, 'chain-rpc'), contract, toHex(primary), toHex(logId), chainId);
  }
  const separator = domainSeparator({ chainId, logId });
  const submission = new SubmissionSigner(key, separator).sign({ nonce, expiry, transactions });

  const rules = receiptRules(logId, separator, info, { primary: pinnedPrimary, validators: pinnedValidators });
  /** Checks what the node answered (a receipt, with its finality) and prints it; throws CliError if it does not check. */
  const checkAndPrint = (answer: unknown, expected: 'soft' | 'final' | 'any'): void => {
    let problem: string | null;
    try {
      const { receipt, certificate } = parseFinalReceipt(answer);
      const check = checkReceiptFinality(rules, { ...receipt, certificate }, transactions);
      problem = check.reason;
      if (!problem && toHex(receipt.submissionDigest) !== toHex(submissionDigest(separator, submission))) problem = 'the receipt is for another submission';
      const claimed = (answer as { finality?: unknown }).finality ?? 'soft';
      if (!problem && claimed !== check.finality) problem = `it says ${String(claimed)}, its certificate makes it ${check.finality}`;
      if (!problem && expected !== 'any' && check.finality !== expected) problem = `it is ${check.finality}, not ${expected}`;
    } catch (e) {
      problem = `malformed receipt: ${(e as Error).message}`;
    }
    if (problem) throw new CliError(`the node returned an invalid receipt: ${problem}`);
    printJson(answer);
  };
  let result: unknown;
  try {
    result = await client.append(submission, options);
  } catch (e) {
    // Sequenced, not final in time: the soft receipt is still the leader's signed word; print it, then the error.
    if (e instanceof NotFinalYetError && e.data?.receipt) checkAndPrint({ ...e.data.receipt as object, finality: 'soft', certificate: null }, 'soft');
    throw e;
  }
  checkAndPrint(result, options?.wait === 'final' ? 'final' : 'any');
  return 0;
}
