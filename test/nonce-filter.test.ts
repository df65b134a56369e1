/**
 * The store's nonce filter (src/storage/nonce-filter.ts): no false negatives, ever, across its growth; few false
 * positives; and a LogStore that skips LevelDB for nonces the filter never saw still finds every stored nonce,
 * after a reopen too (the filter is rebuilt from the disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { GENESIS_TIP, nonceKey, type Tip } from '../src/core/batch.ts';
import { NonceFilter } from '../src/storage/nonce-filter.ts';
import { LogStore } from '../src/storage/log-store.ts';
import { tempDir } from './helpers/network.ts';

test('the nonce filter has no false negatives as it grows, and few false positives', () => {
  const filter = new NonceFilter();
  const sender = randomBytes(20);
  const added: Uint8Array[] = [];
  for (let n = 0n; n < 100_000n; n++) {
    const k = nonceKey(sender, n);
    filter.add(k);
    added.push(k);
  }
  for (const k of added) assert.ok(filter.mayContain(k));
  assert.equal(filter.size, 100_000);
  let positives = 0;
  for (let n = 100_000n; n < 200_000n; n++) if (filter.mayContain(nonceKey(sender, n))) positives++;
  assert.ok(positives < 500, `${positives} false positives in 100,000`);
  // Sized up front for what it is about to be given (as the store does not: it grows while scanning).
  const sized = new NonceFilter(100_000);
  for (const k of added) sized.add(k);
  for (const k of added) assert.ok(sized.mayContain(k));
  assert.equal(sized.size, 100_000);
});

test('the store finds every stored nonce (filter or not), also after a reopen; unused ones read as undefined', async (t) => {
  const dir = await tempDir();
  t.after(() => dir.remove());
  const sender = randomBytes(20);
  const used = [nonceKey(sender, 1n), nonceKey(sender, 2n)];
  const fresh = nonceKey(sender, 3n);
  const tip: Tip = { height: 0, headerHash: new Uint8Array(32).fill(1), nextSeq: 2, headHash: new Uint8Array(32).fill(2), timestamp: 1 };

  let store = await LogStore.open(dir.path, 'nonce-filter test');
  assert.deepEqual(await store.nonceHeights([...used, fresh]), [undefined, undefined, undefined]);
  await store.append({ bytes: Uint8Array.of(1, 2, 3), prevTip: GENESIS_TIP, tip, nonceKeys: used });
  assert.deepEqual(await store.nonceHeights([fresh, ...used]), [undefined, 0, 0]);
  assert.deepEqual(await store.nonceHeights([]), []);
  await store.close();

  store = await LogStore.open(dir.path, 'nonce-filter test');
  t.after(() => store.close());
  assert.deepEqual(await store.nonceHeights([used[1], fresh, used[0]]), [0, undefined, 0]);
});
