/** `sequencer slash`: submit equivocation proofs to SequencerBond, once each; --watch keeps polling nodes. */
import { readFile } from 'node:fs/promises';
import { getAddress } from 'ethers';
import { CliError, UsageError, integer, list, parseCommand, required, rpcUrl, type CommandSpec } from '../../src/cli/args.ts';
import { chainWallet, formatEther } from '../../src/cli/chain.ts';
import { parseAddress } from '../../src/cli/keys.ts';
import { printJson } from '../../src/cli/output.ts';
import { toHex } from '../../src/core/bytes.ts';
import { connectBond } from '../../src/chain/bond-contract.ts';
import {
  NODE_TIMEOUT_MS, fetchCheckedProofs, isVoteProof, proofKey, submitAnyProof, watchNodes, wellFormedAnyProof, type AnyProof, type SubmitOutcome,
} from '../../src/chain/slasher.ts';

export const USAGE = `Usage: sequencer slash --rpc ETH_URL --contract ADDRESS [--key-file FILE]
                       (--proof FILE | --from NODE_RPC ... [--watch] [--interval SECONDS] [--node-timeout SECONDS])

Submits equivocation proofs to the SequencerBond contract: a primary's (kinds 1-2, SequencerBond.slash) or a
validator's (kinds 3-6: slashVoteConflict, ...); the key's account (PRIVATE_KEY or --key-file) is the reporter and
receives the reward. A proof already paid, or against a signer with no bond left, is skipped without sending a
transaction.
  --proof FILE      one proof (JSON as printed by 'sequencer proofs'; an array of proofs also works)
  --from NODE_RPC   take the proofs a node holds (repeatable, or comma-separated)
  --watch           keep polling the --from nodes and submit each new proof once (Ctrl-C stops)
Prints one JSON line per proof: {status: slashed|skipped|failed, ...}. A node that cannot be reached, whose
answer exceeds 4 MiB (not read further), or a malformed proof (from a node or the file), is reported on
stderr, one line each, and skipped: the other nodes and proofs still go through (with --watch, polling goes
on, each warning is printed once while it lasts, and a failed submission is retried every poll but reported
again only when its reason changes). Exit code 1 if a submission failed or anything was skipped that way.

Options:
  --rpc ETH_URL           Ethereum JSON-RPC URL
  --contract ADDRESS      the SequencerBond deployment
  --key-file FILE         key file (else PRIVATE_KEY)
  --interval SECONDS      polling interval of --watch (default 5)
  --node-timeout SECONDS  give up on a --from node that has not answered after this long, for this round
                          (default 10), so that a hung node cannot stall the others
  -h, --help              show this help
`;

const SPEC = {
  name: 'slash',
  usage: USAGE,
  options: {
    rpc: { type: 'string' }, contract: { type: 'string' }, 'key-file': { type: 'string' }, proof: { type: 'string' },
    from: { type: 'string', multiple: true }, watch: { type: 'boolean' }, interval: { type: 'string' },
    'node-timeout': { type: 'string' },
  },
} as const satisfies CommandSpec<any>;

/** The heights a proof's two statements are about (a timeout has none: its view). */
function heights(proof: AnyProof): (number | null)[] {
  if (!isVoteProof(proof)) return [proof.a.header.height, proof.b.header.height];
  return [proof.a, proof.b].map((side) => ('vote' in side ? side.vote.height : null));
}

function report(proof: AnyProof, outcome: SubmitOutcome, source?: string): void {
  const base = { kind: proof.kind, signer: proof.signer, heights: heights(proof), ...(source ? { from: source } : {}) };
  if (outcome.status === 'slashed') {
    const { event, receipt } = outcome.result;
    printJson({ status: 'slashed', ...base, tx: receipt.hash, gasUsed: Number(receipt.gasUsed), reward: formatEther(event.reward), burned: formatEther(event.burned) }, false);
  } else {
    printJson({ status: outcome.status, ...base, reason: outcome.reason }, false);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommand(SPEC, argv);
  const nodes = list(values.from).map((u) => rpcUrl(u, 'from'));
  if ((values.proof === undefined) === (nodes.length === 0)) throw new UsageError('give either --proof FILE or --from NODE_RPC');
  if (values.watch && nodes.length === 0) throw new UsageError('--watch needs --from NODE_RPC');
  const address = getAddress(toHex(parseAddress(required(values.contract, 'contract'), 'contract')));
  const intervalMs = integer(values.interval ?? '5', 'interval', 1) * 1000;
  const nodeTimeoutMs = integer(values['node-timeout'] ?? String(NODE_TIMEOUT_MS / 1000), 'node-timeout', 1) * 1000;
  const wallet = await chainWallet(rpcUrl(required(values.rpc, 'rpc')), values['key-file']);
  const contract = connectBond(address, wallet);
  let failed = 0;
  try {
    if (values.watch) {
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      await watchNodes({
        contract, nodes, intervalMs, nodeTimeoutMs, signal: stop.signal,
        onOutcome: (p, o, node) => report(p, o, node),
        onError: (node, e) => process.stderr.write(`warning: ${node}: ${e.message}\n`),
      });
      return 0;
    }
    const proofs: AnyProof[] = [];
    const skipMalformed = (source: string, index: number, reason: string): void => {
      failed++;
      process.stderr.write(`warning: ${source}: skipping malformed proof #${index}: ${reason}\n`);
    };
    if (values.proof !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readFile(values.proof, 'utf8'));
      } catch (e) {
        throw new CliError(`cannot read a proof from ${values.proof}: ${(e as Error).message}`);
      }
      (Array.isArray(parsed) ? parsed : [parsed]).forEach((value: unknown, index) => {
        try {
          proofs.push(wellFormedAnyProof(value));
        } catch (e) {
          skipMalformed(values.proof!, index, (e as Error).message);
        }
      });
    } else {
      for (const node of nodes) {
        try {
          for (const item of await fetchCheckedProofs(node, nodeTimeoutMs)) {
            if ('malformed' in item) skipMalformed(node, item.index, item.malformed);
            else proofs.push(item.proof);
          }
        } catch (e) {
          failed++;
          process.stderr.write(`warning: ${node}: ${(e as Error).message}\n`);
        }
      }
    }
    const seen = new Set<string>();
    for (const proof of proofs) {
      const key = proofKey(proof);
      if (seen.has(key)) continue;
      seen.add(key);
      const outcome = await submitAnyProof(contract, proof);
      if (outcome.status === 'failed') failed++;
      report(proof, outcome);
    }
  } finally {
    (wallet.provider as { destroy?: () => void }).destroy?.();
  }
  return failed > 0 ? 1 : 0;
}
