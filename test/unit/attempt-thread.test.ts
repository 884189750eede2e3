/**
 * Delivery attempts on their own thread (src/net/attempt-thread.ts with attempt-worker.ts): many
 * attempts at once each answered with their own response, bodies byte-exact across the threads
 * (a small Buffer sliced from a larger one too), method and headers as sent; the address guard
 * applied in the thread; a thread that dies ends what it held as THREAD_STOPPED network errors and
 * the next attempt starts a new one; close() ends what is in flight and starts nothing after; and
 * start() waits for the thread's 'ready', or rejects when it stops before. A thread that dies is
 * test/support/dying-attempt-worker.ts, which logs each start to a file. Traffic only to loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AttemptAgentSettings } from '../../src/net/attempt-agent.js';
import { AttemptThread, THREAD_STOPPED } from '../../src/net/attempt-thread.js';
import type { AttemptRequest, AttemptResult } from '../../src/net/http-attempt.js';
import type { DyingWorkerData } from '../support/dying-attempt-worker.js';
import { type Receiver, startReceiver } from '../support/receiver.js';
import { sleep } from '../support/wait.js';

const SETTINGS: AttemptAgentSettings = { allowPrivateNetworks: '127.0.0.0/8', dnsServers: '', connectionsPerOrigin: 8, targetCa: null };
const DYING_WORKER = new URL('../support/dying-attempt-worker.ts', import.meta.url);

/**
 * `p`, or a rejection naming `what` after `ms`. Its timer also keeps the process alive: the thread
 * is unref'd, so a test awaiting only the thread would otherwise end with the loop empty.
 */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function assertStopped(r: AttemptResult): void {
  assert.equal(r.kind, 'network_error', JSON.stringify(r));
  assert.equal((r as { error: string }).error, THREAD_STOPPED);
}

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'harepost-attempt-thread-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A dying thread's settings, and the threads it started (their threadIds, in order). */
function dying(name: string, dieAt: DyingWorkerData['dieAt']): { settings: AttemptAgentSettings; starts: () => string[] } {
  const startsFile = join(dir, `${name}.starts`);
  const settings: AttemptAgentSettings & DyingWorkerData = { ...SETTINGS, startsFile, dieAt };
  return {
    settings,
    starts: () => (existsSync(startsFile) ? readFileSync(startsFile, 'utf8').split('\n').filter((l) => l !== '') : []),
  };
}

describe('AttemptThread with the real worker', () => {
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
  });

  it('50 attempts at once: each its own response; bodies byte-exact, method and headers as sent', async () => {
    receiver.reset();
    // the status and the excerpt tell which request this is
    receiver.respond((req) => {
      const i = Number(req.path.split('/').pop());
      return { status: 200 + (i % 4), body: `${req.method} ${req.path} job=${req.headers['x-job']} len=${req.body.length}` };
    });
    const large = randomBytes(8192);
    const sent: AttemptRequest[] = [];
    for (let i = 0; i < 50; i++) {
      let method = 'POST';
      let body: Buffer | null;
      switch (i % 5) {
        case 0:
          method = 'GET';
          body = null;
          break;
        case 1:
          body = Buffer.from(`a small body, pooled: ${i} ${'é'.repeat(i)}`);
          break;
        case 2:
          // a small view into a larger buffer: only its own bytes may cross
          body = large.subarray(100 + i, 100 + i + 37);
          assert.notEqual(body.byteOffset, 0);
          break;
        case 3:
          body = randomBytes(150_000 + i);
          break;
        default:
          method = 'PUT';
          body = Buffer.alloc(0);
      }
      sent.push({
        url: receiver.url(`/hooks/${i}`),
        method,
        headers: { 'content-type': 'application/octet-stream', 'x-job': String(i), 'X-Mixed-Case': `Value ${i}; with spaces` },
        body,
        timeoutMs: 20_000,
      });
    }

    const thread = new AttemptThread(SETTINGS);
    try {
      const results = await within(Promise.all(sent.map((req) => thread.perform(req))), 30_000, '50 attempts');
      assert.equal(thread.inFlight, 0);
      for (const [i, r] of results.entries()) {
        const req = sent[i]!;
        assert.equal(r.kind, 'response', `attempt ${i}: ${JSON.stringify(r)}`);
        if (r.kind !== 'response') continue;
        assert.equal(r.status, 200 + (i % 4), `attempt ${i}`);
        assert.equal(r.excerpt, `${req.method} /hooks/${i} job=${i} len=${req.body?.length ?? 0}`, `attempt ${i}`);
      }

      assert.equal(receiver.requests.length, 50);
      for (const rec of receiver.requests) {
        const i = Number(rec.path.split('/').pop());
        const req = sent[i]!;
        assert.equal(rec.path, `/hooks/${i}`);
        assert.equal(rec.method, req.method, `request ${i}`);
        assert.equal(rec.headers['x-job'], String(i));
        assert.equal(rec.headers['x-mixed-case'], `Value ${i}; with spaces`);
        assert.equal(rec.headers['content-type'], 'application/octet-stream');
        assert.ok(rec.body.equals(req.body ?? Buffer.alloc(0)), `request ${i}: body of ${rec.body.length} bytes, sent ${req.body?.length ?? 0}`);
      }
    } finally {
      await thread.close();
    }
  });

  it('the address guard applies in the thread: 127.0.0.1 without allowPrivateNetworks is blocked, nothing sent', async () => {
    receiver.reset();
    const thread = new AttemptThread({ ...SETTINGS, allowPrivateNetworks: '' });
    try {
      const r = await within(
        thread.perform({ url: receiver.url('/guarded'), method: 'POST', headers: {}, body: Buffer.from('{}'), timeoutMs: 5_000 }),
        10_000,
        'guarded attempt',
      );
      assert.equal(r.kind, 'blocked', JSON.stringify(r));
      await sleep(100);
      assert.equal(receiver.connections, 0);
      assert.equal(receiver.requests.length, 0);
    } finally {
      await thread.close();
    }
  });

  it('close(): attempts in flight end as THREAD_STOPPED; perform() after it too, and starts no thread', async () => {
    receiver.reset();
    receiver.respond(() => ({ hang: true }));
    const thread = new AttemptThread(SETTINGS);
    const held = [1, 2, 3].map((n) =>
      thread.perform({ url: receiver.url(`/held/${n}`), method: 'POST', headers: {}, body: Buffer.from(`held ${n}`), timeoutMs: 60_000 }),
    );
    await receiver.waitForRequests(3);
    assert.equal(thread.inFlight, 3);
    await within(thread.close(), 10_000, 'close()');
    const results = await within(Promise.all(held), 5_000, 'the attempts held at close()');
    for (const r of results) assertStopped(r);
    assert.equal(thread.inFlight, 0);

    const connections = receiver.connections;
    const late = await within(
      thread.perform({ url: receiver.url('/late'), method: 'POST', headers: {}, body: null, timeoutMs: 60_000 }),
      5_000,
      'perform() after close()',
    );
    assertStopped(late);
    assert.equal(late.latencyMs, 0);
    await sleep(100);
    assert.equal(receiver.connections, connections);
    assert.equal(receiver.requests.length, 3);
  });

  it('start() resolves once the thread takes attempts', async () => {
    receiver.reset();
    const thread = new AttemptThread(SETTINGS);
    try {
      await within(thread.start(), 10_000, 'start()');
      const r = await within(
        thread.perform({ url: receiver.url('/after-start'), method: 'GET', headers: {}, body: null, timeoutMs: 5_000 }),
        10_000,
        'attempt after start()',
      );
      assert.equal(r.kind, 'response', JSON.stringify(r));
    } finally {
      await thread.close();
    }
  });
});

