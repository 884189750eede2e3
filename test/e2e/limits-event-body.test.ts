/**
 * One event's body is stored once, however many destinations it reaches (issue 15, item 3): the
 * database holds one copy, on the event, and no delivery row has a copy of its own — read straight
 * from the database, the one the service runs on — while every receiver gets the exact bytes, signed
 * over those bytes, and GET /v1/deliveries/{id} shows them.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { after, before, describe, it } from 'node:test';
import { type Stack, type TestAccount, startStack } from '../support/stack.js';
import { TEST_STORE } from '../support/test-database.js';

const DESTINATIONS = 5;

/** Runs one query on the service's own database, from another connection. */
async function query(stack: Stack, sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
  const url = stack.env.HAREPOST_DATABASE_URL!;
  if (TEST_STORE === 'sqlite') {
    const db = new Database(url, { readonly: true });
    try {
      return db.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }
  const u = new URL(url);
  const schema = u.searchParams.get('schema')!;
  u.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}

/** Standard Webhooks: base64 HMAC-SHA256 of `${id}.${timestamp}.${body}` with the whsec_ secret's bytes. */
function standardSignature(secret: string, id: string, timestamp: string, body: Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

describe('an event body is stored once for all its deliveries', () => {
  let stack: Stack;
  let acct: TestAccount;
  const secrets = new Map<string, string>();

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('fan-out');
    for (let i = 0; i < DESTINATIONS; i++) {
      const r = await stack.api('POST', '/v1/destinations', {
        key: acct.live_key,
        body: { url: stack.target(`/fan/${i}`), events: ['order.*'], headers: i === 0 ? { 'Content-Type': 'application/vnd.shop+json' } : {} },
      });
      assert.equal(r.status, 201, r.text);
      secrets.set(`/fan/${i}`, r.body.signing_secret);
    }
  });

  after(async () => {
    await stack?.close();
  });

  const publish = async (body: unknown) => {
    stack.receiver.reset();
    const r = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'order.paid', body } });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.deliveries.length, DESTINATIONS);
    return r.body as { id: string; deliveries: Array<{ queue_id: string }> };
  };

  it('a JSON body: one copy in the database (the event\'s), the exact bytes to each receiver', async () => {
    const body = { order: 'ord_1', lines: Array.from({ length: 2000 }, (_, i) => ({ sku: `sku-${i}`, name: 'Grüße ✓', qty: i })) };
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    assert.ok(bytes.length > 64 * 1024, `a body worth counting (${bytes.length} B)`);
    const event = await publish(body);

    const got = await stack.receiver.waitForRequests(DESTINATIONS, 20_000);
    assert.deepEqual(got.map((r) => r.path).sort(), Array.from({ length: DESTINATIONS }, (_, i) => `/fan/${i}`));
    for (const r of got) {
      assert.ok(r.body.equals(bytes), `${r.path}: the exact bytes (${r.body.length} B of ${bytes.length})`);
      const [version, signature] = r.headers['webhook-signature']!.split(',');
      assert.equal(version, 'v1');
      assert.equal(signature, standardSignature(secrets.get(r.path)!, r.headers['webhook-id']!, r.headers['webhook-timestamp']!, bytes), `${r.path}: signed over those bytes`);
    }
    assert.equal(got.find((r) => r.path === '/fan/0')!.headers['content-type'], 'application/vnd.shop+json', "a destination's own Content-Type");
    assert.equal(got.find((r) => r.path === '/fan/1')!.headers['content-type'], 'application/json');

    const rows = await query(stack, 'SELECT COUNT(*) AS n, COUNT(body) AS with_body FROM deliveries WHERE event_id = $1', [event.id]);
    assert.deepEqual([Number(rows[0]!.n), Number(rows[0]!.with_body)], [DESTINATIONS, 0], 'no delivery row holds a copy');
    const [stored] = await query(stack, 'SELECT body, payload FROM events WHERE id = $1', [event.id]);
    assert.equal(stored!.body, null, 'the JSON text is not kept a second time');
    assert.ok(Buffer.from(stored!.payload as Buffer).equals(bytes), 'one copy: the event\'s');

    // what the API shows is those bytes, per delivery, and the event's body
    const shown = await stack.api('GET', `/v1/deliveries/${event.deliveries[3]!.queue_id}`, { key: acct.live_key });
    assert.equal(shown.body.request.body, bytes.toString('utf8'));
    assert.deepEqual((await stack.api('GET', `/v1/events/${event.id}`, { key: acct.live_key })).body.body, body);
  });

  it('a string body: sent as its raw text, still one copy of those bytes', async () => {
    const text = `plain text, not JSON: "quoted" and ünïcödé\n${'x'.repeat(10_000)}`;
    const event = await publish(text);
    const got = await stack.receiver.waitForRequests(DESTINATIONS, 20_000);
    for (const r of got) assert.equal(r.body.toString('utf8'), text, r.path);
    const rows = await query(stack, 'SELECT COUNT(body) AS with_body FROM deliveries WHERE event_id = $1', [event.id]);
    assert.equal(Number(rows[0]!.with_body), 0);
    const [stored] = await query(stack, 'SELECT body, payload FROM events WHERE id = $1', [event.id]);
    assert.equal(Buffer.from(stored!.payload as Buffer).toString('utf8'), text);
    assert.equal(stored!.body, JSON.stringify(text), 'the event keeps its JSON text (what GET /v1/events shows)');
    assert.equal((await stack.api('GET', `/v1/events/${event.id}`, { key: acct.live_key })).body.body, text);
  });

  it('a send keeps its own body (one delivery, one copy)', async () => {
    await stack.verifyDomain(acct.live_key, 'hooks.example.test');
    const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/send'), body: { a: 1 } } });
    assert.equal(r.status, 202, r.text);
    const [row] = await query(stack, 'SELECT body FROM deliveries WHERE id = $1', [r.body.queue_id]);
    assert.equal(Buffer.from(row!.body as Buffer).toString('utf8'), '{"a":1}');
  });
});
