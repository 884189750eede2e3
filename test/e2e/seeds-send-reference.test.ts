/**
 * The harepost-send-reference document against a local Harepost: its example request sent byte
 * for byte (host and key changed; your-app.com keeps its name and gains the receiver's port), the
 * response it promises, the headers it says every delivery carries, and every status code in its
 * table (202, 400, 401, 403, 429).
 *
 * Rules of the request table in full depth live elsewhere: every field's validation and every
 * clamp bound in send-validation.test.ts and core-policy.test.ts, the stripped headers and body
 * encodings in send-forwarding.test.ts, retries and Retry-After in delivery-outcomes.test.ts,
 * `sign` in signing.test.ts. One case of each kind is repeated here from the document's words.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { SEED_TIMESTAMP, SEND_REFERENCE_EXAMPLE } from '../support/seed-examples.js';

const ISO = SEED_TIMESTAMP;
/** Per key (requests per second, and the burst); polls here stay well under it. */
const RATE = 10;

// "Example" (target host: your-app.com → your-app.com:<receiver port>)
const EXAMPLE = SEND_REFERENCE_EXAMPLE;

describe('seed: harepost-send-reference', () => {
  let stack: Stack;
  let acct: TestAccount;
  /** `key` null: no Authorization header at all. */
  const send = (rawBody: string, key: string | null = acct.live_key, headers: Record<string, string> = {}) =>
    stack.api('POST', '/v1/send', {
      ...(key === null ? {} : { key }),
      rawBody,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const delivery = (id: string) =>
    waitFor(async () => {
      const r = await stack.api('GET', `/v1/deliveries/${id}`, { key: acct.live_key });
      return r.status === 200 && r.body.status === 'delivered' ? r.body : undefined;
    }, { intervalMs: 250, message: `${id} was not delivered` });

  before(async () => {
    stack = await startStack({
      certNames: ['your-app.com'],
      env: { HAREPOST_RATE_LIMIT_PER_SECOND: String(RATE), HAREPOST_RATE_LIMIT_BURST: String(RATE) },
    });
    stack.dns.setA('your-app.com', ['127.0.0.1']);
    acct = await stack.createAccount('send-reference');
    await stack.verifyDomain(acct.live_key, 'your-app.com');
  });
  after(async () => stack.close());

  it('the example: 202 {queue_id, status queued, idempotency_key, created_at}; delivered with the headers Harepost adds', async () => {
    const r = await send(EXAMPLE(stack.receiver.port));
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['created_at', 'idempotency_key', 'queue_id', 'status']);
    assert.match(r.body.queue_id, /^hr_[a-z0-9]+$/);
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.idempotency_key, 'ord_123-paid');
    assert.match(r.body.created_at, ISO);

    const d = await delivery(r.body.queue_id);
    const req = stack.receiver.requests.find((x) => x.headers['x-harepost-queue-id'] === r.body.queue_id)!;
    assert.equal(req.method, 'POST', 'method defaults to POST');
    assert.equal(req.path, '/webhook');
    // "An object is JSON-encoded, and Content-Type: application/json is set"
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { event: 'order.paid', id: 'ord_123' });
    assert.equal(req.headers['content-type'], 'application/json');
    // "Every delivered request carries"
    assert.equal(req.headers['x-harepost-queue-id'], r.body.queue_id);
    assert.equal(req.headers['x-harepost-idempotency-key'], 'ord_123-paid');
    assert.equal(req.headers['user-agent'], 'Harepost/1.0');
    // "sign … Defaults to false"
    assert.equal(req.headers['x-harepost-signature'], undefined);
    // the delivery policy as given, the rest at the table's defaults
    assert.deepEqual(d.delivery, {
      max_attempts: 8,
      backoff: 'exponential',
      base_delay_ms: 2000,
      max_delay_ms: 3_600_000,
      jitter: 'full',
      timeout_ms: 10_000,
      respect_retry_after: true,
    });
  });

  it('"X-Harepost-Idempotency-Key — present only if you set one"; "A value outside its range is clamped"', async () => {
    const r = await send(`{"target": "https://your-app.com:${stack.receiver.port}/webhook", "delivery": {"max_attempts": 100, "timeout_ms": 5}}`);
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.idempotency_key, null);
    const d = await delivery(r.body.queue_id);
    assert.equal(d.delivery.max_attempts, 25);
    assert.equal(d.delivery.timeout_ms, 1000);
    const req = stack.receiver.requests.find((x) => x.headers['x-harepost-queue-id'] === r.body.queue_id)!;
    assert.equal('x-harepost-idempotency-key' in req.headers, false);
  });

  it('"When true, the delivery is signed and carries an X-Harepost-Signature header your endpoint can verify"', async () => {
    const r = await send(`{"target": "https://your-app.com:${stack.receiver.port}/signed", "body": {"hello": "world"}, "sign": true}`);
    assert.equal(r.status, 202, r.text);
    await delivery(r.body.queue_id);
    const req = stack.receiver.requests.find((x) => x.headers['x-harepost-queue-id'] === r.body.queue_id)!;
    assert.match(req.headers['x-harepost-signature'] ?? '', /^v1,[A-Za-z0-9+/]+=*$/);
    const secret = await stack.api('GET', '/v1/signing-secret', { key: acct.live_key });
    // throws unless it verifies
    assert.deepEqual(new Webhook(secret.body.secret).verify(req.body.toString('utf8'), req.headers), { hello: 'world' });
  });

  describe('status codes', () => {
    /** A key of its own for the 400s, so they never meet the rate limit of the key used above. */
    let refused: TestAccount;
    before(async () => {
      refused = await stack.createAccount('refused');
    });

    for (const [what, body, field] of [
      ['bad JSON', '{"target": "https://your-app.com/webhook",', undefined],
      ['a missing target', '{"body": {"event": "order.paid"}}', 'target'],
      ['a non-https target', '{"target": "http://your-app.com/webhook"}', 'target'],
      ['a disallowed method', '{"target": "https://your-app.com/webhook", "method": "TRACE"}', 'method'],
      ['a method not in upper case', '{"target": "https://your-app.com/webhook", "method": "post"}', 'method'],
      ['a target that is a private address', '{"target": "https://10.0.0.1/webhook"}', 'target'],
    ] as const) {
      it(`400 for ${what}`, async () => {
        const r = await send(body, refused.live_key);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error.code, field === undefined ? 'invalid_json' : 'invalid_request');
        assert.equal(r.body.error.field, field);
        assert.equal(typeof r.body.error.message, 'string');
      });
    }

    it('401 for a missing or invalid API key', async () => {
      const none = await send(EXAMPLE(stack.receiver.port), null);
      assert.equal(none.status, 401, none.text);
      assert.equal(none.body.error.code, 'unauthorized');
      const wrong = await send(EXAMPLE(stack.receiver.port), 'hp_live_YOUR_KEY');
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(wrong.body.error.code, 'unauthorized');
    });

    it('403 when the target domain is not verified for your account', async () => {
      const other = await stack.createAccount('unverified');
      const r = await send(EXAMPLE(stack.receiver.port), other.live_key);
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, 'domain_not_verified');
      assert.equal(r.body.error.field, 'target');
    });

    it('429 past the rate limit, with a Retry-After header that tells you how long', async () => {
      const busy = await stack.createAccount('busy');
      await stack.verifyDomain(busy.live_key, 'your-app.com');
      const answers = await Promise.all(Array.from({ length: RATE * 4 }, () => send(EXAMPLE(stack.receiver.port), busy.live_key)));
      const limited = answers.filter((a) => a.status === 429);
      assert.ok(limited.length >= 10, `at least 10 of ${answers.length} refused: ${answers.map((a) => a.status).join(',')}`);
      assert.ok(answers.every((a) => a.status === 202 || a.status === 429));
      for (const l of limited) {
        assert.equal(l.body.error.code, 'rate_limited');
        assert.match(String(l.headers['retry-after']), /^[1-9]\d*$/);
      }
      // another key is not held back by it
      assert.equal((await send(EXAMPLE(stack.receiver.port))).status, 202);
    });
  });
});