describe('AttemptThread with a thread that dies', () => {
  const attempt = (n: number): AttemptRequest => ({
    // never sent: the fixture dies on the message that carries it
    url: `http://127.0.0.1:9/never/${n}`,
    method: 'POST',
    headers: {},
    body: Buffer.from(`attempt ${n}`),
    timeoutMs: 5_000,
  });

  it('what the thread held ends as THREAD_STOPPED (resolved, not rejected); the next attempt starts a new thread', async () => {
    const { settings, starts } = dying('dies-on-attempts', 'attempts');
    const errors: Error[] = [];
    const thread = new AttemptThread(settings, { workerUrl: DYING_WORKER, onError: (err) => errors.push(err) });
    try {
      const first = await within(Promise.all([1, 2, 3].map((n) => thread.perform(attempt(n)))), 20_000, 'attempts on the first thread');
      for (const r of first) assertStopped(r);
      assert.equal(thread.inFlight, 0);
      assert.equal(starts().length, 1);

      const second = await within(thread.perform(attempt(4)), 20_000, 'the attempt after the thread died');
      assertStopped(second);
      const ids = starts();
      assert.equal(ids.length, 2, `threads started: ${ids.join(', ')}`);
      assert.notEqual(ids[0], ids[1]);
      assert.deepEqual(
        errors.map((e) => e.message),
        ['the HTTP thread stopped (exit code 1)', 'the HTTP thread stopped (exit code 1)'],
        'each thread that stopped unasked is told, once',
      );
    } finally {
      await thread.close();
    }
  });

  it('start() resolves only once the thread said ready', async () => {
    const { settings, starts } = dying('ready-then-dies', 'attempts');
    const thread = new AttemptThread(settings, { workerUrl: DYING_WORKER });
    try {
      await within(thread.start(), 20_000, 'start()');
      // the fixture logs its start before it posts 'ready'
      assert.equal(starts().length, 1);
    } finally {
      await thread.close();
    }
  });

  it('start() rejects with a clear error when the thread stops before it is ready', async () => {
    const { settings, starts } = dying('dies-at-start', 'start');
    const thread = new AttemptThread(settings, { workerUrl: DYING_WORKER });
    try {
      await assert.rejects(within(thread.start(), 20_000, 'start()'), /^Error: the HTTP thread stopped as it started \(exit code 3\)$/);
      assert.equal(starts().length, 1);
    } finally {
      await thread.close();
    }
  });

  it('perform() after close() starts no thread', async () => {
    const { settings, starts } = dying('closed', 'attempts');
    const thread = new AttemptThread(settings, { workerUrl: DYING_WORKER });
    await thread.close();
    const r = await within(thread.perform(attempt(1)), 20_000, 'perform() after close()');
    assertStopped(r);
    // a thread started would have logged itself before the attempt could end
    assert.deepEqual(starts(), []);
    assert.equal(r.latencyMs, 0);
  });
});
