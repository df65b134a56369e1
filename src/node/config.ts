/** Everything a node needs to start; the CLI builds it from flags and the environment. */
import type { Bytes } from '../core/bytes.ts';

/**
 * What the node does: the primary leads view 0 (the first of `validators`); a validator verifies, stores and votes;
 * a replica (an observer) verifies and stores without voting, and needs no key.
 */
export type Mode = 'primary' | 'validator' | 'replica';

export interface NodeConfig {
  readonly mode: Mode;
  readonly dataDir: string;
  readonly rpcHost: string;
  /** 0 picks a free port. */
  readonly rpcPort: number;
  readonly p2pHost: string;
  readonly p2pPort: number;
  /**
   * Multiaddrs of peers to connect to (with /p2p/<peer id>; a primary asks them at start-up, and refuses to start
   * without any unless `unsafeSkipRecovery`).
   */
  readonly peers: readonly string[];
  /** Addresses allowed to append (20 bytes each). Replicas must use the same list as the primary. */
  readonly allow: readonly Bytes[];
  /** The primary's address; for a primary, derived from its key when absent. */
  readonly primary?: Bytes;
  /**
   * The log's validator set, in order (20-byte addresses; docs/protocol.md §Validators and roles): the first leads
   * view 0 and is the primary. Default: the primary alone (n = 1). Every node of a log must use the same list.
   */
  readonly validators?: readonly Bytes[];
  /** This node's secp256k1 key: required for a primary and a validator, optional for a replica. */
  readonly privateKey?: Bytes;
  readonly logId: Bytes;
  readonly chainId: number;
  /** Back-pressure bound of the primary, in transactions admitted but not yet durable. */
  readonly maxPendingTxs?: number;
  /** How long the primary lets a small queue wait for more before sealing it (default 0: at once); see Primary. */
  readonly sealLingerMs?: number;
  /** Concurrent JSON-RPC connections (default in src/rpc/server.ts); keep it well below `ulimit -n`. */
  readonly rpcMaxConnections?: number;
  /**
   * A primary normally signs nothing until its configured peers have told it the highest header signed with its
   * key and it has synced up to it (docs/protocol.md §Primary start-up), and refuses to start with no peers. True
   * skips that, with or without peers: it signs on top of its own store at once, and re-signs (equivocates, is
   * slashable for) any height its peers hold that it lacks.
   */
  readonly unsafeSkipRecovery?: boolean;
  /**
   * How many of the configured peers must answer a primary at start-up before it proceeds (1..peers; default all).
   * Fewer lets it start while some are down, but a header only the silent ones hold would be signed again.
   */
  readonly recoveryQuorum?: number;
  /**
   * T(v) of the view change (docs/protocol.md §View change): how long a validator waits for progress while work is
   * pending before it times the view out; doubled for each failed view in a row, up to 32 times. Default 1000 ms;
   * 0: this validator never times a view out (it still follows the view changes the others make).
   */
  readonly viewTimeoutMs?: number;
  /**
   * FAULT INJECTION ONLY: senders whose submissions this validator, when it leads, never sequences (a censoring
   * leader, for tests and the chaos harness). Never set in production.
   */
  readonly unsafeCensor?: readonly Bytes[];
  /**
   * The SequencerBond deployment backing the primary, and an Ethereum JSON-RPC URL of the log's chain. When set,
   * the node trusts the primary only while its bond is active (docs/slashing.md §Withdrawal delay): a replica
   * stops following, a primary stops sequencing, once a withdrawal is requested or the bond is gone.
   */
  readonly bond?: { readonly contract: Bytes; readonly chainRpc: string; readonly pollMs?: number };
}
