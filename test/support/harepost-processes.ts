/**
 * Harepost as separate processes on one PostgreSQL database, for the scale-out tests in
 * test/e2e-pg: a fresh schema, a CA and a test DNS server for *.example.test, the real `harepost`
 * CLI, `serve --role api|worker` children and stopping them; an HTTPS server on loopback for a
 * test's own receiver; and which child process holds a TCP connection, read from Linux's socket
 * tables (/proc/net/tcp and /proc/<pid>/fd) — nothing in Harepost is instrumented for that.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool, request } from 'undici';
import { createTestPki, type TestPki } from './ca.js';
import { startDnsServer, type DnsServer } from './dns-server.js';
import { dropSchema, freshSchemaUrl } from './postgres.js';
import { waitFor } from './wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

// ---------------------------------------------------------------------------------------------
// Which process holds a connection

/** Client port → pid, for IPv4 connections to `serverPort` held by one of `pids` (Linux /proc). */
export function socketOwners(pids: readonly number[], serverPort: number): Map<number, number> {
  const inodeOwner = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodeOwner.set(m[1]!, pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  const out = new Map<number, number>();
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return out;
  }
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const localPort = Number.parseInt(f[1]!.split(':')[1] ?? '', 16);
    const remotePort = Number.parseInt(f[2]!.split(':')[1] ?? '', 16);
    const owner = inodeOwner.get(f[9]!);
    if (remotePort === serverPort && owner !== undefined) out.set(localPort, owner);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// An HTTPS server for a test's receiver

export interface LoopbackHttpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1 (certificate from `pki`) with no request or header timeouts and
 * 30 s keep-alive; `onSecureConnection` sees each TLS connection. Socket and TLS errors are
 * ignored; close() destroys the connections still open.
 */
export async function listenHttps(
  pki: TestPki,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  onSecureConnection: (tls: Socket) => void,
): Promise<LoopbackHttpsServer> {
  const sockets = new Set<Socket>();
  const server: HttpsServer = createHttpsServer({ cert: pki.certPem, key: pki.keyPem }, handler);
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 30_000;
  server.on('connection', (raw: Socket) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => sockets.delete(raw));
  });
  server.on('secureConnection', (tls: Socket) => {
    tls.on('error', () => undefined);
    onSecureConnection(tls);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('receiver: unexpected address');
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The processes

export interface ServeProcess {
  role: 'api' | 'worker';
  child: ChildProcess;
  port: number;
  /** What it printed (stderr and stdout: pino logs to stdout). */
  stderr: () => string;
}

export interface ApiAnswer {
  status: number;
  /** Parsed JSON; the text itself when it is not JSON. */
  body: any;
}

export interface HarepostProcesses {
  dir: string;
  pki: TestPki;
  /** Resolves *.example.test to 127.0.0.1; the processes use it. */
  dns: DnsServer;
  /** The run's own schema (tables are `${schema}.deliveries`, …). */
  schema: string;
  /** A client on the database (not bound to the schema). */
  db: pg.Client;
  /** The environment every process gets. */
  env: NodeJS.ProcessEnv;
  /** The live key of the account made for the run. */
  key: string;
  /** Every `serve` process spawned, in order. */
  children: ServeProcess[];
  /** Runs the CLI to completion; asserts it exits 0; returns its stdout. */
  cli(...args: string[]): string;
  /** Spawns `harepost serve --role <role>` on `port`; `extraEnv` adds to its environment (e.g. LD_PRELOAD). */
  spawnServe(role: 'api' | 'worker', port: number, extraEnv?: Record<string, string>): ServeProcess;
  /** Resolves once every process spawned so far answers /readyz with 200. */
  allReady(): Promise<void>;
  /** Sends the api calls through a pool of `connections` from now on (closed by close()). */
  poolApi(connections: number): void;
  /** Calls the api process with the run's key; `body` goes as JSON. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  workerPids(): number[];
  /** The last `chars` characters each process printed, one process after another. */
  logs(chars: number): string;
  /** Stops the processes (SIGTERM; SIGKILL after 5 s), then closes and removes all the rest. */
  close(): Promise<void>;
}

/** Resolves with how the child ended, or null if it is still running after `ms`. */
export function exited(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal });
    });
  });
}

