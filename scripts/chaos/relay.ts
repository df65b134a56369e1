/**
 * A delaying TCP relay for the chaos harness (docs/chaos.md): this machine's kernel has no `netem`, so delay and
 * jitter go through this process, on the path between nodes. It runs in the root namespace as its own process (so
 * its timers do not share an event loop with the load or the checker).
 *
 * For every node j it listens on j's relay address (`routes[j].listen`) and forwards to j's own address; the
 * outgoing socket binds the relay address of the node that connected (`twinOf(client address)`), so node j sees
 * relayed traffic from node i coming from i's relay address, and a partition in j's namespace can name both.
 *
 * Every chunk is held `delayMs + random() * jitterMs` but never overtakes the chunk before it (TCP keeps order):
 * jitter shows as varying latency, not reordering of bytes. The parent sets the delay over IPC: {delayMs, jitterMs}.
 */
import { connect, createServer, type Socket } from 'node:net';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RelayRoute {
  /** Where the relay listens for connections meant for the node (the node's relay address). */
  readonly listen: string;
  /** The node's own address. */
  readonly target: string;
}

export interface RelayConfig {
  readonly port: number;
  readonly routes: readonly RelayRoute[];
}

export interface RelayDelay {
  readonly delayMs: number;
  readonly jitterMs: number;
}

/** The relay as the harness drives it: a child process, its delay set over IPC. */
export class RelayProcess {
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
  }

  static async start(config: RelayConfig): Promise<RelayProcess> {
    const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`relay exited (${code}) before listening`)));
    });
    return new RelayProcess(child);
  }

  /** For CPU accounting (the benchmarks' --hosts --delay-ms). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  setDelay(delay: RelayDelay): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('message', () => resolve());
      this.child.send(delay);
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

/**
 * Forwards `from` to `to`, each chunk held for the current delay. One queue and one timer per direction: chunks
 * leave strictly in arrival order (separate timers per chunk could fire out of order, timers having ms granularity).
 */
function pipeDelayed(from: Socket, to: Socket, delay: () => RelayDelay): void {
  const queue: { dueAt: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const pump = () => {
    timer = undefined;
    while (queue.length > 0 && queue[0].dueAt <= performance.now()) to.write(queue.shift()!.chunk);
    if (queue.length > 0) timer = setTimeout(pump, Math.max(1, queue[0].dueAt - performance.now()));
    else if (ended) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    const { delayMs, jitterMs } = delay();
    const lastDueAt = queue.at(-1)?.dueAt ?? 0;
    queue.push({ dueAt: Math.max(lastDueAt, performance.now() + delayMs + Math.random() * jitterMs), chunk });
    if (timer === undefined) pump();
  });
  from.on('end', () => {
    ended = true;
    if (timer === undefined) pump();
  });
  from.on('close', () => {
    if (!ended) to.destroy();
  });
}

function serve(config: RelayConfig): Promise<void> {
  let current: RelayDelay = { delayMs: 0, jitterMs: 0 };
  const twinOf = new Map<string, string>(config.routes.map((r) => [r.target, r.listen]));
  process.on('message', (d: RelayDelay) => {
    current = d;
    process.send?.('ok');
  });
  const listening = config.routes.map((route) => new Promise<void>((resolve, reject) => {
    const server = createServer((client) => {
      const localAddress = twinOf.get(client.remoteAddress?.replace(/^::ffff:/, '') ?? '');
      const upstream = connect({ host: route.target, port: config.port, localAddress });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      pipeDelayed(client, upstream, () => current);
      pipeDelayed(upstream, client, () => current);
    });
    server.once('error', reject);
    server.listen(config.port, route.listen, () => resolve());
  }));
  return Promise.all(listening).then(() => { process.send?.('listening'); });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.on('disconnect', () => process.exit(0));
  await serve(JSON.parse(process.argv[2]) as RelayConfig);
}
