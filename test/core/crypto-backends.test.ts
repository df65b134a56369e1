/**
 * The two crypto backends (src/core/crypto/): Node selects native, anything else noble, and both give the same
 * bytes. Checked three ways: the primitives of each backend against the test vectors and against each other;
 * the core built on each backend against docs/test-vectors.json (test/browser/vector-checks.ts); and the core's
 * crypto test files run again, whole, on the noble backend (node --conditions=pure-js-crypto).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import vectors from '../../docs/test-vectors.json' with { type: 'json' };
import { concatBytes, fromHex, toHex } from '../../src/core/bytes.ts';
import type { CryptoBackend } from '../../src/core/crypto/backend.ts';
import { backend as native } from '../../src/core/crypto/native.ts';
import { backend as noble } from '../../src/core/crypto/noble.ts';
import { checkVectors, type VectorReport } from '../browser/vector-checks.ts';

const run = promisify(execFile);
const NODE = process.execPath;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const BACKENDS: readonly CryptoBackend[] = [native, noble];

type Backend = CryptoBackend['name'];

/**
 * A child Node in this project on the given backend. The condition goes in NODE_OPTIONS so that every process
 * the child starts (a nested `--test` runs each file in its own) inherits it; the parent's test-runner context
 * is dropped so that a nested `--test` reports normally.
 */
