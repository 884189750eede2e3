/**
 * Crash safety under a steady load of sends (embedded store, or PostgreSQL in the second pass):
 * `kill -9` the service mid-load and restart it — every send that got a 202 is delivered at least
 * once, and duplicates stay within what was in flight; SIGTERM instead loses and repeats nothing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Pool, request } from 'undici';
import { createTestPki, type TestPki } from '../support/ca.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/free-port.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { testDatabase, type TestDatabase } from '../support/test-database.js';
import { waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
const MAX_IN_FLIGHT = 32;

describe('crash safety under load', () => {
  let dir: string;
  let pki: TestPki;
  let dns: DnsServer;
  let receiver: Receiver;
  let database: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let key: string;
  const children: ChildProcess[] = [];

  async function serve(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`);
        return (await request(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.statusCode === 200;
      },
      { timeoutMs: 20_000 },
    );
    return child;
  }
  const exited = (c: ChildProcess) =>
    new Promise<{ code: number | null; signal: string | null }>((r) =>
      c.exitCode !== null || c.signalCode !== null ? r({ code: c.exitCode, signal: c.signalCode }) : c.once('exit', (code, signal) => r({ code, signal })),
    );

  /**
   * Sends from `callers` loops until stopped; returns the queue ids that got a 202. `timeoutMs` is
   * each delivery's attempt timeout (its lease, after a kill, is that plus the lease margin).
   */
  function load(callers: number, timeoutMs: number) {
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: callers });
    const accepted: string[] = [];
    let running = true;
    let n = 0;
    const loops = Array.from({ length: callers }, async () => {
      while (running) {
        const i = n++;
        try {
          const res = await pool.request({
            method: 'POST',
            path: '/v1/send',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ target: receiver.url(`/load/${i}`, 'hooks.example.test'), body: { i }, delivery: { timeout_ms: timeoutMs } }),
          });
          const body = (await res.body.json()) as { queue_id?: string };
          if (res.statusCode === 202 && body.queue_id) accepted.push(body.queue_id);
        } catch {
          // the service is down (killed): not accepted, nothing promised
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    return {
      accepted,
      async stop() {
        running = false;
        await Promise.all(loops);
        await pool.close();
      },
    };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-crash-'));
    pki = await createTestPki({ names: ['example.test', '*.example.test'], dir: join(dir, 'pki') });
    receiver = await startReceiver({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
    receiver.respond(() => ({ status: 200, delayMs: Math.floor(Math.random() * 30) }));
    dns = await startDnsServer();
    dns.setA('*.example.test', ['127.0.0.1']);
    port = await freePort();
    database = await testDatabase(dir);
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: pki.caCertPath,
      HAREPOST_DATABASE_URL: database.url,
      HAREPOST_PORT: String(port),
      HAREPOST_DNS_SERVERS: dns.address,
      HAREPOST_ALLOW_PRIVATE_NETWORKS: '127.0.0.1/32',
      HAREPOST_LEASE_MARGIN_MS: '1000',
      // a slow machine's attempts finish within the grace: SIGTERM abandons none (nothing repeated)
      HAREPOST_SHUTDOWN_GRACE_MS: '60000',
      HAREPOST_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      HAREPOST_RATE_LIMIT_PER_SECOND: '100000',
      HAREPOST_LOG_LEVEL: 'warn',
    };
    const made = spawnSync(process.execPath, [...CLI, 'accounts', 'create', '--name', 'crash', '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    key = JSON.parse(made.stdout).live_key;
    const child = await serve();
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const added = await request(`http://127.0.0.1:${port}/v1/domains`, { method: 'POST', headers: auth, body: JSON.stringify({ domain: 'example.test' }) });
    const rec = ((await added.body.json()) as { record: { name: string; value: string } }).record;
    dns.setTxt(rec.name, [rec.value]);
    await request(`http://127.0.0.1:${port}/v1/domains/verify`, { method: 'POST', headers: auth, body: JSON.stringify({ domain: 'example.test' }) });
    child.kill('SIGTERM');
    await exited(child);
  });

  // no service outlives its test (a failed one would otherwise answer the next test's readiness probe)
  afterEach(async () => {
    const alive = children.filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of alive) c.kill('SIGTERM');
    const stopped = await Promise.race([Promise.all(alive.map(exited)).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 70_000).unref())]);
    if (!stopped) for (const c of alive) c.kill('SIGKILL');
    await Promise.all(alive.map(exited));
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await receiver.close();
    await dns.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const arrivals = () => {
    const count = new Map<string, number>();
    for (const r of receiver.requests) {
      const id = r.headers['x-harepost-queue-id'];
      if (id) count.set(id, (count.get(id) ?? 0) + 1);
    }
    return count;
  };

  it('kill -9 mid-load: every 202 is delivered after restart; duplicates bounded by what was in flight', async () => {
    receiver.reset();
    receiver.respond(() => ({ status: 200, delayMs: Math.floor(Math.random() * 30) }));
    const child = await serve();
    const l = load(16, 2000);
    // mid-load: 300 sends answered 202, and deliveries arriving meanwhile
    await waitFor(() => l.accepted.length >= 300 && receiver.requests.length > 0, { timeoutMs: 60_000 });
    child.kill('SIGKILL');
    assert.equal((await exited(child)).signal, 'SIGKILL');
    await l.stop();
    const acceptedBeforeRestart = l.accepted.length;
    await serve();
    await waitFor(
      () => {
        const seen = arrivals();
        return l.accepted.every((id) => seen.has(id));
      },
      { timeoutMs: 60_000, message: 'not every accepted send was delivered after the restart' },
    );
    const seen = arrivals();
    const duplicates = [...seen.values()].reduce((a, n) => a + n - 1, 0);
    console.log(`kill -9: accepted ${acceptedBeforeRestart}, delivered ${seen.size} distinct, duplicates ${duplicates} (bound: ${MAX_IN_FLIGHT} in flight)`);
    assert.ok(duplicates <= MAX_IN_FLIGHT, `${duplicates} duplicates exceed the ${MAX_IN_FLIGHT} attempts that can be in flight`);
  });

  it('SIGTERM mid-load: nothing lost, nothing delivered twice', async () => {
    receiver.reset();
    receiver.respond(() => ({ status: 200, delayMs: Math.floor(Math.random() * 30) }));
    const child = await serve();
    // attempts that a slow machine cannot time out: a repeat would be SIGTERM's doing alone
    const l = load(16, 30_000);
    await waitFor(() => l.accepted.length >= 300 && receiver.requests.length > 0, { timeoutMs: 60_000 });
    child.kill('SIGTERM');
    assert.equal((await exited(child)).code, 0);
    await l.stop();
    await serve();
    await waitFor(() => {
      const seen = arrivals();
      return l.accepted.every((id) => seen.has(id));
    }, { timeoutMs: 60_000, message: 'not every accepted send was delivered' });
    const seen = arrivals();
    const duplicates = [...seen.values()].reduce((a, n) => a + n - 1, 0);
    console.log(`SIGTERM: accepted ${l.accepted.length}, delivered ${seen.size} distinct, duplicates ${duplicates}`);
    assert.equal(duplicates, 0);
  });
});
