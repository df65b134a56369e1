/**
 * Watches the on-chain bond that backs a log's primary (SequencerBond.bondInfo), so that a node trusts the
 * primary's headers only while that bond is slashable for long enough to report an equivocation.
 *
 * The rule (docs/slashing.md §Withdrawal delay): a header is trusted only while the last successful read of
 * the bond showed it `active` (posted, no withdrawal requested, never slashed), and that read is no older
 * than `maxStalenessMs` in chain time: its age is measured from the timestamp of the block it was read at,
 * not from when the RPC answered, so an endpoint that lags (serves old blocks) cannot keep a bond `active`
 * that the chain shows leaving. A withdrawal request makes the bond `leaving` at once; it stays slashable for
 * the whole withdrawal delay (at least MIN_WITHDRAWAL_DELAY), so every header a node trusted is reportable for
 * at least that delay minus one staleness bound. A chain that cannot be read is not trust: the node waits.
 *
 * The contract itself is checked once, at start (verifyBondDeployment): the committed SequencerBond build with
 * parameters inside its bounds, or the watcher refuses to start.
 *
 * The provider is injected (`start`), or built from a URL and owned by the watcher (`connect`, what a node
 * given --chain-rpc uses).
 */
import { JsonRpcProvider, getAddress, type Contract, type Provider } from 'ethers';
import { subscribe } from '../core/listeners.ts';
import { BOND_READ_MAX_AGE_MS, bondStatus, connectBond, describeBondError, latestBondInfo, verifyBondDeployment, type BondInfo } from './bond-contract.ts';
import { ChainError } from './errors.ts';
import type { BondStateJson } from '../wire/rpc-types.ts';

export interface BondWatcherOptions {
  readonly provider: Provider;
  /** SequencerBond address (0x-hex). */
  readonly contract: string;
  /** The bonded sequencer (the log's primary), 0x-hex. */
  readonly sequencer: string;
  /** 0x-hex log id. */
  readonly logId: string;
  /** The chain id the log's headers are signed for: the provider must be that chain. */
  readonly chainId: number;
  /** Poll period (default 5 s). */
  readonly pollMs?: number;
  /**
   * A read whose block is older than this no longer counts (default 4 poll periods, at least 60 s: the chain's
   * blocks, not the poll, set how fresh a read can be; an L1 block may come 12 s or more after the last).
   */
  readonly maxStalenessMs?: number;
  readonly now?: () => number;
}

/** What `sequencer_info` shows under `bond` (its JSON type: src/wire/rpc-types.ts). */
export type BondState = BondStateJson;

export class BondWatcher {
  private readonly opts: BondWatcherOptions;
  private readonly contract: Contract;
  private readonly now: () => number;
  private readonly maxStalenessMs: number;
  private info: BondInfo | undefined;
  private checkedAt: number | null = null;
  private error: string | null = null;
  /** The outcome (JSON) the last poll reported to the listeners. */
  private lastOutcome: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly listeners: ((state: BondState) => void)[] = [];
  /** Destroyed on stop when the watcher built it. */
  private ownedProvider: JsonRpcProvider | undefined;

  private constructor(opts: BondWatcherOptions) {
    // checksummed once, for display (sequencer_info) and for the calls
    this.opts = { ...opts, contract: getAddress(opts.contract), sequencer: getAddress(opts.sequencer) };
    this.contract = connectBond(this.opts.contract, opts.provider);
    this.now = opts.now ?? Date.now;
    this.maxStalenessMs = opts.maxStalenessMs ?? Math.max(4 * (opts.pollMs ?? 5000), BOND_READ_MAX_AGE_MS);
  }

