/**
 * How a node process is run: V8 flags and environment. The devnet and the benchmarks start nodes with both, and
 * cmd/sequencer.ts carries them in its shebang (`env -S VAR=value node --flag`).
 *
 * The young generation is V8's default size (16 MiB semi-spaces; it was 32, which once cut the primary's p99
 * receipt latency): twice as large, it kept ~25 MiB more resident, a tenth of a node's RSS at 1M entries, and
 * on 2026-11-22 the open-loop and paced benchmarks showed no throughput, CPU/tx or GC-pause difference (issue 8).
 */
export const NODE_RUNTIME_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * glibc malloc settings. A node allocates and frees large buffers all the time (gossiped batches, noise and
 * yamux frames, HTTP bodies); glibc serves blocks above its mmap threshold (128 KiB) with mmap and gives them
 * back to the system when freed, but raises that threshold to the size of each such block freed, after which
 * those buffers come from the heap, where freed memory stays resident. Fixing the threshold keeps RSS near what
 * is live: 30-50 MiB less per node at 1M entries (benchmarks/memory.ts), at no measured cost in throughput or CPU
 * per transaction (benchmarks/run.ts).
 * Ignored by other C libraries.
 */
export const NODE_RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** `env` with NODE_RUNTIME_ENV added, for a node process (an operator's own value of a variable wins). */
export function nodeRuntimeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...NODE_RUNTIME_ENV, ...env };
}
