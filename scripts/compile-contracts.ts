/**
 * Compiles contracts/*.sol with the npm `solc` (solc-js) compiler and writes one artefact per contract to
 * contracts/build/<Name>.json = { contractName, compiler, evmVersion, abi, bytecode, deployedBytecode }.
 *
 * The artefacts are committed, so nothing at runtime needs a compiler. The output is deterministic: sources
 * are fed in sorted order under repository-relative names (no absolute paths end up in the metadata),
 * the settings are fixed, and the JSON is written with a fixed key order.
 *
 *   node scripts/compile-contracts.ts           # (re)write contracts/build/*.json
 *   node scripts/compile-contracts.ts --check   # exit 1 if a committed artefact is stale
 */
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CONTRACTS_DIR = join(ROOT, 'contracts');
export const BUILD_DIR = join(CONTRACTS_DIR, 'build');

/** anvil 1.x runs a later hardfork by default; cancun bytecode runs on it and on every current L1/L2. */
export const EVM_VERSION = 'cancun';

export interface ContractArtifact {
  contractName: string;
  /** solc version string, e.g. "0.8.37+commit.….Emscripten.clang". */
  compiler: string;
  evmVersion: string;
  abi: unknown[];
  /** 0x-prefixed creation bytecode. */
  bytecode: string;
  /** 0x-prefixed runtime bytecode. */
  deployedBytecode: string;
}

interface SolcError {
  severity: 'error' | 'warning' | 'info';
  formattedMessage?: string;
  message: string;
}

interface SolcOutput {
  errors?: SolcError[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

/** Compile every contracts/*.sol; returns artefacts keyed by contract name (sorted). Throws on any error. */
export async function compileContracts(opts: { dir?: string } = {}): Promise<Record<string, ContractArtifact>> {
  const dir = opts.dir ?? CONTRACTS_DIR;
  const files = readdirSync(dir).filter((f) => f.endsWith('.sol')).sort();
  if (files.length === 0) throw new Error(`no .sol files in ${dir}`);
  const sources: Record<string, { content: string }> = {};
  for (const f of files) sources[`contracts/${f}`] = { content: readFileSync(join(dir, f), 'utf8') };

  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: EVM_VERSION,
      metadata: { bytecodeHash: 'ipfs' },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };

  const solc = (await import('solc')).default;
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error('solc failed:\n' + errors.map((e) => e.formattedMessage ?? e.message).join('\n'));
  const warnings = (output.errors ?? []).filter((e) => e.severity === 'warning');
  for (const w of warnings) process.stderr.write(w.formattedMessage ?? w.message);

  const compiler = String(solc.version());
  const out: Record<string, ContractArtifact> = {};
  for (const unit of Object.keys(output.contracts ?? {}).sort()) {
    const contracts = output.contracts![unit]!;
    for (const name of Object.keys(contracts).sort()) {
      const c = contracts[name]!;
      if (out[name]) throw new Error(`duplicate contract name ${name}`);
      out[name] = {
        contractName: name,
        compiler,
        evmVersion: EVM_VERSION,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
    }
  }
  return out;
}

/** The exact bytes written for an artefact (also what --check compares against). */
export function serializeArtifact(a: ContractArtifact): string {
  return JSON.stringify(a, null, 2) + '\n';
}

/** Names of artefacts under contracts/build that differ from a fresh compile (empty = up to date). */
export async function staleArtifacts(buildDir = BUILD_DIR): Promise<string[]> {
  const fresh = await compileContracts();
  const stale: string[] = [];
  for (const [name, art] of Object.entries(fresh)) {
    const p = join(buildDir, `${name}.json`);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== serializeArtifact(art)) stale.push(name);
  }
  return stale;
}

export async function writeArtifacts(buildDir = BUILD_DIR): Promise<string[]> {
  const arts = await compileContracts();
  mkdirSync(buildDir, { recursive: true });
  const written: string[] = [];
  for (const [name, art] of Object.entries(arts)) {
    const p = join(buildDir, `${name}.json`);
    writeFileSync(p, serializeArtifact(art));
    written.push(p);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const stale = await staleArtifacts();
    if (stale.length > 0) {
      console.error(`stale contract artefacts: ${stale.join(', ')} (run: node scripts/compile-contracts.ts)`);
      process.exit(1);
    }
    console.log('contract artefacts up to date');
  } else {
    for (const p of await writeArtifacts()) console.log(`wrote ${p.slice(ROOT.length + 1)}`);
  }
}
