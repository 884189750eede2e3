/**
 * PostgreSQL in recovery: Harepost runs on a PostgreSQL server of this test's own (initdb in a
 * temporary folder, loopback only), which is then restarted as a standby with hot standby off —
 * a real server in recovery, refusing every connection with 57P03 "the database system is not
 * accepting connections". Sends are answered 503 storage_unavailable with Retry-After and a
 * message saying the store is in recovery (never database_unavailable, never the URL or its
 * password), /readyz is 503, harepost_store_errors_total{kind="recovery"} counts. Then the standby
 * is promoted: sends are accepted without a restart of Harepost, /readyz is 200, and every send that
 * got a 202 is delivered. The server other tests share is not touched.
 *
 * Needs PostgreSQL's server binaries (initdb, pg_ctl; Debian's postgresql package) and, when run as
 * root, the `postgres` user to run them as: elsewhere the test is skipped loudly, under CI=true it fails.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { capturedLogger } from '../support/captured-logger.js';
import { freePort } from '../support/free-port.js';
import { postgresAvailable } from '../support/postgres.js';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';
import { assertRecovered } from '../support/storage-recovery.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();
const PASSWORD = 'Rec0very-S3cret';

/** The folder with initdb and pg_ctl (HAREPOST_TEST_PG_BIN, else Debian's newest), or why there is none. */
function serverBinaries(): { bin: string; as: { uid: number; gid: number } | null } | { reason: string } {
  let bin = process.env.HAREPOST_TEST_PG_BIN;
  if (bin === undefined) {
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
    bin = versions.map((v) => join(root, v, 'bin')).find((b) => existsSync(join(b, 'initdb')));
  }
  if (bin === undefined || !existsSync(join(bin, 'initdb')) || !existsSync(join(bin, 'pg_ctl'))) {
    return { reason: 'PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql or set HAREPOST_TEST_PG_BIN' };
  }
  if (process.getuid?.() !== 0) return { bin, as: null };
  // initdb and postgres refuse to run as root: as the postgres user
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { bin, as: { uid, gid } };
  } catch {
    return { reason: 'running as root and there is no postgres user to run initdb and the server as' };
  }
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const server = serverBinaries();
const skipReason = base === null ? 'PostgreSQL unreachable (not CI)' : 'reason' in server ? `recovery test NOT RUN: ${server.reason}` : null;

