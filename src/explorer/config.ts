/**
 * Which node the explorer asks and which log it verifies against. By default the node that served the page, and
 * the log id, chain id and primary that node states in sequencer_info: convenient, but then the page trusts that
 * node for the log's identity (it already trusts it for the page's code). The query string pins them instead, so
 * that every answer is checked against what the visitor knows (docs/explorer.md):
 *
 *   /explorer?rpc=http://other-node:7546&logId=0x…&chainId=31337&validators=0xabc…,0xdef…
 */
import { RpcClient } from '../client/index.ts';
import type { InfoJson } from '../wire/rpc-types.ts';

export interface ExplorerConfig {
  readonly url: string;
  readonly logId: string;
  readonly chainId: number;
  readonly validators: readonly string[];
  /** Whether log id, chain id and validators came from the query string (pinned) or from the node. */
  readonly pinned: boolean;
}

export async function resolveConfig(location: { readonly search: string; readonly origin: string }): Promise<ExplorerConfig> {
  const q = new URLSearchParams(location.search);
  const url = q.get('rpc') ?? location.origin;
  const logId = q.get('logId');
  const chainId = q.get('chainId');
  const validators = q.get('validators');
  if (logId && chainId && validators) {
    return { url, logId, chainId: Number(chainId), validators: validators.split(',').map((v) => v.trim()), pinned: true };
  }
  const info = await new RpcClient(url, { timeoutMs: 10_000 }).call<InfoJson>('sequencer_info');
  return {
    url,
    logId: logId ?? info.logId,
    chainId: chainId ? Number(chainId) : info.chainId,
    // A node predating validator sets names only its primary.
    validators: validators ? validators.split(',').map((v) => v.trim()) : info.validators ?? [info.primary],
    pinned: false,
  };
}
