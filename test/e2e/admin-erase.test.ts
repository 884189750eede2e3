/**
 * Erasing an account (DELETE /admin/v1/accounts/{id}, issue 15 item 1): an account that has used
 * everything — keys, domains, signing secrets (rotated), destinations with subscriptions and their
 * secrets, events fanned out, sends with Idempotency-Key, attempts that failed and succeeded,
 * dashboard sessions and unused sign-in links, counters — and has attempts in flight when the
 * erasure is asked, is erased in batches. Afterwards every table of the schema is read straight
 * from the database: no row anywhere holds the account's id or any id, hash or secret it owned,
 * no attempt belongs to one of its deliveries, and the other account's rows are all still there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DEFAULT_POLICY } from '../../src/core/policy.js';
import { parsePgUrl } from '../../src/store/postgres/connection.js';
import { newDelivery } from '../support/new-delivery.js';
import { startStack, type ApiResponse, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'erase-test-token-0123456789abcdef';
const HOST = 'erase.example.test';
/** Deliveries added straight to the store, so the erasure takes more than one batch of 1,000. */
const BULK = 1500;

type Row = Record<string, unknown>;

/** Every table of the service's schema, read from a connection of the test's own. */
interface Schema {
  tables(): Promise<string[]>;
  rows(table: string): Promise<Row[]>;
  close(): Promise<void>;
}

async function openSchema(databaseUrl: string): Promise<Schema> {
  if (!/^postgres/.test(databaseUrl)) {
    const db = new Database(databaseUrl, { readonly: true });
    return {
      tables: async () =>
        (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Row[]).map(
          (r) => r.name as string,
        ),
      rows: async (table) => db.prepare(`SELECT * FROM "${table}"`).all() as Row[],
      close: async () => {
        db.close();
      },
    };
  }
  const { connectionString, schema } = parsePgUrl(databaseUrl);
  const client = new pg.Client({ connectionString });
  await client.connect();
  if (schema) await client.query(`SET search_path TO ${schema}`);
  return {
    tables: async () =>
      (
        await client.query(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
      ).rows.map((r: Row) => r.name as string),
    rows: async (table) => (await client.query(`SELECT * FROM "${table}"`)).rows as Row[],
    close: () => client.end(),
  };
}

/** Values that name something an account owns: ids, hashes of keys, tokens and sessions, secrets. */
const OWNED = /^(?:(?:acct|hr|dest|evt|sub|key)_[0-9A-Za-z]+|[0-9a-f]{64}|whsec_\S+)$/;

const text = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : null);

