/** How node processes are run (src/node/runtime.ts): the launchers give them the malloc setting, an operator's own value wins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NODE_RUNTIME_ENV, NODE_RUNTIME_FLAGS, nodeRuntimeEnv } from '../src/node/runtime.ts';

test('a node is launched with a fixed malloc mmap threshold unless the environment sets one', () => {
  assert.equal(nodeRuntimeEnv({ PATH: '/bin' }).MALLOC_MMAP_THRESHOLD_, '131072');
  assert.equal(nodeRuntimeEnv({ PATH: '/bin' }).PATH, '/bin');
  assert.equal(nodeRuntimeEnv({ MALLOC_MMAP_THRESHOLD_: '65536' }).MALLOC_MMAP_THRESHOLD_, '65536');
});

test('the CLI shebang carries the same environment and flags as the launchers', () => {
  const shebang = readFileSync(new URL('../cmd/sequencer.ts', import.meta.url), 'utf8').split('\n')[0];
  const env = Object.entries(NODE_RUNTIME_ENV).map(([k, v]) => `${k}=${v}`);
  assert.equal(shebang, `#!/usr/bin/env -S ${[...env, 'node', ...NODE_RUNTIME_FLAGS].join(' ')}`);
});