  /**
   * Checks the provider is on the log's chain and holds a SequencerBond the guarantee holds for at the address
   * (verifyBondDeployment; a misconfiguration there could never be fixed by waiting: it throws), reads the bond
   * once, then polls it.
   */
  static async start(opts: BondWatcherOptions): Promise<BondWatcher> {
    const watcher = new BondWatcher(opts);
    const chainId = Number((await opts.provider.getNetwork()).chainId);
    if (chainId !== opts.chainId) {
      throw new ChainError(`the chain RPC is chain ${chainId}, but the log's headers are signed for chain ${opts.chainId}: a bond there backs nothing`, { details: { chainId, expected: opts.chainId } });
    }
    await verifyBondDeployment(opts.provider, watcher.opts.contract);
    await watcher.poll();
    watcher.timer = setInterval(() => void watcher.poll(), opts.pollMs ?? 5000);
    watcher.timer.unref();
    return watcher;
  }

  /** `start` on a provider of its own for `url`; throws (and releases it) if the chain cannot be reached. */
  static async connect(url: string, opts: Omit<BondWatcherOptions, 'provider'>): Promise<BondWatcher> {
    const provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
    try {
      const watcher = await BondWatcher.start({ ...opts, provider });
      watcher.ownedProvider = provider;
      return watcher;
    } catch (e) {
      provider.destroy();
      throw new ChainError(`bond contract ${opts.contract} via ${url}: ${describeBondError(e)}`, { cause: e });
    }
  }

  /**
   * Called after every poll whose outcome (status, amount, withdrawableAt, read error, or whether the last read
   * is stale) changed. Returns the unsubscribe.
   */
  onChange(listener: (state: BondState) => void): () => void {
    return subscribe(this.listeners, listener);
  }

  /** Reads the bond now (single-flight). */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        // The bond as of one block, dated by that block (never later than now: a clock behind the chain's must
        // not stretch the bound).
        const { blockTimeMs, ...info } = await latestBondInfo(this.contract, this.opts.sequencer, this.opts.logId);
        this.info = info;
        this.checkedAt = Math.min(blockTimeMs, this.now());
        this.error = null;
      } catch (e) {
        this.error = describeBondError(e);
      }
      // Compared with the last poll's outcome, not the state before this read: staleness comes with time, between polls.
      const outcome = JSON.stringify(this.outcome());
      if (outcome !== this.lastOutcome) {
        this.lastOutcome = outcome;
        for (const l of this.listeners) l(this.state);
      }
    })().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private outcome() {
    return { info: this.info && { ...this.info, amount: String(this.info.amount), withdrawableAt: String(this.info.withdrawableAt) }, error: this.error, stale: this.staleness() !== null };
  }

  /** How old (chain time) the last successful read is, when that is too old to count; else null. */
  private staleness(): number | null {
    const ageMs = this.checkedAt === null ? Infinity : this.now() - this.checkedAt;
    return ageMs > this.maxStalenessMs ? ageMs : null;
  }

  get state(): BondState {
    const info = this.info;
    return {
      contract: this.opts.contract,
      sequencer: this.opts.sequencer,
      status: info ? bondStatus(info) : 'unknown',
      amount: String(info?.amount ?? 0n),
      withdrawableAt: Number(info?.withdrawableAt ?? 0n),
      slashed: info?.slashed ?? false,
      checkedAt: this.checkedAt,
      error: this.error,
    };
  }

  /**
   * Why the sequencer's headers must not be trusted now, or null when they may: the bond was read `active`
   * within the staleness bound.
   */
  distrust(): string | null {
    const definite = this.revoked();
    if (definite) return definite;
    const why = this.error ? ` (${this.error})` : '';
    if (this.checkedAt === null) return `the primary's bond could not be read${why}`;
    const ageMs = this.staleness();
    if (ageMs !== null) {
      return `the primary's bond was last read at a block ${Math.round(ageMs / 1000)} s old (more than ${this.maxStalenessMs / 1000} s)${why}`;
    }
    return null;
  }

  /** Set when the chain shows the bond no longer backs new headers (not merely unread): the primary stops. */
  revoked(): string | null {
    const { status, withdrawableAt } = this.state;
    switch (status) {
      case 'leaving': return `the primary's bond is leaving (withdrawal requested, withdrawable at ${withdrawableAt})`;
      case 'slashed': return "the primary's bond was slashed";
      case 'unbonded': return 'the primary has no bond for this log';
      default: return null;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.ownedProvider?.destroy();
  }
}
