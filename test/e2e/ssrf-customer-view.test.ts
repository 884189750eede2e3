/**
 * What a customer reads of a refused target never names the addresses its name resolved to: the
 * attempt `error` of a send and of an event delivery (which the dashboard shows, through the same
 * /v1 answers), and the answer of POST /v1/destinations/{id}/test and /v1/webhooks/{id}/test. The
 * operator's log has the detail (which address, which range), with the queue_id or destination.
 *
 * Network rule: the names resolve (through the harness's loopback DNS server) to 127.0.0.2 and ::1,
 * which the guard refuses (only 127.0.0.1/32 is exempt) before any dial; a listener on 127.0.0.2
 * counts connections to prove none is made. The one exempt address, 127.0.0.1, is dialled only on
 * a port where nothing listens.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { capturedLogger } from '../support/captured-logger.js';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const REFUSED = 'inside.example.test resolves only to addresses Harepost does not connect to';
const FAST = { max_attempts: 3, base_delay_ms: 100, backoff: 'fixed', jitter: 'none', timeout_ms: 3000 };
const TERMINAL = new Set(['delivered', 'rejected', 'dead_letter']);

/** The addresses the test names resolve to: none may appear in what the customer reads. */
function assertNamesNoAddress(r: ApiResponse, what: string): void {
  for (const needle of ['127.0.0.2', '::1', '127.0.0.1', 'blocked range', 'loopback', 'HAREPOST_ALLOW']) {
    assert.ok(!r.text.includes(needle), `${what} shows "${needle}": ${r.text}`);
  }
}