async function node(backend: Backend, args: readonly string[]): Promise<string> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  env.NODE_OPTIONS = [env.NODE_OPTIONS, backend === 'noble' ? '--conditions=pure-js-crypto' : ''].join(' ').trim();
  try {
    const { stdout } = await run(NODE, args, { cwd: new URL('../..', import.meta.url), env, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const failed = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

const b = (hex: string): Uint8Array => fromHex(hex);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const word = (v: bigint): Uint8Array => fromHex('0x' + v.toString(16).padStart(64, '0'), 32);

describe('selection by package.json #crypto', () => {
  test('Node gets the native backend, --conditions=pure-js-crypto the noble one', async () => {
    const script = "const { backend } = await import('#crypto'); console.log(backend.name);";
    assert.equal((await node('native', ['--input-type=module', '-e', script])).trim(), 'native');
    assert.equal((await node('noble', ['--input-type=module', '-e', script])).trim(), 'noble');
  });
});

for (const backend of BACKENDS) {
  describe(`${backend.name} backend on the test vectors`, () => {
    test('keccak256: type hashes and log id', () => {
      assert.equal(toHex(backend.keccak256(utf8(vectors.types.EIP712Domain))), vectors.types.domainTypeHash);
      assert.equal(toHex(backend.keccak256(utf8(vectors.types.Submission))), vectors.types.submissionTypeHash);
      assert.equal(toHex(backend.keccak256(utf8(vectors.types.BatchHeader))), vectors.types.batchHeaderTypeHash);
      assert.equal(toHex(backend.keccak256(utf8(vectors.domain.logIdPreimage))), vectors.domain.logId);
    });

    test('sha256: transactions hashes and entry hashes', () => {
      for (const s of vectors.submissions) assert.equal(toHex(backend.sha256(b(s.txList))), s.transactionsHash);
      for (const e of vectors.entries) assert.equal(toHex(backend.sha256(b(e.preimage))), e.entryHash);
    });

    test('keccak256: EIP-712 digests from their struct hashes', () => {
      const digest = (structHash: string): string => toHex(backend.keccak256(concatBytes(Uint8Array.of(0x19, 0x01), b(vectors.domain.separator), b(structHash))));
      for (const s of vectors.submissions) assert.equal(digest(s.structHash), s.digest);
      for (const bt of vectors.batches) assert.equal(digest(bt.structHash), bt.headerHash);
    });

    test('public keys give the addresses', () => {
      for (const k of Object.values(vectors.keys)) {
        const publicKey = backend.publicKey(b(k.privateKey));
        assert.equal(publicKey.byteLength, 65);
        assert.equal(publicKey[0], 0x04);
        assert.equal(toHex(backend.keccak256(publicKey.subarray(1)).subarray(12)), k.address);
      }
    });

    test('sign is RFC 6979: the vector signatures, byte for byte; recover gives the signer back', () => {
      const signed = [
        ...vectors.submissions.map((s) => ({ digest: s.digest, signature: s.signature, key: vectors.keys[s.signer as keyof typeof vectors.keys] })),
        ...vectors.batches.map((bt) => ({ digest: bt.headerHash, signature: bt.signature, key: vectors.keys.primary })),
      ];
      for (const { digest, signature, key } of signed) {
        assert.equal(toHex(backend.sign(b(digest), b(key.privateKey))), signature);
        assert.deepEqual(backend.recoverPublicKey(b(digest), b(signature)), backend.publicKey(b(key.privateKey)));
      }
    });

    test('recovery refuses r or s of zero and r or s of n or more', () => {
      const { digest, signature } = vectors.submissions[0];
      const sig = b(signature);
      for (const [at, value] of [[0, 0n], [32, 0n], [0, N], [32, N]] as const) {
        const bad = new Uint8Array(sig);
        bad.set(word(value), at);
        assert.throws(() => backend.recoverPublicKey(b(digest), bad), `${at === 0 ? 'r' : 's'} = ${value}`);
      }
    });
  });
}

describe('native and noble agree', () => {
  test('sha256 and keccak256 at every length around the block sizes', () => {
    for (const n of [0, 1, 31, 32, 55, 56, 63, 64, 65, 66, 119, 120, 135, 136, 137, 160, 200, 271, 272, 1000, 4096]) {
      const data = randomBytes(n);
      assert.deepEqual(noble.sha256(data), native.sha256(data), `sha256 of ${n} bytes`);
      assert.deepEqual(noble.keccak256(data), native.keccak256(data), `keccak256 of ${n} bytes`);
      const view = new Uint8Array(randomBytes(n + 10).buffer, 5, n); // a subarray view, as the core passes
      assert.deepEqual(noble.keccak256(view), native.keccak256(view), `keccak256 of a ${n}-byte view`);
    }
  });

  test('sha256Pairs hashes each 64-byte block, as sha256 does one at a time', () => {
    for (const pairs of [1, 2, 3, 17]) {
      const level = new Uint8Array(randomBytes(pairs * 64));
      const [a, bb] = [new Uint8Array(pairs * 32), new Uint8Array(pairs * 32)];
      native.sha256Pairs(level, a);
      noble.sha256Pairs(level, bb);
      assert.deepEqual(bb, a);
      assert.deepEqual(a.subarray(0, 32), native.sha256(level.subarray(0, 64)));
    }
  });

  test('keys, signatures and recovery are identical on random keys and digests', () => {
    for (let i = 0; i < 25; i++) {
      const key = new Uint8Array(randomBytes(32));
      const digest = new Uint8Array(randomBytes(32));
      assert.deepEqual(noble.publicKey(key), native.publicKey(key));
      const signature = native.sign(digest, key);
      assert.deepEqual(noble.sign(digest, key), signature);
      assert.ok(signature[64] === 27 || signature[64] === 28);
      assert.deepEqual(noble.recoverPublicKey(digest, signature), native.recoverPublicKey(digest, signature));
      // Malleability is core/signature.ts's rule, not the backends': both recover the high-s twin alike.
      const twin = new Uint8Array(signature);
      twin.set(word(N - BigInt(toHex(signature.subarray(32, 64)))), 32);
      twin[64] = 55 - signature[64];
      assert.deepEqual(noble.recoverPublicKey(digest, twin), native.publicKey(key));
      assert.deepEqual(native.recoverPublicKey(digest, twin), native.publicKey(key));
    }
  });

  test('both refuse an invalid private key', () => {
    for (const key of [new Uint8Array(32), word(N)]) {
      for (const backend of BACKENDS) {
        assert.throws(() => backend.publicKey(key), `${backend.name} publicKey`);
        assert.throws(() => backend.sign(new Uint8Array(32), key), `${backend.name} sign`);
      }
    }
  });
});

describe('the core on each backend reproduces docs/test-vectors.json', () => {
  test('native (this process)', () => {
    const report = checkVectors();
    assert.equal(report.backend, 'native');
    assert.deepEqual(report.failures, []);
  });

  test('noble (a process started with --conditions=pure-js-crypto)', async () => {
    const script = "const { checkVectors } = await import('./test/browser/vector-checks.ts'); console.log(JSON.stringify(checkVectors()));";
    const report = JSON.parse(await node('noble', ['--input-type=module', '-e', script])) as VectorReport;
    assert.equal(report.backend, 'noble');
    assert.deepEqual(report.failures, []);
    assert.equal(report.checked, checkVectors().checked);
  });

  test("the core's crypto test files pass on noble too", async () => {
    // Merkle levels and batch verification are covered above (sha256Pairs agreement, the vector checks).
    const files = ['signature', 'eip712', 'vectors', 'header', 'submission', 'entry', 'peer-record', 'receipt'].map((f) => `test/core/${f}.test.ts`);
    // Any failing test makes the child exit non-zero, which rejects with its report in the error.
    await node('noble', ['--test', '--test-concurrency=1', '--test-reporter=dot', ...files]);
  });
});
