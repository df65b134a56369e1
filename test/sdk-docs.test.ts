/**
 * docs/sdk.md's examples run as written: every ```ts block is extracted, its `from 'sequencer'` import pointed at
 * the package's library entry, and run as its own module (the project's Node) against a live in-process primary,
 * with the environment the page documents. A block that throws, or does not finish, fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { toHex } from '../src/core/bytes.ts';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, PRIMARY_KEY, startPrimary, tempDir } from './helpers/network.ts';

const DOC = fileURLToPath(new URL('../docs/sdk.md', import.meta.url));
const ENTRY = pathToFileURL(fileURLToPath(new URL('../src/client/index.ts', import.meta.url))).href;

/** The ```ts blocks of a markdown text, in order. */
function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

test('docs/sdk.md: every ts example runs against a live node', async (t) => {
  const blocks = tsBlocks(readFileSync(DOC, 'utf8'));
  assert.ok(blocks.length >= 2, 'the page has examples');
  const dir = await tempDir('seq-sdk-docs-');
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => {
    await primary.stop();
    await dir.remove();
  });
  const env = {
    ...process.env,
    SEQUENCER_RPC: primary.rpcUrl,
    SEQUENCER_LOG_ID: toHex(LOG_ID),
    SEQUENCER_CHAIN_ID: String(CHAIN_ID),
    SEQUENCER_PRIMARY: toHex(addressFromPrivateKey(PRIMARY_KEY)),
    SEQUENCER_CLIENT_KEY: toHex(CLIENT_KEY),
  };
  const outputs: string[] = [];
  for (const [i, block] of blocks.entries()) {
    assert.match(block, /from 'sequencer'/, `example ${i + 1} imports the package`);
    const file = join(dir.path, `example-${i + 1}.ts`);
    writeFileSync(file, block.replaceAll("from 'sequencer'", `from '${ENTRY}'`));
    const { stdout } = await promisify(execFile)(process.execPath, [file], { env, timeout: 30_000 }).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`example ${i + 1} of docs/sdk.md failed: ${e.stderr || e.message}`);
    });
    outputs.push(stdout);
  }
  assert.match(outputs[0], /^consistent$/m, 'the first example checked its receipt with the node');
  assert.match(outputs[1], /^resumed at 2$/m, 'the second example resumed from its anchor at the next entry, not a repeated one');
  assert.match(outputs[2], /^final 0x01\n(?:.*\n)?true\nfinal\n/m, 'the third example appended with wait final, and checked its certificate');
  assert.match(outputs[2], /\nfinal\n$/, 'the same signed submission again answers its receipt, final');
});