describe('a refused target, as the customer sees it and as the operator sees it', () => {
  const lines: string[] = [];
  let stack: Stack;
  let acct: TestAccount;
  let trap: Server;
  let trapped = 0;
  let port: number;

  /** The operator's log lines (parsed) that satisfy `match`. */
  const logged = (match: (l: Record<string, any>) => boolean): Array<Record<string, any>> =>
    lines.map((l) => JSON.parse(l) as Record<string, any>).filter(match);

  before(async () => {
    trap = createServer((s) => {
      trapped++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.2', () => r()));
    port = (trap.address() as { port: number }).port;
    stack = await startStack({ logger: capturedLogger(lines) });
    acct = await stack.createAccount('customer view');
    await stack.verifyDomain(acct.live_key, 'example.test');
    stack.dns.setA('inside.example.test', ['127.0.0.2']);
    stack.dns.setAAAA('inside.example.test', ['::1']);
  });
  after(async () => {
    await stack?.close();
    await new Promise((r) => trap?.close(r));
  });

  async function settled(id: string): Promise<ApiResponse> {
    return waitFor(
      async () => {
        const g = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
        return TERMINAL.has(g.body?.status) ? g : undefined;
      },
      { message: `delivery ${id} settles` },
    );
  }

  function assertRefusedDelivery(g: ApiResponse, id: string): void {
    const d = g.body;
    assert.equal(d.status, 'dead_letter', g.text);
    assert.equal(d.attempts.length, 1, g.text);
    assert.equal(d.attempts[0].outcome, 'blocked');
    assert.equal(d.attempts[0].error, REFUSED);
    assertNamesNoAddress(g, `GET /v1/deliveries/${id}`);
    // the operator's log has which addresses were refused and why, for this delivery
    const detail = logged((l) => l.msg === 'attempt detail' && l.queue_id === id);
    assert.equal(detail.length, 1, `one detail line for ${id}: ${JSON.stringify(detail)}`);
    assert.equal(detail[0]!.level, 40, 'logged as a warning');
    assert.equal(detail[0]!.outcome, 'blocked');
    assert.match(detail[0]!.detail, /127\.0\.0\.2 is in blocked range 127\.0\.0\.0\/8 \(loopback\)/);
    assert.match(detail[0]!.detail, /::1 is in blocked range ::1\/128 \(loopback\)/);
    assert.equal(trapped, 0, 'a refused address was connected to');
  }

  it('a send: the attempt error names the host only; the log has the addresses', async () => {
    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: `https://inside.example.test:${port}/hook`, body: { n: 1 }, delivery: FAST },
    });
    assert.equal(r.status, 202, r.text);
    const id = r.body.queue_id as string;
    assertRefusedDelivery(await settled(id), id);
  });

  it('an event delivery: the same', async () => {
    const dest = await stack.api('POST', '/v1/destinations', {
      key: acct.live_key,
      body: { url: `https://inside.example.test:${port}/events`, events: ['order.created'], delivery: FAST },
    });
    assert.equal(dest.status, 201, dest.text);
    const ev = await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'order.created', body: { id: 7 } } });
    assert.equal(ev.status, 202, ev.text);
    assert.equal(ev.body.deliveries.length, 1, ev.text);
    const id = ev.body.deliveries[0].queue_id as string;
    assertRefusedDelivery(await settled(id), id);
  });

  it('the destination test (/v1/destinations and /v1/webhooks): the answer names the host only; the log has the addresses', async () => {
    const dest = await stack.api('POST', '/v1/destinations', {
      key: acct.live_key,
      body: { url: `https://inside.example.test:${port}/test`, events: ['order.tested'] },
    });
    assert.equal(dest.status, 201, dest.text);
    const hook = await stack.api('POST', '/v1/webhooks', {
      key: acct.live_key,
      body: { url: `https://inside.example.test:${port}/test-w`, events: ['order.tested'] },
    });
    assert.equal(hook.status, 201, hook.text);
    for (const [path, id] of [
      [`/v1/destinations/${dest.body.id}/test`, dest.body.id as string],
      [`/v1/webhooks/${hook.body.id}/test`, hook.body.id as string],
    ] as const) {
      const t = await stack.api('POST', path, { key: acct.live_key });
      assert.equal(t.status, 200, t.text);
      assert.equal(t.body.success, false, t.text);
      assert.equal(t.body.status, null);
      assert.equal(t.body.error, `blocked: ${REFUSED}`);
      assertNamesNoAddress(t, `POST ${path}`);
      const detail = logged((l) => l.destination_id === id && typeof l.detail === 'string');
      assert.equal(detail.length, 1, `one detail line for ${id}`);
      assert.equal(detail[0]!.level, 40);
      assert.equal(detail[0]!.account_id, acct.account_id);
      assert.match(detail[0]!.detail, /127\.0\.0\.2 is in blocked range/);
    }
    assert.equal(trapped, 0);
  });

  it('a failed connection to an exempt address names the host, not the address (the log has it)', async () => {
    // 127.0.0.1 is exempt in the harness; nothing listens on this port
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    stack.dns.setA('refusing.example.test', ['127.0.0.1']);

    const r = await stack.api('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: `https://refusing.example.test:${closedPort}/`, delivery: { ...FAST, max_attempts: 1 } },
    });
    assert.equal(r.status, 202, r.text);
    const id = r.body.queue_id as string;
    const g = await settled(id);
    assert.equal(g.body.attempts[0].outcome, 'network_error', g.text);
    assert.equal(g.body.attempts[0].error, `ECONNREFUSED: connect ECONNREFUSED refusing.example.test:${closedPort}`);
    assertNamesNoAddress(g, `GET /v1/deliveries/${id}`);
    const detail = logged((l) => l.msg === 'attempt detail' && l.queue_id === id);
    assert.equal(detail.length, 1);
    assert.equal(detail[0]!.level, 30, 'a connection failure is logged at info');
    assert.match(detail[0]!.detail, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`));
  });

  it('the API never answered with a refused address over the whole run (the log is where they are)', async () => {
    const list = await stack.api('GET', '/v1/deliveries?limit=100', { key: acct.live_key });
    assert.equal(list.status, 200);
    assertNamesNoAddress(list, 'GET /v1/deliveries');
    assert.ok(lines.some((l) => l.includes('127.0.0.2')), 'the operator log names the refused address');
  });
});
