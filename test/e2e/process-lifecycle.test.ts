/**
 * Harepost as a real process: `kill -9` while an attempt is in flight loses nothing (the lease
 * runs out and the delivery is attempted again after restart), and SIGTERM lets the attempt in
 * flight finish, records it, and exits 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { createTestPki, type TestPki } from '../support/ca.js';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { freePort } from '../support/free-port.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { testDatabase, type TestDatabase } from '../support/test-database.js';
import { waitFor } from '../support/wait.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

describe('process lifecycle', () => {
  let dir: string;
  let pki: TestPki;
  let dns: DnsServer;
  let receiver: Receiver;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let key: string;
  let database: TestDatabase;
  const children: ChildProcess[] = [];

  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  async function serve(): Promise<ChildProcess> {
    const child = spawn(process.execPath, [...CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`);
        try {
          return (await request(`http://127.0.0.1:${port}/readyz`)).statusCode === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, message: 'service did not become ready' },
    );
    return child;
  }

  const exited = (child: ChildProcess) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });

  async function api(method: string, path: string, body?: unknown) {
    const res = await request(`http://127.0.0.1:${port}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'harepost-proc-'));
    pki = await createTestPki({ names: ['example.test', '*.example.test'], dir: join(dir, 'pki') });
    receiver = await startReceiver({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
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
      HAREPOST_LOG_LEVEL: 'warn',
    };
    const created = JSON.parse(cli('accounts', 'create', '--name', 'Lifecycle', '--json'));
    key = created.live_key;
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await receiver.close();
    await dns.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a delivery whose lease holder was killed (kill -9) is delivered after restart', async () => {
    let child = await serve();
    const added = await api('POST', '/v1/domains', { domain: 'example.test' });
    dns.setTxt(added.body.record.name, [added.body.record.value]);
    assert.equal((await api('POST', '/v1/domains/verify', { domain: 'example.test' })).body.status, 'verified');

    receiver.respondWithSequence([{ hang: true }, { status: 200, body: 'second time lucky' }]);
    const sent = await api('POST', '/v1/send', {
      target: receiver.url('/crash', 'hooks.example.test'),
      body: { n: 1 },
      delivery: { timeout_ms: 3000 },
    });
    assert.equal(sent.status, 202);
    const id = sent.body.queue_id;
    await receiver.waitForRequests(1);
    child.kill('SIGKILL'); // the attempt is in flight, its lease held by this process
    assert.equal((await exited(child)).signal, 'SIGKILL');

    child = await serve();
    const before = await api('GET', `/v1/deliveries/${id}`);
    assert.equal(before.body.status, 'queued', 'the killed attempt was never recorded as finished');
    assert.equal(before.body.attempts.length, 0);

    const done = await waitFor(
      async () => {
        const r = await api('GET', `/v1/deliveries/${id}`);
        return r.body.status === 'delivered' ? r.body : undefined;
      },
      { timeoutMs: 20_000, message: 'delivery was not attempted again after the lease ran out' },
    );
    assert.equal(done.attempts.length, 1);
    assert.equal(done.attempts[0].response_excerpt, 'second time lucky');
    const hits = receiver.requests.filter((r) => r.headers['x-harepost-queue-id'] === id);
    assert.equal(hits.length, 2, 'attempted once by the killed process and once after restart');

    child.kill('SIGTERM');
    assert.deepEqual(await exited(child), { code: 0, signal: null });
  });

  it('SIGTERM lets the attempt in flight finish, records it, and exits 0', async () => {
    receiver.reset();
    receiver.respond(() => ({ status: 200, body: 'slow ok', delayMs: 1500 }));
    const child = await serve();
    const sent = await api('POST', '/v1/send', { target: receiver.url('/term', 'hooks.example.test'), body: 'x' });
    assert.equal(sent.status, 202);
    await receiver.waitForRequests(1);
    const t0 = Date.now();
    child.kill('SIGTERM');
    assert.deepEqual(await exited(child), { code: 0, signal: null });
    assert.ok(Date.now() - t0 >= 1000, 'waited for the attempt in flight');

    const again = await serve();
    const d = await api('GET', `/v1/deliveries/${sent.body.queue_id}`);
    assert.equal(d.body.status, 'delivered');
    assert.equal(d.body.attempts.length, 1);
    assert.equal(d.body.attempts[0].response_excerpt, 'slow ok');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 1, 'nothing delivered twice');
    again.kill('SIGTERM');
    assert.equal((await exited(again)).code, 0);
  });

  it('SIGTERM with an attempt past the shutdown grace: exits promptly, and the attempt is made again', async () => {
    receiver.reset();
    receiver.respondWithSequence([{ hang: true }, { status: 200, body: 'after restart' }]);
    env.HAREPOST_SHUTDOWN_GRACE_MS = '500';
    const child = await serve();
    const sent = await api('POST', '/v1/send', {
      target: receiver.url('/grace', 'hooks.example.test'),
      body: 'x',
      delivery: { timeout_ms: 30000 },
    });
    assert.equal(sent.status, 202);
    await receiver.waitForRequests(1);
    const t0 = Date.now();
    child.kill('SIGTERM');
    assert.deepEqual(await exited(child), { code: 0, signal: null });
    const took = Date.now() - t0;
    assert.ok(took < 5000, `exited ${took} ms after SIGTERM (grace 500 ms, attempt timeout 30 s)`);

    const again = await serve();
    const d = await waitFor(async () => {
      const r = await api('GET', `/v1/deliveries/${sent.body.queue_id}`);
      return r.body.status === 'delivered' ? r.body : undefined;
    });
    assert.equal(d.attempts.length, 1, 'the abandoned attempt was not recorded; the new one was');
    assert.equal(d.attempts[0].response_excerpt, 'after restart');
    again.kill('SIGTERM');
    await exited(again);
    delete env.HAREPOST_SHUTDOWN_GRACE_MS;
  });
});
