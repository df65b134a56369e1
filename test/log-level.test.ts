/**
 * `--log-level` on every command (docs/cli.md): the JSON lines a command writes to stderr follow it, results on
 * stdout do not change, and a level that does not exist is a usage error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { startPrimary, tempDir } from './helpers/network.ts';

const jsonLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { level: string; msg: string; method?: string; outcome?: string });

test('--log-level debug makes a client command log its RPC calls to stderr; the default logs nothing; stdout is the same', async (t) => {
  const dir = await tempDir();
  const primary = await startPrimary(join(dir.path, 'p'));
  t.after(async () => { await primary.stop(); await dir.remove(); });

  const quiet = await runCli(['read', '--rpc', primary.rpcUrl]);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.equal(quiet.stderr, '', 'nothing logged at the default level');

  const debug = await runCli(['read', '--rpc', primary.rpcUrl, '--log-level', 'debug']);
  assert.equal(debug.code, 0, debug.stderr);
  assert.equal(debug.stdout, quiet.stdout);
  const lines = jsonLines(debug.stderr);
  assert.ok(lines.every((l) => l.level === 'debug'));
  assert.ok(lines.some((l) => l.msg === 'rpc call' && l.method === 'sequencer_read' && l.outcome === 'ok'), debug.stderr);

  const error = await runCli(['info', '--rpc', primary.rpcUrl, '--log-level', 'error']);
  assert.equal(error.code, 0);
  assert.equal(error.stderr, '');
});

test('every command takes --log-level, says so in its help, and refuses a level that does not exist', async () => {
  const keygen = await runCli(['keygen', '--log-level', 'debug']);
  assert.equal(keygen.code, 0, keygen.stderr);
  assert.deepEqual(jsonLines(keygen.stderr).map((l) => l.msg), ['command'], 'the parsed command, at debug level');
  const help = await runCli(['proofs', '--help']);
  assert.match(help.stdout, /--log-level LEVEL/);
  const bad = await runCli(['info', '--rpc', 'http://127.0.0.1:1', '--log-level', 'verbose']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--log-level: expected one of debug, info, warn, error, got 'verbose'/);
});
