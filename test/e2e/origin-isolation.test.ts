/**
 * One slow or dead target must not hold back deliveries to others: in-flight attempts are capped
 * per origin as well as in total, so a target that never answers takes at most its share.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('per-origin isolation', () => {
  let stack: Stack;
  let acct: TestAccount;
  let stuck: Receiver;

  before(async () => {
    stack = await startStack({
      env: { HAREPOST_MAX_IN_FLIGHT_PER_ORIGIN: '4', HAREPOST_MAX_IN_FLIGHT: '16', HAREPOST_SHUTDOWN_GRACE_MS: '0' },
    });
    acct = await stack.createAccount();
    await stack.verifyDomain(acct.live_key, 'example.test');
    stuck = await startReceiver({ tls: { certPem: stack.pki.certPem, keyPem: stack.pki.keyPem } });
    stuck.respond(() => ({ hang: true }));
  });
  after(async () => {
    await stack.close();
    await stuck.close();
  });

  it('a target that never answers gets at most its per-origin cap; others are delivered meanwhile', async () => {
    const send = async (target: string) => {
      const r = await stack.api('POST', '/v1/send', {
        key: acct.live_key,
        body: { target, body: 'x', delivery: { timeout_ms: 30_000, max_attempts: 1 } },
      });
      assert.equal(r.status, 202);
      return r.body.queue_id as string;
    };
    for (let i = 0; i < 40; i++) await send(stuck.url(`/stuck/${i}`, 'stuck.example.test'));
    await stuck.waitForRequests(4);
    const healthy: string[] = [];
    for (let i = 0; i < 40; i++) healthy.push(await send(stack.target(`/healthy/${i}`)));
    await stack.receiver.waitForRequests(40, 10_000);
    for (const id of healthy) {
      const d = await waitFor(async () => {
        const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
        return r.body.status === 'delivered' ? r.body : undefined;
      });
      assert.equal(d.attempts.length, 1);
    }
    // the stuck origin never had more than its cap of attempts open at once
    assert.equal(stuck.requests.length, 4);
    const stuckList = await stack.api('GET', '/v1/deliveries?status=queued&limit=100', { key: acct.live_key });
    assert.equal(stuckList.body.data.length, 40, 'the stuck deliveries are still waiting, none lost');
  });
});