describe('erasing an account', () => {
  let stack: Stack;
  let schema: Schema;

  before(async () => {
    stack = await startStack({ env: { HAREPOST_ADMIN_TOKEN: TOKEN } });
    schema = await openSchema(stack.env.HAREPOST_DATABASE_URL!);
  });
  after(async () => {
    await schema?.close();
    await stack?.close();
  });

  const admin = (method: string, path: string, body?: unknown): Promise<ApiResponse> =>
    stack.api(method, `/admin/v1${path}`, { key: TOKEN, ...(body !== undefined ? { body } : {}) });

  async function ok(r: Promise<ApiResponse>, status = 0): Promise<ApiResponse> {
    const res = await r;
    assert.ok(status ? res.status === status : res.status < 300, `${res.status} ${res.text}`);
    return res;
  }

  /** An account that has used every part of Harepost: what it owns ends up in every table. */
  async function busyAccount(name: string) {
    const a = (await ok(admin('POST', '/accounts', { name, limits: { max_keys: 50 } }), 201)).body as { id: string; live_key: string; test_key: string };
    const key = a.live_key;
    await ok(admin('POST', `/accounts/${a.id}/keys`, { mode: 'test' }), 201);
    await stack.verifyDomain(key, HOST);
    await ok(stack.api('GET', '/v1/signing-secret', { key }));
    await ok(stack.api('POST', '/v1/signing-secret/rotate', { key }));
    await ok(stack.api('GET', '/v1/signing-secret', { key: a.test_key }));
    const dest = await ok(
      stack.api('POST', '/v1/destinations', { key, body: { url: stack.target(`/events/${name}`, HOST), events: ['order.*'] } }),
      201,
    );
    await ok(stack.api('POST', `/v1/destinations/${dest.body.id}/rotate-secret`, { key }));
    await ok(stack.api('POST', '/v1/subscriptions', { key, body: { destination_id: dest.body.id, event_type: 'invoice.paid' } }), 201);
    for (let i = 0; i < 3; i++) {
      await ok(
        stack.api('POST', '/v1/events', { key, headers: { 'idempotency-key': `evt-${name}-${i}` }, body: { type: 'order.created', body: { i } } }),
        202,
      );
    }
    // sends: delivered, rejected after attempts, and one test-mode send
    await ok(stack.api('POST', '/v1/send', { key, headers: { 'idempotency-key': `send-${name}` }, body: { target: stack.target('/ok', HOST), sign: true } }), 202);
    await ok(stack.api('POST', '/v1/send', { key, body: { target: stack.target('/fail', HOST), delivery: { max_attempts: 2, base_delay_ms: 100, jitter: 'none' } } }), 202);
    await ok(stack.api('POST', '/v1/send', { key: a.test_key, body: { target: stack.target('/ok', HOST) } }), 202);
    // dashboard: a session open, and a sign-in link never used
    const link = await ok(admin('POST', `/accounts/${a.id}/login-links`, { mode: 'live' }), 201);
    const u = new URL(link.body.url);
    await ok(
      stack.api('POST', '/dashboard/login', {
        rawBody: new URLSearchParams({ token: u.searchParams.get('token')! }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: stack.hp.url!, 'sec-fetch-site': 'same-origin' },
      }),
      303,
    );
    await ok(admin('POST', `/accounts/${a.id}/login-links`, { mode: 'test' }), 201);
    return a;
  }

  /** Every value in A's rows (of tables with account_id) that names something it owns, and its deliveries' seqs. */
  async function ownedBy(accountId: string) {
    const owned = new Set<string>([accountId]);
    const seqs = new Set<string>();
    const destinations = new Set<string>();
    /** Values in other accounts' rows too (the same request hashed the same way): they name nothing of A's. */
    const shared = new Set<string>();
    for (const table of await schema.tables()) {
      for (const row of await schema.rows(table)) {
        const values = Object.values(row).map(text).filter((s): s is string => s !== null && OWNED.test(s));
        if (row.account_id !== accountId) {
          if (row.account_id != null) for (const s of values) shared.add(s);
          continue;
        }
        for (const s of values) owned.add(s);
        if (table === 'deliveries') seqs.add(String(row.seq));
        if (table === 'destinations') destinations.add(row.id as string);
      }
    }
    for (const row of await schema.rows('destination_secrets')) {
      if (destinations.has(row.destination_id as string)) owned.add(row.secret as string);
    }
    for (const s of shared) owned.delete(s);
    assert.ok(owned.has(accountId));
    return { owned, seqs };
  }

  /** Rows per table that belong to the account (by account_id), and the attempts of its deliveries. */
  async function countsOf(accountId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const seqs = new Set<string>();
    for (const table of await schema.tables()) {
      const rows = await schema.rows(table);
      const mine = rows.filter((r) => r.account_id === accountId);
      if (mine.length > 0) out[table] = mine.length;
      if (table === 'deliveries') for (const r of mine) seqs.add(String(r.seq));
    }
    out.attempts = (await schema.rows('attempts')).filter((r) => seqs.has(String(r.delivery_seq))).length;
    return out;
  }

  it('leaves no row of the account in any table, and every row of another account', async () => {
    stack.receiver.respond((req) => {
      if (req.path.startsWith('/fail')) return { status: 500, body: 'no' };
      if (req.path.startsWith('/slow')) return { status: 200, body: 'late', delayMs: 1500 };
      return { status: 200, body: 'ok' };
    });
    const a = await busyAccount('erased');
    const b = await busyAccount('kept');

    // many deliveries of A, straight into the store, and a few whose attempts are in flight when the erasure starts
    const origin = new URL(stack.target('/', HOST)).origin;
    const bulk = Array.from({ length: BULK }, (_, i) =>
      newDelivery(`hr_erasebulk${String(i).padStart(6, '0')}`, {
        account_id: a.id,
        target: `${origin}/bulk`,
        origin,
        policy: { ...DEFAULT_POLICY, max_attempts: 1 },
        created_at: Date.now(),
      }),
    );
    for (let i = 0; i < bulk.length; i += 500) await stack.hp.store.enqueueDeliveries(a.id, 'live', bulk.slice(i, i + 500));
    for (let i = 0; i < 3; i++) {
      await ok(stack.api('POST', '/v1/send', { key: a.live_key, body: { target: stack.target(`/slow/${i}`, HOST) } }), 202);
    }
    // everything of B final, and A's deliveries attempted: only its slow ones still pending, in flight
    await waitFor(
      async () =>
        (await stack.hp.store.accountUsage(b.id)).pending_deliveries === 0 &&
        (await stack.hp.store.accountUsage(a.id)).pending_deliveries === 3 &&
        stack.receiver.requests.filter((r) => r.path.startsWith('/slow')).length === 3,
      { timeoutMs: 30_000, message: 'every delivery attempted, the slow ones in flight' },
    );

    const { owned, seqs } = await ownedBy(a.id);
    // 3 events to one destination, 3 sends, 3 slow sends and the bulk
    assert.equal(seqs.size, BULK + 9, 'A has its deliveries');
    const aBefore = await countsOf(a.id);
    for (const table of ['api_keys', 'domains', 'signing_secrets', 'destinations', 'subscriptions', 'events', 'deliveries', 'idempotency_keys', 'delivery_stats', 'dashboard_sessions', 'dashboard_login_tokens']) {
      assert.ok((aBefore[table] ?? 0) > 0, `A has rows in ${table} before: ${JSON.stringify(aBefore)}`);
    }
    assert.ok(aBefore.attempts! >= BULK + 3 + 2 + 1, `and attempts (${aBefore.attempts})`);
    const bBefore = await countsOf(b.id);

    const erased = await ok(admin('DELETE', `/accounts/${a.id}`), 202);
    assert.deepEqual(erased.body, { id: a.id, status: 'erasing' });
    await waitFor(async () => (await admin('GET', `/accounts/${a.id}`)).status === 404, { timeoutMs: 60_000, message: 'the erasure ends' });
    // the attempts that were in flight have ended (their results found nothing to record on)
    await waitFor(() => stack.receiver.requests.filter((r) => r.path.startsWith('/slow')).length === 3 && stack.hp.dispatcher!.inFlightCount === 0, {
      timeoutMs: 10_000,
      message: 'the slow attempts end',
    });

    const leftovers: string[] = [];
    for (const table of await schema.tables()) {
      for (const row of await schema.rows(table)) {
        const values = Object.entries(row);
        const named = values.find(([, v]) => {
          const s = text(v);
          return s !== null && (owned.has(s) || s.includes(a.id));
        });
        if (named) leftovers.push(`${table}: ${named[0]} = ${String(named[1]).slice(0, 80)}`);
        if (table === 'attempts' && seqs.has(String(row.delivery_seq))) leftovers.push(`attempts: delivery_seq ${String(row.delivery_seq)}`);
      }
    }
    assert.deepEqual(leftovers.slice(0, 20), [], `${leftovers.length} rows of the erased account are left`);
    assert.deepEqual(await countsOf(a.id), { attempts: 0 });
    assert.deepEqual(await countsOf(b.id), bBefore, 'the other account keeps every row');
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: b.live_key })).status, 200);
    assert.equal((await stack.api('GET', '/v1/deliveries', { key: a.live_key })).status, 401);
  });
});