describe('storage in recovery (PostgreSQL)', () => {
  let dir = '';
  let data = '';
  let port = 0;
  let stack: Stack | undefined;
  let account: TestAccount;
  let started = false;
  const logs: string[] = [];

  /** Runs one of the server's programs (as the postgres user when this process is root). */
  const run = (program: string, args: string[]) => {
    if ('reason' in server) throw new Error(server.reason);
    const r = spawnSync(join(server.bin, program), args, {
      encoding: 'utf8',
      timeout: 60_000,
      ...(server.as ? { uid: server.as.uid, gid: server.as.gid } : {}),
    });
    if (r.status !== 0) throw new Error(`${program} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  };
  const owned = (path: string) => {
    if (!('reason' in server) && server.as) chownSync(path, server.as.uid, server.as.gid);
  };
  const startServer = (wait: boolean) =>
    run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), wait ? '-w' : '-W', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);

  /** What a new connection to the test's server is answered: 'ok', or the SQLSTATE and message it is refused with. */
  const probe = async (): Promise<string> => {
    const c = new pg.Client({ connectionString: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 2000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return 'ok';
    } catch (err) {
      return `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  before(async () => {
    if (skipReason !== null) return;
    dir = mkdtempSync(join(tmpdir(), 'harepost-recovery-'));
    owned(dir);
    data = join(dir, 'data');
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, `${PASSWORD}\n`);
    owned(pwfile);
    run('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '-A', 'scram-sha-256', '--no-sync']);
    port = await freePort();
    startServer(true);
    started = true;
    stack = await startStack({
      store: 'postgres',
      databaseUrl: (url) => {
        const u = new URL(url); // keeps the run's schema parameter
        u.username = 'postgres';
        u.password = PASSWORD;
        u.host = `127.0.0.1:${port}`;
        u.pathname = '/postgres';
        return u.toString();
      },
      logger: capturedLogger(logs),
      env: { HAREPOST_LEASE_MARGIN_MS: '1000' },
    });
    account = await stack.createAccount();
    await stack.verifyDomain(account.live_key, 'example.test');
  });

  after(async () => {
    await stack?.close();
    if (started) run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('503 storage_unavailable (recovery) while the server is a standby, back to normal once it is promoted', async (t) => {
    if (skipReason !== null) {
      console.warn(`\n*** ${skipReason} ***\n`);
      if (process.env.CI === 'true' && base !== null) assert.fail(`${skipReason} (CI=true: this fault must be tested)`);
      t.skip(skipReason);
      return;
    }
    const s = stack!;
    const accepted: string[] = [];
    const failures: string[] = [];
    const answers = new Map<string, number>(); // every 503 by its error code
    let n = 0;
    const send = async (): Promise<ApiResponse> => {
      const i = n++;
      const r = await s.api('POST', '/v1/send', {
        key: account.live_key,
        body: { target: s.target(`/recovery/${i}`), body: { i }, idempotency_key: `rec-${i}` },
      });
      if (r.status === 202) accepted.push(r.body.queue_id);
      else if (r.status >= 500 && r.status !== 503) failures.push(`${r.status} ${r.text}`);
      else if (r.status === 503) answers.set(r.body?.error?.code, (answers.get(r.body?.error?.code) ?? 0) + 1);
      return r;
    };
    for (let i = 0; i < 5; i++) assert.equal((await send()).status, 202);
    assert.equal((await s.api('GET', '/readyz')).status, 200);

    // restarted as a standby that takes no connections: a real server in recovery
    run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    const signal = join(data, 'standby.signal');
    writeFileSync(signal, '');
    owned(signal);
    appendFileSync(join(data, 'postgresql.auto.conf'), 'hot_standby = off\n');
    startServer(false);
    // (while it stops and starts it answers 57P03 "shutting down" / "starting up" for a moment)
    await waitFor(async () => /^57P03 .*not accepting connections/.test(await probe()), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: 'the server refuses connections with 57P03 "not accepting connections"',
    });

    // connections dropped by the restart may first answer database_unavailable (and the moments of
    // stopping and starting storage_unavailable saying so); then every new one is refused as in recovery
    const IN_RECOVERY = 'The store is in recovery and not taking writes; retry later (an Idempotency-Key header makes the retry safe)';
    const refused = await waitFor(
      async () => {
        const r = await send();
        return r.status === 503 && r.body?.error?.message === IN_RECOVERY ? r : null;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'sends answered 503 storage_unavailable, in recovery' },
    );
    assert.equal(refused.body.error.code, 'storage_unavailable');
    assert.equal(refused.headers['retry-after'], '5');
    for (let i = 0; i < 10; i++) {
      const r = await send();
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.error.code, 'storage_unavailable', r.text);
      assert.equal(r.body.error.message, IN_RECOVERY);
      for (const secret of [PASSWORD, `:${port}`, 'postgres://']) assert.ok(!r.text.includes(secret), `the answer holds ${secret}: ${r.text}`);
    }
    assert.equal((await s.api('GET', '/readyz')).status, 503, '/readyz is 503 while the store is in recovery');
    assert.equal((await s.api('GET', '/healthz')).status, 200);
    const scraped = (await s.api('GET', '/metrics')).text;
    assert.ok(metric(scraped, 'harepost_store_errors_total', 'kind="recovery"') >= 11, scraped.split('\n').filter((l) => l.includes('store_errors')).join('\n'));
    // one warn line when failing starts, one more per change of kind (shutting down → starting up → recovery)
    const failing = logs.filter((l) => l.includes('storage failing'));
    assert.ok(failing.length >= 1 && failing.length <= 3, failing.join(''));
    for (const l of failing) assert.match(l, /"kind":"(shutting_down|starting_up|recovery)"/);
    assert.match(failing.at(-1)!, /"kind":"recovery"/);
    assert.ok(!logs.some((l) => l.includes(PASSWORD)), 'no log line holds the password');

    run('pg_ctl', ['-D', data, '-w', 'promote']);
    const arrived = () => new Set(s.receiver.requests.map((r) => r.headers['x-harepost-queue-id']));
    await assertRecovered({ api: (m, path) => s.api(m, path), send, logs, failures, accepted, arrived, recoveryTimeoutMs: 40_000 });
    const kinds = failing.map((l) => /"kind":"([a-z_]+)"/.exec(l)![1]).join(' → ');
    console.log(
      `recovery: ${accepted.length} accepted, ${arrived().size} delivered, ${n - accepted.length} refused ` +
        `(${[...answers].map(([code, count]) => `${count} × ${code}`).join(', ')}); storage failing: ${kinds}`,
    );
  });
});
