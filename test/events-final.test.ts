/**
 * `final` events on GET /events (src/rpc/events.ts, docs/protocol.md §Events) from a real node: with the default
 * one-validator log every stored batch is final right after it is stored, so each append raises the final height.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { addressFromPrivateKey } from '../src/core/signature.ts';
import { createSequencerClient } from '../src/client/index.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, PRIMARY_KEY, startPrimary, tempDir } from './helpers/network.ts';

const text = (s: string) => new TextEncoder().encode(s);

test('GET /events on a node: the final height on connect, then a final event per rise, in order, with its header hash', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => {
    await primary.stop();
    await dir.remove();
  });
  const client = createSequencerClient({ urls: [primary.rpcUrl], logId: LOG_ID, chainId: CHAIN_ID, primary: addressFromPrivateKey(PRIMARY_KEY) });
  const account = { privateKey: CLIENT_KEY };
  await client.append({ account, transactions: [text('a')] });

  const res = await fetch(`${primary.rpcUrl}/events?fromHeight=0`);
  const reader = res.body!.getReader();
  let stream = '';
  const finals = (): { height: number; headerHash: string }[] =>
    [...stream.matchAll(/event: final\ndata: (\{[^\n]*\})\n\n/g)].map((m) => JSON.parse(m[1]!));
  const readUntilFinal = async (height: number) => {
    while (!finals().some((f) => f.height === height)) stream += new TextDecoder().decode((await reader.read()).value);
  };
  const first = await client.info();
  assert.ok(first.finalizedHeight >= 0);
  await readUntilFinal(first.finalizedHeight);
  assert.deepEqual(finals()[0], { height: first.finalizedHeight, headerHash: first.finalizedHeaderHash }, 'the final height on connect');

  for (const tag of ['b', 'c', 'd']) await client.append({ account, transactions: [text(tag)] });
  const last = await client.info();
  await readUntilFinal(last.finalizedHeight);
  await reader.cancel();
  const heights = finals().map((f) => f.height);
  assert.deepEqual(heights, [...heights].sort((a, b) => a - b), 'final heights rise');
  assert.equal(new Set(heights).size, heights.length, 'each final height once');
  assert.ok(heights.length >= 2, `at least one rise announced: ${heights}`);
  assert.deepEqual(finals().at(-1), { height: last.finalizedHeight, headerHash: last.finalizedHeaderHash });
  for (const f of finals()) {
    const batch = await client.getBatch(f.height);
    assert.equal(batch.headerHash, f.headerHash, `the header hash of height ${f.height}`);
  }
});
