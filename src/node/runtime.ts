/**
 * V8 flags a node process should run with. A 32 MiB young generation (default 16) halves how often the
 * scavenger runs under load, which measurably cut the primary's p99 receipt latency (benchmarks/: 79 -> 54 ms
 * at 20k tx/s) and raised throughput; the devnet and the benchmarks start nodes with these flags, and
 * cmd/sequencer.ts carries them in its shebang.
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
