/**
 * Starts one do-it-yourself sender (bench/peers/bullmq-sender.ts or pgboss-sender.ts) as a child
 * process, as bench/harness.ts starts `harepost serve`, with a queue or schema of its own for this
 * run, and removes that queue (BullMQ: obliterated) or schema (pg-boss: dropped) when stopped or on
 * clean-up.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { DnsServer } from '../../test/support/dns-server.js';
import { type ApiAnswer, benchDatabase, onCleanup, PG_BASE, ROOT, track } from '../harness.js';

export type PeerKind = 'bullmq' | 'pgboss';

export const PEER_KINDS: readonly PeerKind[] = ['bullmq', 'pgboss'];

export const PEER_TITLES: Record<PeerKind, string> = {
  bullmq: 'do-it-yourself: BullMQ + Redis',
  pgboss: 'do-it-yourself: pg-boss + PostgreSQL',
};

export interface PeerOptions {
  dns: DnsServer;
  /** CA the peer trusts for HTTPS targets (NODE_EXTRA_CA_CERTS); null: none added. */
  caCertPath: string | null;
  /** Keep-alive connections of the API client. */
  connections: number;
}

export interface RunningPeer {
  pid: number;
  call(method: 'POST', path: string, body: unknown): Promise<ApiAnswer>;
  /** SIGTERM (SIGKILL after 15 s), then removes its queue or schema. */
  stop(): Promise<void>;
}

export async function startPeer(kind: PeerKind, opts: PeerOptions): Promise<RunningPeer> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(opts.caCertPath !== null ? { NODE_EXTRA_CA_CERTS: opts.caCertPath } : {}),
    PEER_DNS_SERVER: opts.dns.address,
  };
  let dispose: () => Promise<void>;
  if (kind === 'bullmq') {
    const queueName = `harepost-bench-${Date.now().toString(36)}-${process.pid}`;
    env.PEER_QUEUE = queueName;
    let done = false;
    dispose = async () => {
      if (done) return;
      done = true;
      const { Queue } = await import('bullmq');
      const queue = new Queue(queueName, { connection: { host: '127.0.0.1', port: 6379 } });
      try {
        await queue.obliterate({ force: true });
      } finally {
        await queue.close();
      }
    };
  } else {
    const database = benchDatabase('postgres', '', 'pgboss_bench');
    env.PEER_PG_URL = PG_BASE;
    env.PEER_PG_SCHEMA = database.schema!;
    dispose = database.drop;
  }
  onCleanup(dispose);

  const script = join(ROOT, `bench/peers/${kind}-sender.ts`);
  const child = track(fork(script, [], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${kind} sender exited (${code}) before listening`)));
  });

  const api = new Pool(`http://127.0.0.1:${port}`, { connections: opts.connections, pipelining: 1 });
  let stopped: Promise<void> | null = null;
  return {
    pid: child.pid!,
    async call(method, path, body) {
      const res = await api.request({ method, path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.statusCode, body: (await res.body.json()) as any };
    },
    stop() {
      stopped ??= (async () => {
        await api.close();
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        }
        await dispose();
      })();
      return stopped;
    },
  };
}
