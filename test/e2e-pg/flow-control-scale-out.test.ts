/**
 * Flow control across processes on PostgreSQL: one `serve --role api` and three
 * `serve --role worker` processes on one database. A destination's `max_in_flight` and
 * `rate_limit` are limits for all of them together, not per process: the receiver never has more
 * than max_in_flight requests of the destination at once, and no 1-second window holds more
 * arrivals than the rate allows — while the work is spread over several workers.
 *
 * Which worker sent a request is read from Linux's socket tables (/proc/net/tcp and
 * /proc/<pid>/fd), as in scale-out.test.ts: nothing in Harepost is instrumented for this.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { request } from 'undici';
import { createTestPki, type TestPki } from '../support/ca.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { InFlightGauge, maxInWindow } from '../support/flow.js';
import { freePort } from '../support/free-port.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';
import { sleep, waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
const WORKERS = 3;

const base = await postgresAvailable();

// ---------------------------------------------------------------------------------------------
// A receiver that knows which process each request came from

interface Hit {
  path: string;
  queueId: string;
  /** Date.now() when the request (body included) had arrived. */
  arrivedAt: number;
  /** The client's port on 127.0.0.1: which worker holds it is looked up in /proc. */
  remotePort: number;
  pid: number | null;
}

interface AttributingReceiver {
  port: number;
  hits: Hit[];
  /** How requests on a path are answered: a delay before 200 (default none). */
  delayFor: Map<string, number>;
  /** In-flight gauge per path (created on first use). */
  gauge(path: string): InFlightGauge;
  close(): Promise<void>;
}

