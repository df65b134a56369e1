/**
 * What every action of a client shares (docs/sdk.md §Creating a client): the nodes' URLs, the log it is bound to
 * (log id, chain id, hence the EIP-712 domain) and who signs its headers (the membership), from which the rules
 * every answer is verified against follow.
 */
import { fromHex, toHex, type Bytes } from '../core/bytes.ts';
import { domainSeparator } from '../core/eip712.ts';
import { InvalidArgumentError } from '../core/errors.ts';
import { Membership } from '../core/membership.ts';
import type { LogRules } from '../core/rules.ts';
import type { InfoJson } from '../wire/rpc-types.ts';
import { VerificationError } from './errors.ts';
import { RpcClient } from './rpc-client.ts';
import type { VerifyContext } from './verify-batch.ts';

/** Bytes, or their 0x-prefixed hex. */
export type BytesLike = Uint8Array | string;

export interface SequencerClientConfig {
  /** One node's JSON-RPC URL, or `urls`: several, tried in order when one fails (watchEntries fails over between them). */
  readonly url?: string;
  readonly urls?: readonly string[];
  /** The log's id (32 bytes, hex or bytes). */
  readonly logId: BytesLike;
  readonly chainId: number;
  /** The primary's address (today's one-member membership) … */
  readonly primary?: BytesLike;
  /** … or the validator set in its configured order (the leader of view v is validators[v % n]). */
  readonly validators?: readonly BytesLike[];
  /** A fetch to use instead of the global one. */
  readonly fetch?: typeof fetch;
  /** Each request fails after this long (10 s by default), so that a hung node is given up for the next. */
  readonly timeoutMs?: number;
  /** A larger answer is not read (64 MiB by default: a node's own response cap, docs/protocol.md §JSON-RPC API). */
  readonly maxResponseBytes?: number;
}

export interface ClientContext extends VerifyContext {
  readonly urls: readonly string[];
  readonly fetch: typeof fetch | undefined;
  readonly timeoutMs: number;
  /** The JSON-RPC client of `urls[i]` (created once each). */
  node(i?: number): RpcClient;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** `v` as bytes of `length`; throws InvalidArgumentError naming `field`. */
export function toBytes(v: BytesLike, field: string, length?: number): Bytes {
  try {
    return typeof v === 'string' ? fromHex(v, length) : fromHex(toHex(v), length);
  } catch (e) {
    throw new InvalidArgumentError(`${field}: ${(e as Error).message}`);
  }
}

export function createContext(config: SequencerClientConfig): ClientContext {
  const urls = config.urls ?? (config.url ? [config.url] : []);
  if (urls.length === 0) throw new InvalidArgumentError('createSequencerClient: give `url` or `urls`');
  if (!Number.isSafeInteger(config.chainId) || config.chainId < 0) throw new InvalidArgumentError('chainId: expected a non-negative integer');
  const validators = config.validators ?? (config.primary !== undefined ? [config.primary] : undefined);
  if (!validators) throw new InvalidArgumentError('createSequencerClient: give `primary` or `validators`');
  const logId = toBytes(config.logId, 'logId', 32);
  const rules: LogRules = {
    logId,
    separator: domainSeparator({ chainId: config.chainId, logId }),
    membership: Membership.of(validators.map((v, i) => toBytes(v, `validators[${i}]`, 20))),
    // A client does not know the allowlist: the nodes judge it (docs/sdk.md §What is verified).
    isAllowed: () => true,
  };
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const nodes = urls.map((url) => new RpcClient(url, { timeoutMs, fetch: config.fetch, maxResponseBytes: config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES }));
  return { urls, fetch: config.fetch, timeoutMs, rules, chainId: config.chainId, node: (i = 0) => nodes[i] };
}

/**
 * Throws VerificationError unless the node's sequencer_info answer is of this client's log and chain, and names the
 * validator set the client was given (`primary` or `validators`: pinned, never taken from a node's word; a node
 * that predates validator sets sends no `membershipHash`).
 */
export function checkSameLog(ctx: VerifyContext, info: Pick<InfoJson, 'logId' | 'chainId'> & Partial<Pick<InfoJson, 'membershipHash'>>, url: string): void {
  if (info.logId.toLowerCase() !== toHex(ctx.rules.logId) || info.chainId !== ctx.chainId) {
    throw new VerificationError(`${url} serves log ${info.logId} on chain ${info.chainId}, not this client's`, { details: { url } });
  }
  if (typeof info.membershipHash === 'string' && info.membershipHash.toLowerCase() !== toHex(ctx.rules.membership.hash)) {
    throw new VerificationError(`${url} serves the log under validator set ${info.membershipHash}, not the one this client was given (${toHex(ctx.rules.membership.hash)})`, { details: { url } });
  }
}
