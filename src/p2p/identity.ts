// Persistent libp2p node identity.
//
// The peer id (and therefore the /p2p/<id> part of a node's multiaddr, which
// other replicas put in their bootstrap lists) is derived from this key, so it
// must survive restarts.

import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { BaseError } from '../core/errors.ts';

export const PEER_KEY_FILE = 'peer-key';

/**
 * Load the Ed25519 libp2p key stored (protobuf-marshalled) in `<dir>/peer-key`,
 * creating it with mode 0600 if it does not exist yet.
 */
export async function loadOrCreatePeerKey(dir: string): Promise<PrivateKey> {
  const file = join(dir, PEER_KEY_FILE);
  const existing = await readKey(file);
  if (existing != null) return existing;

  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair('Ed25519');

  // Write to a private temp file, fsync, then hard-link it into place: link()
  // fails with EEXIST instead of overwriting, so two processes racing on an
  // empty dir agree on one key, and a crash never leaves a half-written key.
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(privateKeyToProtobuf(key));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, 0o600); // the open() mode is filtered by the umask
    try {
      await link(tmp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
      await rename(tmp, file); // filesystem without hard links: last writer wins
    }
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readKey(file);
    if (winner == null) throw err;
    return winner;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function readKey(file: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (err) {
    // Never silently replace a corrupt key: that would change the node's peer id.
    throw new BaseError(`corrupt libp2p key file ${file}: ${(err as Error).message}`, { code: 'CorruptKeyFile', cause: err });
  }
}
