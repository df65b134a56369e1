/**
 * Four validators of one log as real `sequencer start` processes on loopback (the first is view 0's leader), each
 * started with the peers started before it, for the tests that kill and restart them.
 */
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import { toHex } from '../../src/core/bytes.ts';
import { addressFromPrivateKey } from '../../src/core/signature.ts';
import { RpcClient } from '../../src/client/rpc-client.ts';
import type { StartedEvent } from '../../src/cli/started-event.ts';
import { cliEnv, freePorts, startNode, type CliProcess } from './cli.ts';
import { CHAIN_ID, CLIENT_KEY, LOG_ID, tempDir } from './network.ts';
import { KEYS, VALIDATORS } from './validators.ts';

export type ValidatorProcess = CliProcess & { started: StartedEvent };

export interface ValidatorProcesses {
  readonly dir: string;
  readonly nodes: ValidatorProcess[];
  readonly rpcs: RpcClient[];
  /** Starts validator i again on its store, with `peers` (multiaddrs), replacing nodes[i] and rpcs[i]; `env` adds to its environment. */
  restart(i: number, peers: readonly string[], env?: Record<string, string>): Promise<ValidatorProcess>;
}

export interface ValidatorProcessOptions {
  /** More addresses allowed to append, besides the test client's. */
  readonly allow?: readonly string[];
  /** Flags for validator i only. */
  readonly extraArgs?: (i: number) => readonly string[];
}

export async function startValidatorProcesses(t: TestContext, opts: ValidatorProcessOptions = {}): Promise<ValidatorProcesses> {
  const tmp = await tempDir();
  t.after(() => tmp.remove());
  const ports = await freePorts(2 * KEYS.length);
  const allow = [toHex(addressFromPrivateKey(CLIENT_KEY)), ...(opts.allow ?? [])].join(',');
  const argsOf = (i: number, peers: readonly string[]) => [
    '--mode', i === 0 ? 'primary' : 'validator', '--db', join(tmp.path, `v${i}`), '--rpc-port', String(ports[2 * i]), '--p2p-port', String(ports[2 * i + 1]),
    '--allow', allow, '--log-id', toHex(LOG_ID), '--chain-id', String(CHAIN_ID), '--validators', VALIDATORS.map((v) => toHex(v)).join(','),
    ...(opts.extraArgs?.(i) ?? []), ...(peers.length > 0 ? ['--peers', peers.join(',')] : ['--unsafe-skip-recovery']),
  ];
  const start = (i: number, peers: readonly string[], env: Record<string, string> = {}) => startNode(t, argsOf(i, peers), { env: cliEnv({ PRIVATE_KEY: toHex(KEYS[i]), ...env }) });
  const nodes: ValidatorProcess[] = [];
  for (let i = 0; i < KEYS.length; i++) nodes.push(await start(i, nodes.flatMap((n) => n.started.multiaddrs)));
  const rpcs = nodes.map((n) => new RpcClient(n.started.rpc));
  return {
    dir: tmp.path, nodes, rpcs,
    async restart(i, peers, env) {
      nodes[i] = await start(i, peers, env);
      rpcs[i] = new RpcClient(nodes[i].started.rpc);
      return nodes[i];
    },
  };
}
