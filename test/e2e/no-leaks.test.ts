/**
 * Nothing leaks: API keys, signing secrets and Authorization values never appear in the logs
 * (captured at trace level over a full run) or in error bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { capturedLogger } from '../support/captured-logger.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('secrets never leak', () => {
  const lines: string[] = [];
  let stack: Stack;
  let acct: TestAccount;
  const secrets: string[] = [];
  const bodies: string[] = [];

  before(async () => {
    stack = await startStack({ logger: capturedLogger(lines) });
    acct = await stack.createAccount();
    secrets.push(acct.live_key, acct.test_key);
  });
  after(async () => stack.close());

  it('a full run: keys, domains, signed sends, rotation, failures', async () => {
    const call = async (...args: Parameters<Stack['api']>) => {
      const r = await stack.api(...args);
      if (r.status >= 400) bodies.push(r.text); // error bodies: must never echo a secret
      return r;
    };
    await stack.verifyDomain(acct.live_key, 'example.test');
    secrets.push((await call('GET', '/v1/signing-secret', { key: acct.live_key })).body.secret);
    const made = await call('POST', '/v1/keys', { key: acct.live_key, body: { mode: 'live' } });
    secrets.push(made.body.key);
    for (let i = 0; i < 3; i++) {
      await call('POST', '/v1/send', {
        key: made.body.key,
        auth: 'x-api-key',
        body: { target: stack.target('/leak'), body: { i }, sign: true, headers: { Authorization: 'Bearer caller-secret-token-1234567890' } },
      });
    }
    secrets.push('caller-secret-token-1234567890');
    secrets.push((await call('POST', '/v1/signing-secret/rotate', { key: acct.live_key })).body.secret);
    stack.receiver.respond(() => ({ status: 500, body: 'nope' }));
    await call('POST', '/v1/send', {
      key: acct.live_key,
      body: { target: stack.target('/leak-fail'), sign: true, delivery: { max_attempts: 2, base_delay_ms: 100 } },
    });
    const wrongKey = 'hp_live_' + 'Z'.repeat(40);
    secrets.push(wrongKey);
    const denied = await call('GET', '/v1/deliveries', { key: wrongKey });
    assert.equal(denied.status, 401);
    await call('POST', '/v1/send', { key: 'not-even-a-key-shaped-secret-999', body: {} });
    secrets.push('not-even-a-key-shaped-secret-999');
    await call('DELETE', `/v1/keys/${made.body.id}`, { key: acct.live_key });
    await call('GET', '/v1/deliveries', { key: made.body.key }); // revoked: 401
    await waitFor(() => stack.receiver.requests.filter((r) => r.path === '/leak-fail').length >= 2);
    stack.receiver.respond(() => ({ status: 200 }));

    assert.ok(lines.length >= 15, `logs were captured (${lines.length} lines)`);
    assert.ok(lines.some((l) => l.includes('"outcome"')), 'attempt lines are among them');
    // one structured line per API request and per attempt
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = parsed.filter((l) => l.msg === 'request');
    assert.ok(requests.length >= 10, `${requests.length} request lines`);
    for (const r of requests) {
      for (const k of ['reqId', 'method', 'route', 'path', 'status', 'ms']) assert.ok(k in r, `request line has ${k}: ${JSON.stringify(r)}`);
    }
    assert.equal(new Set(requests.map((r) => r.reqId)).size, requests.length, 'one line per request');
    assert.ok(!parsed.some((l) => l.msg === 'incoming request'), 'no second line per request');
    const attempts = parsed.filter((l) => l.msg === 'attempt');
    assert.ok(attempts.length >= 4);
    for (const a of attempts) {
      for (const k of ['queue_id', 'attempt', 'outcome', 'status', 'latency_ms']) assert.ok(k in a, `attempt line has ${k}`);
    }
    assert.ok(bodies.length >= 3, 'error answers were captured');
    const logs = lines.join('');
    const errors = bodies.join('\n');
    for (const s of secrets) {
      // the whole value and its secret part (past the prefix)
      for (const piece of [s, s.slice(8)]) {
        assert.ok(!logs.includes(piece), `a secret (${s.slice(0, 10)}…) appeared in the logs`);
        assert.ok(!errors.includes(piece), `a secret (${s.slice(0, 10)}…) appeared in an error body`);
      }
    }
  });
});
