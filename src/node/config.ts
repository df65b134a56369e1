/** Everything a node needs to start; the CLI builds it from flags and the environment. */
import type { Bytes } from '../core/bytes.ts';

export type Mode = 'primary' | 'replica';

export interface NodeConfig {
  readonly mode: Mode;
  readonly dataDir: string;
  readonly rpcHost: string;
  /** 0 picks a free port. */
  readonly rpcPort: number;
  readonly p2pHost: string;
  readonly p2pPort: number;
  /** Multiaddrs of peers to connect to (with /p2p/<peer id>). */
  readonly peers: readonly string[];
  /** Addresses allowed to append (20 bytes each). Replicas must use the same list as the primary. */
  readonly allow: readonly Bytes[];
  /** The primary's address; for a primary, derived from its key when absent. */
  readonly primary?: Bytes;
  /** This node's secp256k1 key: required for a primary, optional for a replica. */
  readonly privateKey?: Bytes;
  readonly logId: Bytes;
  readonly chainId: number;
  /** Back-pressure bound of the primary, in transactions admitted but not yet durable. */
  readonly maxPendingTxs?: number;
}
