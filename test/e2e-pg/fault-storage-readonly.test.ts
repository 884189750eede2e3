/**
 * PostgreSQL refuses writes (read-only): Harepost connects as a role made for this test alone,
 * which is then set to `default_transaction_read_only = on` (its own sessions are ended so the
 * pool reconnects read-only). Sends are answered 503 storage_unavailable with Retry-After and a
 * message saying the store is read-only, /readyz is 503, harepost_store_errors_total{kind="read_only"}
 * counts. Then the role is made read-write again: sends are accepted without a restart, /readyz is
 * 200, and every send that got a 202 is delivered. Only this test's role and sessions are touched
 * (never the database or other roles: other tests run on the same server at the same time).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { capturedLogger } from '../support/captured-logger.js';
import { postgresAvailable } from '../support/postgres.js';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';
import { assertRecovered } from '../support/storage-recovery.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();
const ROLE = `hp_ro_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('storage read-only (PostgreSQL)', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let admin: pg.Client;
  let stack: Stack;
  let account: TestAccount;
  const logs: string[] = [];

  /** Ends this test's role's own sessions (never anyone else's): the pool reconnects with the role's settings. */
  const endRoleSessions = () => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()', [ROLE]);

  before(async () => {
    admin = new pg.Client({ connectionString: base! });
    await admin.connect();
    const database = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    await admin.query(`CREATE ROLE ${ROLE} LOGIN`);
    await admin.query(`GRANT CREATE ON DATABASE ${database} TO ${ROLE}`); // to make its schema on migrate
    stack = await startStack({
      store: 'postgres',
      databaseUrl: (url) => {
        const u = new URL(url);
        u.username = ROLE;
        return u.toString();
      },
      logger: capturedLogger(logs),
      env: { HAREPOST_LEASE_MARGIN_MS: '1000' },
    });
    account = await stack.createAccount();
    await stack.verifyDomain(account.live_key, 'example.test');
  });

  after(async () => {
    await admin.query(`ALTER ROLE ${ROLE} RESET default_transaction_read_only`).catch(() => undefined);
    await stack?.close(); // drops the schema (as the test's superuser)
    await endRoleSessions().catch(() => undefined);
    await admin.query(`DROP OWNED BY ${ROLE}`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await admin.end();
  });

  it('503 storage_unavailable (read_only) while the role is read-only, back to normal without a restart', async () => {
    const accepted: string[] = [];
    const failures: string[] = [];
    let n = 0;
    const send = async (): Promise<ApiResponse> => {
      const i = n++;
      const r = await stack.api('POST', '/v1/send', {
        key: account.live_key,
        body: { target: stack.target(`/ro/${i}`), body: { i }, idempotency_key: `ro-${i}` },
      });
      if (r.status === 202) accepted.push(r.body.queue_id);
      else if (r.status >= 500 && r.status !== 503) failures.push(`${r.status} ${r.text}`);
      return r;
    };
    for (let i = 0; i < 5; i++) assert.equal((await send()).status, 202);

    await admin.query(`ALTER ROLE ${ROLE} SET default_transaction_read_only = on`);
    await endRoleSessions();
    // the sessions ended mid-use may first answer database_unavailable; then the new ones are read-only
    const refused = await waitFor(
      async () => {
        const r = await send();
        return r.status === 503 && r.body?.error?.code === 'storage_unavailable' ? r : null;
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'sends answered 503 storage_unavailable' },
    );
    assert.match(String(refused.headers['retry-after']), /^[1-9][0-9]*$/);
    assert.match(refused.body.error.message, /^The store is read-only; retry later/);
    assert.doesNotMatch(refused.text, new RegExp(ROLE));
    for (let i = 0; i < 10; i++) {
      const r = await send();
      assert.equal(r.status, 503, r.text);
      assert.equal(r.body.error.code, 'storage_unavailable');
    }
    assert.equal((await stack.api('GET', '/readyz')).status, 503, '/readyz is 503 while the store refuses writes');
    const scraped = (await stack.api('GET', '/metrics')).text;
    assert.ok(metric(scraped, 'harepost_store_errors_total', 'kind="read_only"') >= 11);
    const failing = logs.filter((l) => l.includes('storage failing'));
    assert.equal(failing.length, 1, failing.join(''));
    assert.match(failing[0]!, /"kind":"read_only"/);

    await admin.query(`ALTER ROLE ${ROLE} RESET default_transaction_read_only`);
    await endRoleSessions();
    const arrived = () => new Set(stack.receiver.requests.map((r) => r.headers['x-harepost-queue-id']));
    await assertRecovered({ api: (m, path) => stack.api(m, path), send, logs, failures, accepted, arrived, recoveryTimeoutMs: 15_000 });
    console.log(`read-only: ${accepted.length} accepted, ${arrived().size} delivered, ${n - accepted.length} refused`);
  });
});
