/**
 * Keys and identifiers given on the command line. A private key comes from a key file (0x-hex, not readable by
 * group or others) or from the PRIVATE_KEY environment variable; it never appears in an error message or log.
 */
import { getAddress } from 'ethers';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import secp from 'secp256k1';
import { fromHex, type Bytes } from '../core/bytes.ts';
import { keccak256 } from '../core/hash.ts';
import { CliError, UsageError } from './args.ts';

export const KEY_ENV = 'PRIVATE_KEY';
export const DEFAULT_LOG_NAME = 'sequencer-devnet';
export const DEFAULT_CHAIN_ID = 31337;

const KEY_HEX = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS_HEX = /^0x[0-9a-fA-F]{40}$/;
const WORD_HEX = /^0x[0-9a-fA-F]{64}$/;
const MAX_KEY_FILE_BYTES = 4096;

/** Parses a 0x-hex secp256k1 private key. `source` names where it came from; the key itself is never echoed. */
export function parsePrivateKey(text: string, source: string): Bytes {
  const t = text.trim();
  if (!KEY_HEX.test(t)) throw new CliError(`${source}: expected a private key as 0x followed by 64 hex digits`);
  const key = fromHex(t, 32);
  if (!secp.privateKeyVerify(key)) throw new CliError(`${source}: not a valid secp256k1 private key`);
  return key;
}

/**
 * Reads a key file, refusing one that group or others can read (mode & 0o077), as ssh does. The check is
 * skipped on Windows, which has no such mode bits.
 */
export async function readKeyFile(file: string): Promise<Bytes> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`key file ${file} does not exist`);
    if (code === 'EACCES') throw new CliError(`key file ${file} is not readable by this user`);
    throw new CliError(`cannot open key file ${file}: ${(e as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CliError(`key file ${file} is not a regular file`);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new CliError(`key file ${file} is accessible by group or others (mode ${mode}); restrict it with: chmod 600 ${file}`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new CliError(`key file ${file} is too large to be a key file`);
    return parsePrivateKey(await fh.readFile('utf8'), `key file ${file}`);
  } finally {
    await fh.close();
  }
}

/**
 * The signing key: --key-file when given (it wins over the environment), else PRIVATE_KEY, else undefined.
 */
export async function loadKey(keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Bytes | undefined> {
  if (keyFile !== undefined) return readKeyFile(keyFile);
  const fromEnv = env[KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return parsePrivateKey(fromEnv, `${KEY_ENV} environment variable`);
  return undefined;
}

/** A fresh random secp256k1 private key. */
export function generatePrivateKey(): Bytes {
  for (;;) {
    const k = new Uint8Array(randomBytes(32));
    if (secp.privateKeyVerify(k)) return k;
  }
}

/** `0x` + 40 hex digits. A mixed-case address must carry a valid EIP-55 checksum (it catches typos). */
export function parseAddress(value: string, flag: string): Bytes {
  const v = value.trim();
  if (!ADDRESS_HEX.test(v)) throw new UsageError(`--${flag}: expected an address (0x followed by 40 hex digits), got '${value}'`);
  const body = v.slice(2);
  if (body !== body.toLowerCase() && body !== body.toUpperCase() && v !== getAddress(v.toLowerCase())) {
    throw new UsageError(`--${flag}: address ${v} has a bad EIP-55 checksum (mistyped?)`);
  }
  return fromHex(v.toLowerCase(), 20);
}

/** --log-id: a 0x-prefixed 32-byte hex log id, or a name whose keccak256(utf8) is the id. */
export function parseLogId(value: string): Bytes {
  if (WORD_HEX.test(value)) return fromHex(value, 32);
  if (/^0x/i.test(value)) throw new UsageError(`--log-id: '${value}' starts with 0x but is not 32 bytes of hex (use a plain name to have it hashed)`);
  if (value === '') throw new UsageError('--log-id: must not be empty');
  return keccak256(new TextEncoder().encode(value));
}
