/** The process launcher (src/cli/launcher.ts) on tiny child scripts: started line, early exit, stop escalation. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launch, LaunchError } from '../src/cli/launcher.ts';

const STARTED = { event: 'started', mode: 'replica', rpc: 'http://127.0.0.1:1/', multiaddrs: [], address: null, peerId: 'p', primary: '0x', logId: '0x', chainId: 1 };

async function script(t: TestContext, source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'launcher-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'child.mjs');
  await writeFile(file, source);
  return file;
}

test('waits for the started line among other output, collects stderr, stops with SIGTERM', async (t) => {
  const file = await script(t, `
    process.on('SIGTERM', () => process.exit(0));
    console.log('not json'); console.log('{"event":"other"}');
    console.error('a log line');
    console.log(${JSON.stringify(JSON.stringify(STARTED))});
    setInterval(() => {}, 1000);
  `);
  const p = launch({ name: 'child', script: file, args: [] });
  assert.deepEqual(await p.waitStarted(10_000), STARTED);
  assert.ok(p.running);
  assert.deepEqual(await p.stop(5_000), { code: 0, signal: null, killed: false });
  assert.match(p.stderr(), /a log line/);
  assert.ok(!p.running);
});

test('a process that exits before its started line is a LaunchError carrying the exit', async (t) => {
  const file = await script(t, `console.error('cannot start'); process.exit(3);`);
  const p = launch({ name: 'child', script: file, args: [] });
  const err = await p.waitStarted(10_000).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof LaunchError);
  assert.deepEqual(err.exit, { code: 3, signal: null });
  assert.match(err.message, /child exited \(code 3\) before/);
});

test('stop escalates to SIGKILL after the grace period; kill is SIGKILL at once; stderr can go to a file', async (t) => {
  const file = await script(t, `
    process.on('SIGTERM', () => console.error('ignoring SIGTERM'));
    console.log('ready');
    setInterval(() => {}, 1000);
  `);
  const logFile = `${file}.log`;
  const stubborn = launch({ name: 'stubborn', script: file, args: [], logFile });
  await stubborn.waitForLine((l) => l === 'ready', 10_000);
  assert.deepEqual(await stubborn.stop(300), { code: null, signal: 'SIGKILL', killed: true });
  assert.match(stubborn.stderr(), /ignoring SIGTERM/);

  const crashed = launch({ name: 'crashed', script: file, args: [] });
  await crashed.waitForLine((l) => l === 'ready', 10_000);
  assert.deepEqual(await crashed.kill(), { code: null, signal: 'SIGKILL' });
});
