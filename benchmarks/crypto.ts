/**
 * Micro-benchmark of the core's crypto hot paths, through the core's own functions, on whichever backend
 * package.json `#crypto` selects: native in Node, noble with `--conditions=pure-js-crypto`.
 *
 *   node benchmarks/crypto.ts                                # native (what nodes run)
 *   node --conditions=pure-js-crypto benchmarks/crypto.ts    # noble (what a browser runs)
 *
 * Each figure is the median of 7 timed rounds after a warm-up, in microseconds per call.
 */
import { backend } from '#crypto';
import { keccak256, sha256 } from '../src/core/hash.ts';
import { EntryChain } from '../src/core/entry.ts';
import { MerkleTree } from '../src/core/merkle.ts';
import { addressFromPrivateKey, recoverAddress, sign } from '../src/core/signature.ts';

const ROUNDS = 7;

function microsPerCall(calls: number, fn: () => void): number {
  for (let i = 0; i < Math.min(calls, 2000); i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - start) / 1000 / calls);
  }
  return rounds.sort((a, b) => a - b)[ROUNDS >> 1];
}

/** Fewer calls for the slow operations on the pure-JS backend, so a run stays within seconds. */
const scale = backend.name === 'native' ? 1 : 0.1;
const calls = (n: number): number => Math.max(50, Math.round(n * scale));

const key = new Uint8Array(32).fill(7);
const digest = keccak256(Uint8Array.of(1, 2, 3));
const signature = sign(digest, key);
const sender = addressFromPrivateKey(key);
const payload = new Uint8Array(128).fill(9);
const chain = new EntryChain(new Uint8Array(32), 0);
const leaves = new Uint8Array(1024 * 32).fill(5);

const results: [string, number][] = [
  ['entry hash (128-byte payload)', microsPerCall(calls(200_000), () => chain.append(sender, digest, payload))],
  ['sha256, 64 B', microsPerCall(calls(200_000), () => sha256(leaves.subarray(0, 64)))],
  ...[32, 66, 160, 200].map((n): [string, number] => {
    const data = new Uint8Array(n).fill(3);
    return [`keccak256, ${n} B`, microsPerCall(calls(200_000), () => keccak256(data))];
  }),
  ['recoverAddress', microsPerCall(calls(5_000), () => recoverAddress(digest, signature))],
  ['sign', microsPerCall(calls(5_000), () => sign(digest, key))],
  ['addressFromPrivateKey', microsPerCall(calls(5_000), () => addressFromPrivateKey(key))],
  ['Merkle tree, 1024 leaves', microsPerCall(calls(500), () => new MerkleTree(leaves))],
];

console.log(`crypto backend: ${backend.name}`);
for (const [name, micros] of results) console.log(`  ${name.padEnd(30)} ${micros.toFixed(3).padStart(10)} us`);