async function ready(entry: ServeProcess): Promise<void> {
  await waitFor(
    async () => {
      if (entry.child.exitCode !== null) throw new Error(`${entry.role} exited ${entry.child.exitCode}: ${entry.stderr()}`);
      try {
        const r = await request(`http://127.0.0.1:${entry.port}/readyz`);
        await r.body.dump();
        return r.statusCode === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, message: `${entry.role} on port ${entry.port} did not become ready` },
  );
}

/**
 * Sets up for Harepost processes on PostgreSQL at `base`: a directory (named from `tmpPrefix`), a
 * CA for example.test, the DNS server, a fresh schema, the environment (`env` adds to it) and an
 * account named `accountName`. Spawns nothing yet. What is made is undone if a step fails.
 */
export async function harepostProcesses(
  base: string,
  o: { tmpPrefix: string; accountName: string; env: Record<string, string> },
): Promise<HarepostProcesses> {
  let dir: string | undefined;
  let dns: DnsServer | undefined;
  let schema: string | undefined;
  let db: pg.Client | undefined;
  let apiPool: Pool | undefined;
  const children: ServeProcess[] = [];

  const close = async () => {
    for (const { child } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    for (const { child } of children) {
      if ((await exited(child, 5000)) === null) child.kill('SIGKILL');
    }
    await apiPool?.close().catch(() => undefined);
    await db?.end().catch(() => undefined);
    await dns?.close();
    if (schema) await dropSchema(schema, base);
    if (dir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    dir = mkdtempSync(join(tmpdir(), o.tmpPrefix));
    const pki = await createTestPki({ names: ['example.test', '*.example.test'], dir: join(dir, 'pki') });
    dns = await startDnsServer();
    dns.setA('*.example.test', ['127.0.0.1']);
    const fresh = freshSchemaUrl(base);
    schema = fresh.schema;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: pki.caCertPath,
      HAREPOST_DATABASE_URL: fresh.url,
      HAREPOST_DNS_SERVERS: dns.address,
      HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
      HAREPOST_RATE_LIMIT_PER_SECOND: '100000',
      HAREPOST_LOG_LEVEL: 'warn',
      ...o.env,
    };

    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `harepost ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const key: string = JSON.parse(cli('accounts', 'create', '--name', o.accountName, '--json')).live_key;
    db = new pg.Client({ connectionString: base, connectionTimeoutMillis: 5000 });
    await db.connect();

    const apiPort = () => {
      const entry = children.find((c) => c.role === 'api');
      if (!entry) throw new Error('no api process was spawned');
      return entry.port;
    };

    return {
      dir,
      pki,
      dns,
      schema,
      db,
      env,
      key,
      children,
      cli,
      spawnServe(role, port, extraEnv = {}) {
        const child = spawn(process.execPath, [...CLI, 'serve', '--role', role], {
          cwd: ROOT,
          env: { ...env, HAREPOST_PORT: String(port), ...extraEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.stdout!.on('data', (d) => (stderr += d)); // pino logs to stdout: keep warnings for the report
        const entry: ServeProcess = { role, child, port, stderr: () => stderr };
        children.push(entry);
        return entry;
      },
      allReady: async () => {
        await Promise.all(children.map(ready));
      },
      poolApi(connections) {
        apiPool = new Pool(`http://127.0.0.1:${apiPort()}`, { connections });
      },
      async api(method, path, body) {
        const options = {
          method: method as 'GET',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        };
        const res = apiPool ? await apiPool.request({ path, ...options }) : await request(`http://127.0.0.1:${apiPort()}${path}`, options);
        const text = await res.body.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the assertion message
        }
        return { status: res.statusCode, body: parsed };
      },
      workerPids: () => children.filter((c) => c.role === 'worker').map((c) => c.child.pid!),
      logs: (chars) => children.map((c) => `[${c.role} ${c.child.pid}] ${c.stderr().slice(-chars)}`).join('\n'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