/** Client port → pid, for IPv4 connections to `serverPort` held by one of `pids` (Linux /proc). */
function socketOwners(pids: readonly number[], serverPort: number): Map<number, number> {
  const inodeOwner = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
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

async function startAttributingReceiver(pki: TestPki, workerPids: () => readonly number[]): Promise<AttributingReceiver> {
  const hits: Hit[] = [];
  const delayFor = new Map<string, number>();
  const gauges = new Map<string, InFlightGauge>();
  const gauge = (path: string) => {
    let g = gauges.get(path);
    if (!g) gauges.set(path, (g = new InFlightGauge()));
    return g;
  };
  const sockets = new Set<Socket>();
  /** Owner of each client port, looked up once per connection while it is open. */
  const ownerOfPort = new Map<number, number | null>();
  let port = 0;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    req.on('error', () => undefined);
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      const done = gauge(path).enter();
      const remotePort = req.socket.remotePort ?? 0;
      const hit: Hit = { path, queueId: String(req.headers['x-harepost-queue-id'] ?? ''), arrivedAt: Date.now(), remotePort, pid: null };
      hits.push(hit);
      if (!ownerOfPort.has(remotePort) || ownerOfPort.get(remotePort) === null) {
        ownerOfPort.set(remotePort, socketOwners(workerPids(), port).get(remotePort) ?? null);
      }
      hit.pid = ownerOfPort.get(remotePort) ?? null;
      const answer = () => {
        done();
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
        res.end('ok');
      };
      const delay = delayFor.get(path) ?? 0;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
      res.on('close', done); // a connection that goes away ends the request too
    });
  };

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
    // a new connection may reuse a port an earlier one had: look its owner up afresh
    ownerOfPort.delete(tls.remotePort ?? 0);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('receiver: unexpected address');
  port = addr.port;
  return {
    port,
    hits,
    delayFor,
    gauge,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------------

describe('flow control across processes on PostgreSQL: 1 api + 3 workers', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let dir: string;
  let pki: TestPki;
  let dns: DnsServer;
  let receiver: AttributingReceiver;
  let schema: string;
  let db: pg.Client;
  let env: NodeJS.ProcessEnv;
  let key: string;
  let apiPort: number;
  const children: Array<{ role: string; child: ChildProcess; port: number; stderr: () => string }> = [];
  const workerPids = () => children.filter((c) => c.role === 'worker').map((c) => c.child.pid!);

  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `harepost ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  function spawnServe(role: 'api' | 'worker', port: number) {
    const child = spawn(process.execPath, [...CLI, 'serve', '--role', role], {
      cwd: ROOT,
      env: { ...env, HAREPOST_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => (stderr += d));
    const entry = { role, child, port, stderr: () => stderr };
    children.push(entry);
    return entry;
  }

  async function ready(entry: (typeof children)[number]): Promise<void> {
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

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await request(`http://127.0.0.1:${apiPort}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the assertion message
    }
    return { status: res.statusCode, body: parsed };
  }

  const exited = (child: ChildProcess, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      child.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });

  const logs = () => children.map((c) => `[${c.role} ${c.child.pid}] ${c.stderr().slice(-1500)}`).join('\n');

  async function newDestination(path: string, extra: Record<string, unknown>): Promise<string> {
    const r = await api('POST', '/v1/destinations', { url: `https://hooks.example.test:${receiver.port}${path}`, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  }

  /** Publishes `count` events of `type` (a few at a time); returns the queue_ids for `destinationId`. */
  async function publish(type: string, count: number, destinationId: string): Promise<string[]> {
    const ids: string[] = [];
    let next = 0;
    const sender = async () => {
      while (next < count) {
        const i = next++;
        const r = await api('POST', '/v1/events', { type, body: { i } });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        for (const d of r.body.deliveries) if (d.destination_id === destinationId) ids.push(d.queue_id);
      }
    };
    await Promise.all(Array.from({ length: 4 }, sender));
    return ids;
  }

  /** Waits until the store records every one of `ids` delivered. */
  async function allDelivered(ids: readonly string[], timeoutMs: number, what: string): Promise<void> {
    await waitFor(
      async () => {
        const r = await db.query(`SELECT count(*)::int AS n FROM ${schema}.deliveries WHERE id = ANY($1::text[]) AND status = 'delivered'`, [ids]);
        return r.rows[0].n === ids.length;
      },
      { timeoutMs, intervalMs: 100, message: `${what}: not every delivery was recorded delivered` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nworker logs:\n${logs()}`);
    });
  }

  function report(path: string, ids: readonly string[]) {
    const hits = receiver.hits.filter((h) => h.path === path);
    const perId = new Map<string, number>();
    for (const h of hits) perId.set(h.queueId, (perId.get(h.queueId) ?? 0) + 1);
    const duplicates = [...perId.values()].reduce((n, c) => n + (c - 1), 0);
    const perPid = new Map<number | null, number>();
    for (const h of hits) perPid.set(h.pid, (perPid.get(h.pid) ?? 0) + 1);
    const strangers = [...perId.keys()].filter((id) => !ids.includes(id));
    const missing = ids.filter((id) => !perId.has(id));
    return { hits, duplicates, perPid, strangers, missing };
  }

  const workersSeen = new Set<number>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-flow-scale-'));
    pki = await createTestPki({ names: ['example.test', '*.example.test'], dir: join(dir, 'pki') });
    receiver = await startAttributingReceiver(pki, workerPids);
    dns = await startDnsServer();
    dns.setA('*.example.test', ['127.0.0.1']);
    let dbUrl: string;
    ({ url: dbUrl, schema } = freshSchemaUrl(base!));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: pki.caCertPath,
      HAREPOST_DATABASE_URL: dbUrl,
      HAREPOST_DNS_SERVERS: dns.address,
      HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
      HAREPOST_RATE_LIMIT_PER_SECOND: '100000',
      HAREPOST_BREAKER_FAILURES: '1000',
      HAREPOST_LOG_LEVEL: 'warn',
    };
    key = JSON.parse(cli('accounts', 'create', '--name', 'Flow control scale-out', '--json')).live_key;
    db = new pg.Client({ connectionString: base!, connectionTimeoutMillis: 5000 });
    await db.connect();
    apiPort = await freePort();
    spawnServe('api', apiPort);
    for (let i = 0; i < WORKERS; i++) spawnServe('worker', await freePort());
    await Promise.all(children.map(ready));
  });

  after(async () => {
    for (const { child } of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
    for (const { child } of children) {
      if (!(await exited(child, 5000))) child.kill('SIGKILL');
    }
    await db?.end().catch(() => undefined);
    await receiver?.close();
    await dns?.close();
    if (schema) await dropSchema(schema, base!);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('max_in_flight 3 holds for all workers together: the receiver never has more than 3 requests at once', { timeout: 120_000 }, async () => {
    assert.ok(existsSync('/proc/net/tcp'), 'this test tells which process sent a request through Linux /proc');
    const path = '/flow/cap';
    receiver.delayFor.set(path, 300);
    const dest = await newDestination(path, { events: ['flow.cap'], max_in_flight: 3 });
    const ids = await publish('flow.cap', 30, dest);
    assert.equal(ids.length, 30);
    await allDelivered(ids, 60_000, 'max_in_flight 3');
    await sleep(200); // answers still being closed
    const g = receiver.gauge(path);
    const r = report(path, ids);
    for (const pid of r.perPid.keys()) if (pid !== null) workersSeen.add(pid);
    console.log(
      `flow scale-out, max_in_flight 3: ${r.hits.length} requests for ${ids.length} deliveries, ${r.duplicates} duplicates; ` +
        `peak in flight at the receiver ${g.peak}; per worker pid ${[...r.perPid].map(([p, n]) => `${p ?? 'unattributed'}=${n}`).join(', ')}`,
    );
    assert.deepEqual(r.strangers, [], 'only this destination’s deliveries on its path');
    assert.deepEqual(r.missing, [], 'every delivery reached the receiver');
    assert.equal(r.duplicates, 0, 'no worker crashed, so no delivery was attempted twice');
    assert.ok(g.peak <= 3, `${g.peak} requests of the destination were in flight at once across the workers (max_in_flight 3)`);
    assert.equal(g.current, 0);
    // 30 requests held 300 ms, at most 3 at a time: at least 10 × 300 ms from first arrival to last answer
    const span = Math.max(...g.spans.map((s) => s[1] ?? 0)) - Math.min(...g.spans.map((s) => s[0]));
    assert.ok(span >= 10 * 300 - 50, `30 × 300 ms requests, 3 at a time, took only ${span} ms`);
    for (const pid of r.perPid.keys()) assert.ok(pid === null || workerPids().includes(pid), `request from unknown pid ${pid}`);
  });

  it('rate_limit 20/s holds for all workers together: no 1 s window holds more than 20 + 2 (+1 skew) arrivals', { timeout: 120_000 }, async () => {
    const path = '/flow/rate';
    const dest = await newDestination(path, { events: ['flow.rate'], rate_limit: { per_second: 20 } });
    const ids = await publish('flow.rate', 60, dest);
    assert.equal(ids.length, 60);
    await allDelivered(ids, 60_000, 'rate_limit 20/s');
    const r = report(path, ids);
    for (const pid of r.perPid.keys()) if (pid !== null) workersSeen.add(pid);
    const arrivals = r.hits.map((h) => h.arrivedAt);
    const worst = maxInWindow(arrivals, 1000);
    const spanMs = Math.max(...arrivals) - Math.min(...arrivals);
    // for the report: the same measure on when the workers started each attempt (their clocks, the store's record)
    const started = (
      await db.query(
        `SELECT a.created_at::float8 AS at FROM ${schema}.attempts a JOIN ${schema}.deliveries d ON d.seq = a.delivery_seq WHERE d.id = ANY($1::text[])`,
        [ids],
      )
    ).rows.map((row: { at: number }) => Number(row.at));
    const worstStarted = maxInWindow(started, 1000);
    console.log(
      `flow scale-out, rate_limit 20/s: ${r.hits.length} requests for ${ids.length} deliveries, ${r.duplicates} duplicates; ` +
        `at most ${worst.count} arrivals in a 1 s window (from +${worst.from! - Math.min(...arrivals)} ms), ` +
        `at most ${worstStarted.count} attempt starts (as recorded) in one; first to last ${spanMs} ms; ` +
        `per worker pid ${[...r.perPid].map(([p, n]) => `${p ?? 'unattributed'}=${n}`).join(', ')}`,
    );
    assert.deepEqual(r.strangers, []);
    assert.deepEqual(r.missing, [], 'every delivery reached the receiver');
    assert.equal(r.duplicates, 0, 'no worker crashed, so no delivery was attempted twice');
    // GCRA at 20/s with bursts of ceil(20/10) = 2: at most 20 + 2 starts in any closed 1 s window,
    // all workers together. The receiver sees arrivals, not claims (three processes on a small
    // machine: one request can be a little late on its way): +1 for that skew.
    assert.ok(worst.count <= 20 + 2 + 1, `${worst.count} arrivals within 1 s from +${worst.from! - Math.min(...arrivals)} ms`);
    // 60 starts at 20/s after a burst of 2 need (60 - 2) / 20 = 2.9 s; leave room for skew
    assert.ok(spanMs >= 1800, `60 deliveries at 20/s arrived within ${spanMs} ms`);
    for (const pid of r.perPid.keys()) assert.ok(pid === null || workerPids().includes(pid), `request from unknown pid ${pid}`);
  });

  it('the limited work was shared by more than one worker (the limits above held across processes)', () => {
    assert.ok(workersSeen.size >= 2, `requests came from ${workersSeen.size} worker(s): ${[...workersSeen].join(', ')}`);
    for (const c of children) assert.equal(c.child.exitCode, null, `${c.role} ${c.child.pid} is still running: ${c.stderr().slice(-500)}`);
  });
});
