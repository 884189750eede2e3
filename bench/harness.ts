/**
 * What the benchmark scripts share (bench/run.ts, bench/isolation.ts, bench/soak.ts): a receiver
 * process, `harepost serve` from dist/ as a child with an account made by the CLI and its domain
 * verified through DNS TXT on a loopback DNS server, a keep-alive API client, a PostgreSQL schema
 * made fresh and dropped after, the machine's CPU time (/proc/stat) for CPU per delivery, and the
 * clean-up that kills every child on exit, error or SIGINT.
 *
 * Everything listens on and dials loopback only (127.0.0.1): the DNS server answers the bench
 * domains with 127.0.0.1 and the service may reach nothing else (HAREPOST_ALLOW_PRIVATE_NETWORKS).
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Pool, request } from 'undici';
import { createTestPki, type TestPki } from '../test/support/ca.js';
import { type DnsServer, startDnsServer } from '../test/support/dns-server.js';
import { freePort } from '../test/support/free-port.js';

export const ROOT = new URL('..', import.meta.url).pathname;
export const PG_BASE = process.env.HAREPOST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type StoreKind = 'sqlite' | 'postgres';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond precision; the bench receiver stamps arrivals with it. */
export const wallNow = () => performance.timeOrigin + performance.now();

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Sends `{cmd}` to a child over IPC; resolves with its first answer that carries `key`. */
export function ask<T>(child: ChildProcess, cmd: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send({ cmd });
  });
}

// ---------------------------------------------------------------------------------------------
// Clean-up: children die with the script, however it ends.

const children = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];
let cleaning: Promise<void> | null = null;
/** Set when a signal stops the script: what then fails (killed children) is not worth printing. */
let signalled = false;

/** Kills `child` (SIGKILL) with the script, however it ends. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs at the end (normal, error or signal), last registered first. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/**
 * What every benchmark starts from: a temporary folder (`harepost-<name>-…`), a test CA with a
 * certificate for `host`, and a loopback DNS server resolving `host` to 127.0.0.1 — each removed
 * or closed at the end (onCleanup).
 */
