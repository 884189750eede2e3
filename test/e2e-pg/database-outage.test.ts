/**
 * PostgreSQL goes away and comes back (a proxy in front of it is cut and restored): the API
 * answers 503 quickly — not 500, not a hang — the dispatcher waits and reconnects, and nothing
 * accepted before the outage is lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postgresAvailable } from '../support/postgres.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

const base = await postgresAvailable();

describe('database outage (PostgreSQL)', { skip: base === null ? 'PostgreSQL unreachable (not CI)' : false }, () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let acct: TestAccount;

  before(async () => {
    proxy = await startTcpProxy(Number(new URL(base!).port || 5432));
    stack = await startStack({
      store: 'postgres',
      databaseUrl: (url) => {
        const u = new URL(url);
        u.port = String(proxy.port);
        return u.toString();
      },
      env: { HAREPOST_LEASE_MARGIN_MS: '1000' },
    });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => {
    await proxy.restore().catch(() => undefined);
    await stack.close();
    await proxy.close();
  });

  const send = (path: string) =>
    stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target(path), body: { path }, delivery: { timeout_ms: 2000, base_delay_ms: 200, backoff: 'fixed' } },
    });

  it('answers 503 while the database is gone, and loses nothing accepted before', async () => {
    // attempts in flight when the database goes: their results cannot be written
    stack.receiver.respond(() => ({ status: 200, body: 'ok', delayMs: 1500 }));
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await send(`/before/${i}`);
      assert.equal(r.status, 202);
      accepted.push(r.body.queue_id);
    }
    await stack.receiver.waitForRequests(10);
    await proxy.cut();

    const t0 = Date.now();
    const during = await send('/during');
    assert.equal(during.status, 503, during.text);
    assert.equal(during.body.error.code, 'database_unavailable');
    assert.equal(during.headers['retry-after'], '1');
    assert.ok(Date.now() - t0 < 8000, `answered in ${Date.now() - t0} ms`);
    const read = await stack.api('GET', `/v1/deliveries/${accepted[0]}`, { key: acct.live_key });
    assert.equal(read.status, 503);
    assert.equal((await stack.api('GET', '/readyz')).status, 503);
    assert.equal((await stack.api('GET', '/healthz')).status, 200, 'alive, just not ready');

    await new Promise((r) => setTimeout(r, 2500)); // the attempts finish while the database is away
    await proxy.restore();
    stack.receiver.respond(() => ({ status: 200, body: 'ok' }));

    await waitFor(async () => (await stack.api('GET', '/readyz')).status === 200, { timeoutMs: 15_000 });
    const after = await send('/after');
    assert.equal(after.status, 202, after.text);
    accepted.push(after.body.queue_id);

    for (const id of accepted) {
      const d = await waitFor(
        async () => {
          const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
          return r.body?.status === 'delivered' ? r.body : undefined;
        },
        { timeoutMs: 30_000, message: `${id} was not delivered after the database came back` },
      );
      assert.equal(d.status, 'delivered');
    }
    const ids = new Set(stack.receiver.requests.map((r) => r.headers['x-harepost-queue-id']));
    for (const id of accepted) assert.ok(ids.has(id), `${id} reached the receiver`);
  });
});
