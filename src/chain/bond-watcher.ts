/**
 * Watches the on-chain bond that backs a log's primary (SequencerBond.bondInfo), so that a node trusts the
 * primary's headers only while that bond is slashable for long enough to report an equivocation.
 *
 * The rule (docs/slashing.md §Withdrawal delay): a header is trusted only while the last successful read of
 * the bond, no older than `maxStalenessMs`, showed it `active` (posted, no withdrawal requested, never
 * slashed). A withdrawal request makes the bond `leaving` at once; it stays slashable for the whole
 * withdrawal delay (at least MIN_WITHDRAWAL_DELAY), so every header a node trusted is reportable for at
 * least that delay minus one staleness bound. A chain that cannot be read is not trust: the node waits.
 *
 * The provider is injected (`start`), or built from a URL and owned by the watcher (`connect`, what a node
 * given --chain-rpc uses).
 */
import { JsonRpcProvider, getAddress, type Contract, type Provider } from 'ethers';
import { subscribe } from '../core/listeners.ts';
import { bondInfo, bondStatus, connectBond, describeBondError, type BondInfo } from './bond-contract.ts';
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
  /** A read older than this no longer counts (default 4 poll periods). */
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
    this.maxStalenessMs = opts.maxStalenessMs ?? 4 * (opts.pollMs ?? 5000);
  }

  /**
   * Checks the provider is on the log's chain and holds a contract at the address (a misconfiguration
   * there could never be fixed by waiting: it throws), reads the bond once, then polls it.
   */
  static async start(opts: BondWatcherOptions): Promise<BondWatcher> {
    const watcher = new BondWatcher(opts);
    const chainId = Number((await opts.provider.getNetwork()).chainId);
    if (chainId !== opts.chainId) {
      throw new ChainError(`the chain RPC is chain ${chainId}, but the log's headers are signed for chain ${opts.chainId}: a bond there backs nothing`, { details: { chainId, expected: opts.chainId } });
    }
    if ((await opts.provider.getCode(watcher.opts.contract)) === '0x') throw new ChainError(`no contract at ${watcher.opts.contract} on chain ${chainId}`);
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

  /** Called after every poll whose outcome (status, amount, withdrawableAt or read error) changed. Returns the unsubscribe. */
  onChange(listener: (state: BondState) => void): () => void {
    return subscribe(this.listeners, listener);
  }

  /** Reads the bond now (single-flight). */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      const before = JSON.stringify(this.outcome());
      try {
        this.info = await bondInfo(this.contract, this.opts.sequencer, this.opts.logId);
        this.checkedAt = this.now();
        this.error = null;
      } catch (e) {
        this.error = describeBondError(e);
      }
      if (JSON.stringify(this.outcome()) !== before) for (const l of this.listeners) l(this.state);
    })().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private outcome() {
    return { info: this.info && { ...this.info, amount: String(this.info.amount), withdrawableAt: String(this.info.withdrawableAt) }, error: this.error };
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
    if (this.checkedAt === null || this.now() - this.checkedAt > this.maxStalenessMs) {
      return `the primary's bond could not be read recently${this.error ? ` (${this.error})` : ''}`;
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