export async function startBenchPlace(name: string, host: string): Promise<{ dir: string; pki: TestPki; dns: DnsServer }> {
  const dir = mkdtempSync(join(tmpdir(), `harepost-${name}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await createTestPki({ names: [host], dir: join(dir, 'pki') });
  const dns = await startDnsServer();
  onCleanup(() => dns.close());
  dns.setA(host, ['127.0.0.1']);
  return { dir, pki, dns };
}

/** Kills the children still running, then runs the clean-ups. Safe to call more than once. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error('clean-up step failed:', (err as Error).message);
      }
    }
  })();
  return cleaning;
}

process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    signalled = true;
    console.error(`\n${signal}: stopping`);
    const hardStop = setTimeout(() => process.exit(130), 10_000);
    hardStop.unref();
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs `main`; on failure prints the error, cleans up and exits 1; on success cleans up and exits 0. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    async (err: unknown) => {
      if (!signalled) console.error(err);
      await cleanup();
      process.exit(1);
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Receiver process (bench/receiver.ts).

export interface ReceiverStats {
  /** Answered 200 at once (the arrivals). */
  ok: number;
  /** Answered 500 (paths under /fail). */
  failed: number;
  /** Answered 200 after 2–3 s (paths under /slow). */
  slow: number;
  /** Answered 200 after 200 ms (paths under /wait). */
  waited: number;
  /** Requests under /hang never answered: still open, and ever received. */
  hangOpen: number;
  hangTotal: number;
  connections: number;
}

export interface ReceiverProcess {
  child: ChildProcess;
  port: number;
  /** Every arrival (queue id, ms) since the last reset. */
  arrivals(): Promise<Array<[string, number]>>;
  /** Arrivals since the last drain (then forgotten), and totals since start. */
  drain(): Promise<{ drain: Array<[string, number]>; totals: ReceiverStats }>;
  count(): Promise<{ count: number; arrivals: number }>;
  stats(): Promise<ReceiverStats>;
  /** The receiver process's own `process.cpuUsage()` (µs since it started). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  reset(): Promise<void>;
  stop(): void;
}

/** Forks bench/receiver.ts (HTTPS with `tls`, else HTTP) on 127.0.0.1, an OS-chosen port. */
export async function startReceiverProcess(tls?: { certPath: string; keyPath: string }): Promise<ReceiverProcess> {
  const child = track(
    fork(join(ROOT, 'bench/receiver.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...(tls ? { BENCH_TLS_CERT: tls.certPath, BENCH_TLS_KEY: tls.keyPath } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`receiver exited (${code}) before listening`)));
  });
  return {
    child,
    port,
    arrivals: async () => (await ask<{ arrivals: Array<[string, number]> }>(child, 'arrivals', 'arrivals')).arrivals,
    drain: () => ask(child, 'drain', 'drain'),
    count: () => ask(child, 'count', 'arrivals'),
    stats: async () => (await ask<{ stats: ReceiverStats }>(child, 'stats', 'stats')).stats,
    cpuUsage: async () => (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'cpu', 'cpu')).cpu,
    reset: async () => {
      await ask(child, 'reset', 'reset');
    },
    stop: () => {
      if (child.connected) child.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU time: the whole machine's, less the driver's and the receiver's.

let clockTicks: number | null = null;

/** Jiffies per second (`getconf CLK_TCK`, usually 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === null) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout?.trim());
    clockTicks = out.status === 0 && Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/**
 * Busy time of all CPUs since boot, in ms, from the `cpu` line of /proc/stat:
 * user + nice + system + irq + softirq + steal (guest time is already inside user and nice).
 */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return ((user + nice + system + irq + softirq + steal) * 1000) / clockTicksPerSecond();
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

export interface CpuSpent {
  /** All CPUs' busy time over the phase (/proc/stat), ms. */
  machineMs: number;
  /** This process's (the driver's, and the loopback DNS server's it hosts), ms. */
  driverMs: number;
  /** The receiver process's, ms. */
  receiverMs: number;
  /** machine − driver − receiver: what the system under test (service and its database or broker) spent, ms. */
  systemMs: number;
  /** Wall time of the phase, ms. */
  wallMs: number;
}

/** Starts counting CPU time now; `stop()` gives what was spent since. Anything else running on the machine counts too. */
export async function startCpuMeter(receiver: Pick<ReceiverProcess, 'cpuUsage'>): Promise<{ stop(): Promise<CpuSpent> }> {
  const receiver0 = await receiver.cpuUsage();
  const driver0 = process.cpuUsage();
  const machine0 = machineBusyMs();
  const wall0 = performance.now();
  return {
    async stop() {
      const machineMs = machineBusyMs() - machine0;
      const driverMs = cpuMs(process.cpuUsage(driver0));
      const wallMs = performance.now() - wall0;
      const receiverMs = cpuMs(await receiver.cpuUsage()) - cpuMs(receiver0);
      return { machineMs, driverMs, receiverMs, systemMs: machineMs - driverMs - receiverMs, wallMs };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Database.

export interface BenchDatabase {
  url: string;
  /** The PostgreSQL schema made for this run, or null for a file. */
  schema: string | null;
  drop(): Promise<void>;
}

/** A database file in `dir`, or a fresh PostgreSQL schema (dropped by `drop()` and on clean-up). */
export function benchDatabase(store: StoreKind, dir: string, prefix = 'hp_bench'): BenchDatabase {
  if (store === 'sqlite') return { url: join(dir, `harepost-${store}.db`), schema: null, drop: async () => undefined };
  if (store !== 'postgres') throw new Error(`--store must be sqlite, postgres or both`);
  const schema = `${prefix}_${Date.now().toString(36)}`;
  const u = new URL(PG_BASE);
  u.searchParams.set('schema', schema);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    const client = new pg.Client({ connectionString: PG_BASE, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await client.end();
    }
  };
  onCleanup(drop);
  return { url: u.toString(), schema, drop };
}

// ---------------------------------------------------------------------------------------------
// The service.

export interface ServiceOptions {
  databaseUrl: string;
  dns: DnsServer;
  /** CA the service trusts for HTTPS targets; null: plain HTTP targets allowed. */
  caCertPath: string | null;
  /** Keep-alive connections of the API client. */
  connections: number;
  /** More HAREPOST_* settings (override the defaults below). */
  env?: Record<string, string>;
  /**
   * Runs once the account exists and before `harepost serve` starts (e.g. to write rows straight
   * into the store), with the account and the service's environment.
   */
  beforeServe?: (account: { id: string; key: string }, env: NodeJS.ProcessEnv) => Promise<void>;
}

export interface ApiAnswer {
  status: number;
  body: any;
}

export interface Service {
  port: number;
  pid: number;
  key: string;
  /** The id of the account made at start (the one `key` belongs to). */
  accountId: string;
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  api: Pool;
  call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer>;
  /** Adds `domain` and verifies it through DNS TXT (the bench DNS server answers the challenge). */
  verifyDomain(domain: string): Promise<void>;
  /** GET /metrics as `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>;
  /** VmRSS of the service process, in MiB (from /proc/<pid>/status). */
  rssMiB(): number;
  /** SIGTERM, SIGKILL after `killAfterMs`; closes the API client. */
  stop(killAfterMs?: number): Promise<void>;
}

/** `harepost` from dist/ when built (unless BENCH_FROM_SOURCE=1), else the TypeScript source through tsx. */
export function cliArgs(): string[] {
  const built = process.env.BENCH_FROM_SOURCE !== '1' && existsSync(join(ROOT, 'dist/cli/main.js'));
  return built ? [join(ROOT, 'dist/cli/main.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

/**
 * Makes an account with `harepost accounts create`, starts `harepost serve` as a child on a free
 * loopback port, and waits until /readyz answers 200.
 */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(opts.caCertPath !== null ? { NODE_EXTRA_CA_CERTS: opts.caCertPath } : {}),
    HAREPOST_DATABASE_URL: opts.databaseUrl,
    HAREPOST_HOST: '127.0.0.1',
    HAREPOST_PORT: String(port),
    HAREPOST_DNS_SERVERS: opts.dns.address,
    HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
    HAREPOST_ALLOW_HTTP_TARGETS: opts.caCertPath !== null ? 'false' : 'true',
    HAREPOST_RATE_LIMIT_PER_SECOND: '10000000',
    HAREPOST_LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const cli = cliArgs();
  const created = spawnSync(process.execPath, [...cli, 'accounts', 'create', '--name', 'bench', '--json'], { env, encoding: 'utf8' });
  if (created.status !== 0) throw new Error(created.stderr);
  const key = JSON.parse(created.stdout).live_key as string;
  const accountId = JSON.parse(created.stdout).account_id as string;
  await opts.beforeServe?.({ id: accountId, key }, env);
  // BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": Node flags for the service alone
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = track(spawn(process.execPath, [...nodeArgs, ...cli, 'serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] }));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const api = new Pool(`http://127.0.0.1:${port}`, { connections: opts.connections, pipelining: 1 });
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await api.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`harepost serve exited with ${child.exitCode}`);
    try {
      const res = await request(`http://127.0.0.1:${port}/readyz`);
      await res.body.dump();
      if (res.statusCode === 200) break;
    } catch {
      /* not up yet */
    }
    if (i > 200) throw new Error('service did not start');
    await sleep(100);
  }

  let stopped: Promise<void> | null = null;
  return {
    port,
    pid: child.pid!,
    key,
    accountId,
    child,
    env,
    api,
    call,
    async verifyDomain(domain) {
      const added = await call('POST', '/v1/domains', { domain });
      if (added.status !== 201 && added.status !== 200) throw new Error(`add domain ${added.status} ${JSON.stringify(added.body)}`);
      opts.dns.setTxt(added.body.record.name, [added.body.record.value]);
      const verified = await call('POST', '/v1/domains/verify', { domain });
      if (verified.body.status !== 'verified') throw new Error(`verify failed: ${JSON.stringify(verified.body)}`);
    },
    async metrics() {
      const res = await request(`http://127.0.0.1:${port}/metrics`);
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`/metrics ${res.statusCode}`);
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const at = line.lastIndexOf(' ');
        out.set(line.slice(0, at), Number(line.slice(at + 1)));
      }
      return out;
    },
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!m) throw new Error(`no VmRSS in /proc/${child.pid}/status`);
      return Number(m[1]) / 1024;
    },
    stop(killAfterMs = 30_000) {
      stopped ??= (async () => {
        await api.close();
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Throughput, measured the way bench/run.ts measures it (its phase 1).

/** Waits until `receiver` counts `expected` arrivals (or `timeoutMs` passes). */
export async function awaitArrivals(receiver: Pick<ReceiverProcess, 'count'>, expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await receiver.count();
    if (c.arrivals >= expected || Date.now() > deadline) return;
    await sleep(100);
  }
}

/**
 * The driver straight to the receiver (`base`, e.g. https://127.0.0.1:port), `concurrency`
 * keep-alive connections, `n` POSTs of `payload`: requests/s. Resets the receiver after.
 */
export async function measureReceiverCeiling(opts: {
  receiver: Pick<ReceiverProcess, 'reset'>;
  base: string;
  /** For HTTPS: the CA to trust and the name the receiver's certificate carries. */
  tls: { ca: string; servername: string } | null;
  payload: string;
  n: number;
  concurrency: number;
}): Promise<number> {
  const direct = new Pool(opts.base, { connections: opts.concurrency, connect: opts.tls ?? {} });
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (done < opts.n) {
        done++;
        const r = await direct.request({ method: 'POST', path: '/hook', headers: { 'content-type': 'application/json' }, body: opts.payload });
        await r.body.dump();
      }
    }),
  );
  const ceiling = opts.n / ((performance.now() - start) / 1000);
  await direct.close();
  await opts.receiver.reset();
  return ceiling;
}

export interface SendThroughput {
  /** Sends answered 202, per second, from the first send issued to the last 202. */
  sendsPerSecond: number;
  /** Distinct deliveries per second, from the first send issued to the last arrival. */
  deliveriesPerSecond: number;
  /** Distinct queue ids that arrived. */
  delivered: number;
  /** Arrivals past the first of each queue id. */
  duplicates: number;
  cpu: CpuSpent;
  /** Every arrival (queue id, wall ms) of the phase. */
  arrivals: Array<[string, number]>;
}

/**
 * `n` sends as fast as `concurrency` callers can go (`call` must answer 202), delivery running
 * alongside; waits for `n` arrivals (at most `timeoutMs`), then resets the receiver.
 */
export async function measureSendThroughput(opts: {
  call: (method: 'POST', path: string, body: unknown) => Promise<ApiAnswer>;
  receiver: Pick<ReceiverProcess, 'count' | 'arrivals' | 'reset' | 'cpuUsage'>;
  sendBody: (i: number) => unknown;
  n: number;
  concurrency: number;
  timeoutMs?: number;
}): Promise<SendThroughput> {
  let next = 0;
  const meter = await startCpuMeter(opts.receiver);
  const t0 = wallNow();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.n) {
        const i = next++;
        const r = await opts.call('POST', '/v1/send', opts.sendBody(i));
        if (r.status !== 202) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  const acceptSeconds = (wallNow() - t0) / 1000;
  await awaitArrivals(opts.receiver, opts.n, opts.timeoutMs ?? 300_000);
  const cpu = await meter.stop();
  const arrivals = await opts.receiver.arrivals();
  const lastArrival = arrivals.reduce((max, [, t]) => Math.max(max, t), -Infinity);
  const e2eSeconds = (lastArrival - t0) / 1000;
  const delivered = new Set(arrivals.map(([id]) => id)).size;
  await opts.receiver.reset();
  return {
    sendsPerSecond: opts.n / acceptSeconds,
    deliveriesPerSecond: delivered / e2eSeconds,
    delivered,
    duplicates: arrivals.length - delivered,
    cpu,
    arrivals,
  };
}
