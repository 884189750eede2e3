import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, afterEach, before, describe, it } from 'node:test';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { freePort } from '../support/free-port.js';
import { sleep, waitFor } from '../support/wait.js';

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function send(url: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: string; agent?: Agent | false; timeoutMs?: number } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('startReceiver', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
  });
  afterEach(() => rx.reset());
  after(async () => {
    await rx.close();
  });

  it('records method, path, headers, raw headers and body', async () => {
    const res = await send(rx.url('/hook?x=1'), {
      headers: { 'content-type': 'application/json', 'X-Multi': ['a', 'b'], 'X-Case': 'Kept' },
      body: '{"hello":"world"}',
    });
    assert.deepEqual([res.status, res.body], [200, 'ok']);
    assert.equal(rx.requests.length, 1);
    const r = rx.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/hook?x=1');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-multi'], 'a, b');
    assert.equal(r.headers['x-case'], 'Kept');
    assert.ok(r.rawHeaders.includes('X-Case'));
    assert.equal(r.body.toString(), '{"hello":"world"}');
    assert.equal(r.remoteAddress, '127.0.0.1');
    assert.ok(Math.abs(Date.now() - r.receivedAt) < 5000);
    assert.equal(rx.url(), `http://127.0.0.1:${rx.port}/`);
    assert.equal(rx.url('hook', 'hooks.example.test'), `http://hooks.example.test:${rx.port}/hook`);
  });

  it('replies with custom status/headers/body and sequences', async () => {
    rx.respond((req, i) => ({ status: 201, headers: { 'X-Index': String(i) }, body: `got ${req.path}` }));
    const a = await send(rx.url('/a'));
    assert.deepEqual([a.status, a.headers['x-index'], a.body], [201, '0', 'got /a']);

    rx.respondWithSequence([{ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 204 }]);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await send(rx.url('/s'))).status);
    assert.deepEqual(statuses, [500, 429, 204, 204, 204]);

    rx.respond(() => ({ delayMs: 150, body: 'slow' }));
    const t0 = Date.now();
    const slow = await send(rx.url('/slow'));
    assert.equal(slow.body, 'slow');
    assert.ok(Date.now() - t0 >= 140);
  });

  it('records the request before the reply even when it hangs; close() ends hung sockets', async () => {
    const rx2 = await startReceiver();
    rx2.respond(() => ({ hang: true }));
    const pending = send(rx2.url('/hang'), { body: 'x' });
    pending.catch(() => undefined);
    const [r] = await rx2.waitForRequests(1, 2000);
    assert.equal(r?.path, '/hang');
    const outcome = await Promise.race([pending.then(() => 'answered', () => 'error'), sleep(200).then(() => 'still hanging')]);
    assert.equal(outcome, 'still hanging');
    const t0 = Date.now();
    await rx2.close();
    assert.ok(Date.now() - t0 < 1000, 'close() did not wait for the hung socket');
    await assert.rejects(pending);
  });

  it('destroy resets the connection', async () => {
    rx.respond(() => ({ destroy: true }));
    await assert.rejects(send(rx.url('/boom'), { body: 'x' }), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code ?? err.message), /ECONNRESET|socket hang up/);
      return true;
    });
    assert.equal(rx.requests.length, 1);
  });

  it('counts TCP connections (keep-alive reuses one)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await send(rx.url('/1'), { agent });
      await send(rx.url('/2'), { agent });
      assert.equal(rx.connections, 1);
      await send(rx.url('/3'));
      assert.equal(rx.connections, 2);
    } finally {
      agent.destroy();
    }
  });

  it('waitForRequests resolves as requests arrive and times out with a clear message', async () => {
    const waiting = rx.waitForRequests(2, 2000);
    await send(rx.url('/one'), { body: 'first body' });
    await send(rx.url('/two'));
    const got = await waiting;
    assert.deepEqual(got.map((r) => r.path), ['/one', '/two']);

    const t0 = Date.now();
    await assert.rejects(rx.waitForRequests(3, 150), (err: Error) => {
      assert.match(err.message, /waitForRequests\(3\).*timed out after 150 ms: 2 request\(s\) arrived/);
      assert.match(err.message, /#0 POST \/one .*"first body"/);
      assert.match(err.message, /#1 POST \/two/);
      return true;
    });
    assert.ok(Date.now() - t0 < 1000);
    rx.reset();
    await assert.rejects(rx.waitForRequests(1, 50), /nothing arrived/);
  });

  it('serves over IPv6 loopback when available, refuses non-loopback hosts', async (t) => {
    await assert.rejects(startReceiver({ host: '0.0.0.0' }), /not a loopback/);
    let rx6: Receiver;
    try {
      rx6 = await startReceiver({ host: '::1' });
    } catch {
      t.skip('no ::1 in this environment');
      return;
    }
    try {
      assert.equal(rx6.url('/x'), `http://[::1]:${rx6.port}/x`);
      assert.equal((await send(rx6.url('/x'))).status, 200);
      assert.equal(rx6.requests[0]?.remoteAddress, '::1');
    } finally {
      await rx6.close();
    }
  });

  it('listens on a requested port', async () => {
    const port = await freePort();
    const rx3 = await startReceiver({ port });
    try {
      assert.equal(rx3.port, port);
    } finally {
      await rx3.close();
    }
  });
});

describe('waitFor', () => {
  it('polls until a value is ready, retrying through thrown assertions', async () => {
    let n = 0;
    assert.equal(await waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 5 }), 3);
    let m = 0;
    assert.equal(await waitFor(() => { m++; assert.ok(m > 2); return true; }, { intervalMs: 5 }), true);
    assert.equal(await waitFor(async () => 0), 0);
  });
  it('rejects with the message on timeout', async () => {
    await assert.rejects(waitFor(() => false, { timeoutMs: 60, intervalMs: 10, message: 'the thing never happened' }),
      /timed out after 60 ms .*the thing never happened/);
    await assert.rejects(waitFor(() => { throw new Error('inner'); }, { timeoutMs: 30 }), (err: Error) => {
      assert.match(err.message, /last error: inner/);
      assert.equal((err.cause as Error).message, 'inner');
      return true;
    });
    await assert.rejects(waitFor(() => new Promise<never>(() => undefined), { timeoutMs: 50 }), /timed out/);
  });
});
