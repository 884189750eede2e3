/**
 * HAREPOST_ATTEMPT_THREAD=false: attempts run on the main event loop, as before the HTTP thread —
 * a send is delivered as sent, a failing target is retried, and the address guard still
 * refuses a target outside the allowed ranges. (Every other end-to-end test runs with the thread.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('attempts on the main loop (HAREPOST_ATTEMPT_THREAD=false)', () => {
  let stack: Stack;
  let acct: TestAccount;
  // worker threads this test process has of its own (tsx's loader): the baseline for the count below
  const workers = () => (process.report.getReport() as unknown as { workers: unknown[] }).workers.length;
  let baseline = 0;

  before(async () => {
    baseline = workers();
    stack = await startStack({ env: { HAREPOST_ATTEMPT_THREAD: 'false' } });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
  });
  after(async () => stack.close());

  const send = async (target: string, delivery: Record<string, unknown> = {}) => {
    const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target, body: { hello: 'loop' }, delivery } });
    assert.equal(r.status, 202, r.text);
    return r.body.queue_id as string;
  };
  const settled = (id: string) =>
    waitFor(
      async () => {
        const d = (await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key })).body;
        return ['delivered', 'rejected', 'dead_letter'].includes(d.status) ? d : undefined;
      },
      { timeoutMs: 15_000, message: `${id} never settled` },
    );

  it('delivers as sent, and retries a failing target', async () => {
    let calls = 0;
    stack.receiver.respond((req) => (req.path === '/flaky' && ++calls === 1 ? { status: 503 } : { status: 200 }));
    const okId = await send(stack.receiver.url('/ok', 'example.test'));
    const ok = await settled(okId);
    assert.equal(ok.status, 'delivered');
    const seen = stack.receiver.requests.find((r) => r.path === '/ok');
    assert.ok(seen, 'the receiver got it');
    assert.deepEqual(JSON.parse(seen.body.toString()), { hello: 'loop' });
    assert.equal(seen.headers['x-harepost-queue-id'], okId);

    const flaky = await settled(await send(stack.receiver.url('/flaky', 'example.test'), { base_delay_ms: 100, backoff: 'fixed', jitter: 'none' }));
    assert.equal(flaky.status, 'delivered');
    assert.deepEqual(flaky.attempts.map((a: { outcome: string }) => a.outcome), ['failed', 'delivered']);
    // and no thread was started for them (with the default, this process has one: the HTTP thread)
    assert.equal(workers() - baseline, 0, 'no worker thread started by Harepost');
  });

  it('the address guard still refuses a target outside the allowed ranges', async () => {
    // the stack exempts only 127.0.0.0/8: a name that resolves to ::1 is blocked, and nothing is dialled
    stack.dns.setAAAA('v6only.example.test', ['::1']);
    const d = await settled(await send(`https://v6only.example.test:${new URL(stack.receiver.url('/')).port}/x`, { max_attempts: 1 }));
    assert.equal(d.status, 'dead_letter');
    assert.deepEqual(d.attempts.map((a: { outcome: string }) => a.outcome), ['blocked']);
  });
});
