/**
 * POST /v1/send: every status code of harepost-send-reference and every rule of SPEC §4, against
 * the real service (in process, real SQLite file, real loopback DNS and HTTPS receiver).
 *
 * No test here makes the service dial anything but loopback: the non-loopback IP literals used
 * below are ones the API must refuse at validation time, before any connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const QUEUE_ID = /^hr_[A-Za-z0-9]+$/;

/** Asserts the SPEC §3 error shape; `fields` lists the acceptable values of `error.field`. */
function assertError(res: ApiResponse, status: number, fields: ReadonlyArray<string | undefined>, what: string): void {
  const ctx = `${what}: got ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.equal(typeof res.body, 'object', ctx);
  assert.notEqual(res.body, null, ctx);
  const err = res.body.error;
  assert.equal(typeof err, 'object', ctx);
  assert.equal(typeof err.code, 'string', ctx);
  assert.match(err.code, SNAKE, ctx);
  assert.equal(typeof err.message, 'string', ctx);
  assert.notEqual(err.message.trim(), '', ctx);
  assert.ok(
    fields.includes(err.field),
    `${ctx}: error.field should be ${fields.map((f) => JSON.stringify(f)).join(' or ')}, got ${JSON.stringify(err.field)}`,
  );
}

function assertAccepted(res: ApiResponse, idempotencyKey: string | null, what: string): void {
  const ctx = `${what}: got ${res.status} ${res.text}`;
  assert.equal(res.status, 202, ctx);
  assert.deepEqual(Object.keys(res.body).sort(), ['created_at', 'idempotency_key', 'queue_id', 'status'], ctx);
  assert.match(res.body.queue_id, QUEUE_ID, ctx);
  assert.equal(res.body.status, 'queued', ctx);
  assert.equal(res.body.idempotency_key, idempotencyKey, ctx);
  assert.match(res.body.created_at, ISO, ctx);
  const age = Date.now() - Date.parse(res.body.created_at);
  assert.ok(age >= -2000 && age < 60_000, `${ctx}: created_at ${res.body.created_at} is not about now`);
}

describe('POST /v1/send', () => {
  let stack: Stack;
  /** Has hooks.example.test verified (and pending.example.test added, not verified). */
  let acme: TestAccount;
  /** Has theirs.example.test verified. */
  let other: TestAccount;
  /** Has the apex example.test verified. */
  let apex: TestAccount;
  let target: string;

  const send = (body: unknown, key: string = acme.live_key) => stack.api('POST', '/v1/send', { key, body });

  before(async () => {
    stack = await startStack();
    acme = await stack.createAccount('acme');
    other = await stack.createAccount('other');
    apex = await stack.createAccount('apex');
    await stack.verifyDomain(acme.live_key, 'hooks.example.test');
    await stack.verifyDomain(other.live_key, 'theirs.example.test');
    await stack.verifyDomain(apex.live_key, 'example.test');
    const pending = await stack.api('POST', '/v1/domains', { key: acme.live_key, body: { domain: 'pending.example.test' } });
    assert.equal(pending.status, 201, pending.text);
    assert.equal(pending.body.status, 'pending');
    target = stack.target('/hook');
  });

  after(async () => {
    await stack?.close();
  });

  describe('202 Accepted', () => {
    it('answers {queue_id, status: "queued", idempotency_key: null, created_at} without an idempotency_key', async () => {
      const res = await send({ target, body: { event: 'order.paid', id: 'ord_123' } });
      assertAccepted(res, null, 'plain send');
    });

    it('echoes the idempotency_key', async () => {
      const res = await send({ target, body: 'x', idempotency_key: 'ord_123-paid' });
      assertAccepted(res, 'ord_123-paid', 'send with idempotency_key');
    });

    it('gives every send its own queue_id', async () => {
      const a = await send({ target });
      const b = await send({ target });
      assertAccepted(a, null, 'first');
      assertAccepted(b, null, 'second');
      assert.notEqual(a.body.queue_id, b.body.queue_id);
    });

    it('accepts the key in X-API-Key exactly like Authorization: Bearer', async () => {
      const res = await stack.api('POST', '/v1/send', { key: acme.live_key, auth: 'x-api-key', body: { target } });
      assertAccepted(res, null, 'X-API-Key');
      const got = await stack.api('GET', `/v1/deliveries/${res.body.queue_id}`, { key: acme.live_key, auth: 'x-api-key' });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.queue_id, res.body.queue_id);
    });

    it('accepts a subdomain of a verified domain (example.test verified → a.b.example.test)', async () => {
      // The receiver certificate only covers *.example.test, so this delivery itself will fail
      // TLS; one attempt only, so it does not retry.
      const res = await send(
        { target: stack.target('/deep', 'a.b.example.test'), delivery: { max_attempts: 1 } },
        apex.live_key,
      );
      assertAccepted(res, null, 'subdomain of verified apex');
    });

    it('accepts exactly 64 headers, a 255-character idempotency_key and the "fixed"/"none" words', async () => {
      const headers: Record<string, string> = {};
      for (let i = 1; i <= 64; i++) headers[`X-H-${i}`] = String(i);
      const key255 = 'k'.repeat(255);
      const res = await send({
        target,
        headers,
        idempotency_key: key255,
        delivery: { backoff: 'fixed', jitter: 'none', respect_retry_after: false },
        metadata: { small: true },
        sign: false,
      });
      assertAccepted(res, key255, 'boundary values');
      const got = await stack.api('GET', `/v1/deliveries/${res.body.queue_id}`, { key: acme.live_key });
      assert.equal(got.body.delivery.backoff, 'fixed');
      assert.equal(got.body.delivery.jitter, 'none');
      assert.equal(got.body.delivery.respect_retry_after, false);
    });

    it('accepts a target of exactly 2048 characters and metadata of exactly 16 KiB', async () => {
      const base = stack.target('/');
      const long = base + 'a'.repeat(2048 - base.length);
      assert.equal(long.length, 2048);
      const metadata = { b: 'x'.repeat(16 * 1024 - 8) };
      assert.equal(JSON.stringify(metadata).length, 16 * 1024);
      const res = await send({ target: long, metadata });
      assertAccepted(res, null, '2048-char target, 16 KiB metadata');
      const got = await stack.api('GET', `/v1/deliveries/${res.body.queue_id}`, { key: acme.live_key });
      assert.equal(got.body.target, long);
      assert.deepEqual(got.body.metadata, metadata);
    });
  });

  describe('401 Unauthorized', () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no key at all', {}],
      ['a malformed key (Bearer)', { authorization: 'Bearer not-a-key' }],
      ['a malformed key (X-API-Key)', { 'x-api-key': 'hp_live_short' }],
      ['an unknown well-formed live key', { authorization: `Bearer hp_live_${'A1b2C3d4E5'.repeat(4)}` }],
      ['an unknown well-formed key in X-API-Key', { 'x-api-key': `hp_test_${'Z9y8X7w6V5'.repeat(4)}` }],
      ['a non-Bearer Authorization scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ];
    for (const [name, headers] of cases) {
      it(`refuses ${name}`, async () => {
        const res = await stack.api('POST', '/v1/send', { headers, body: { target } });
        assertError(res, 401, [undefined], name);
      });
    }

    it('refuses an unknown key even on a GET', async () => {
      const res = await stack.api('GET', '/v1/deliveries', { key: `hp_live_${'q'.repeat(40)}` });
      assertError(res, 401, [undefined], 'unknown key on GET');
    });
  });

  describe('400 Invalid request', () => {
    it('refuses a body that is not JSON', async () => {
      const res = await stack.api('POST', '/v1/send', {
        key: acme.live_key,
        rawBody: '{"target": "https://hooks.example.test/", ',
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 400, [undefined, 'request'], 'invalid JSON');
    });

    for (const [name, raw] of [
      ['a JSON array', '[1,2,3]'],
      ['a JSON string', '"https://hooks.example.test/"'],
      ['a JSON number', '42'],
    ] as const) {
      it(`refuses ${name} as the request body`, async () => {
        const res = await stack.api('POST', '/v1/send', {
          key: acme.live_key,
          rawBody: raw,
          headers: { 'content-type': 'application/json' },
        });
        assertError(res, 400, [undefined, 'request'], name);
      });
    }

    it('refuses an empty body', async () => {
      const res = await stack.api('POST', '/v1/send', {
        key: acme.live_key,
        rawBody: '',
        headers: { 'content-type': 'application/json' },
      });
      assertError(res, 400, [undefined, 'request', 'target'], 'empty body');
    });

    type Case = { name: string; body: () => Record<string, unknown>; fields: string[] };
    const h = (name: string) => ['headers', `headers.${name}`];
    const cases: Case[] = [
      { name: 'missing target', body: () => ({ body: 'x' }), fields: ['target'] },
      { name: 'null target', body: () => ({ target: null }), fields: ['target'] },
      { name: 'non-string target (number)', body: () => ({ target: 42 }), fields: ['target'] },
      { name: 'non-string target (object)', body: () => ({ target: { url: target } }), fields: ['target'] },
      { name: 'relative URL', body: () => ({ target: '/hook' }), fields: ['target'] },
      { name: 'scheme-less host', body: () => ({ target: 'hooks.example.test/hook' }), fields: ['target'] },
      { name: 'http:// target', body: () => ({ target: target.replace('https://', 'http://') }), fields: ['target'] },
      { name: 'ftp:// target', body: () => ({ target: 'ftp://hooks.example.test/file' }), fields: ['target'] },
      {
        name: 'userinfo in target',
        body: () => ({ target: target.replace('https://', 'https://u:p@') }),
        fields: ['target'],
      },
      {
        name: 'username only in target',
        body: () => ({ target: target.replace('https://', 'https://u@') }),
        fields: ['target'],
      },
      {
        name: 'target over 2048 characters',
        body: () => ({ target: stack.target(`/${'a'.repeat(2100)}`) }),
        fields: ['target'],
      },
      { name: 'blocked IP literal 10.0.0.1', body: () => ({ target: 'https://10.0.0.1/x' }), fields: ['target'] },
      {
        name: 'blocked IP literal 169.254.169.254 (cloud metadata)',
        body: () => ({ target: 'https://169.254.169.254/' }),
        fields: ['target'],
      },
      { name: 'blocked IP literal [::1]', body: () => ({ target: 'https://[::1]/' }), fields: ['target'] },
      {
        name: 'blocked IP literal 127.0.0.2 (loopback outside the allowed /32)',
        body: () => ({ target: 'https://127.0.0.2/' }),
        fields: ['target'],
      },
      // SPEC §8: IPv4 embedded in IPv6 is unwrapped before judging; other special-purpose ranges.
      ...(
        [
          'https://[::ffff:10.0.0.1]/',
          'https://[::ffff:a9fe:a9fe]/',
          'https://[64:ff9b::a00:1]/',
          'https://[2002:a00:1::]/',
          'https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/',
          'https://[fe80::1]/',
          'https://[fc00::1]/',
          'https://[::]/',
          'https://0.0.0.0/',
          'https://0xa000001/',
          'https://100.64.0.1/',
          'https://192.168.1.1/',
          'https://10.0.0.1.:8443/',
        ] as const
      ).map((t) => ({ name: `blocked IP literal ${t}`, body: () => ({ target: t }), fields: ['target'] })),
      { name: 'method "post" (lower case)', body: () => ({ target, method: 'post' }), fields: ['method'] },
      { name: 'method TRACE', body: () => ({ target, method: 'TRACE' }), fields: ['method'] },
      { name: 'method as a number', body: () => ({ target, method: 1 }), fields: ['method'] },
      { name: 'headers as a string', body: () => ({ target, headers: 'X-A: 1' }), fields: ['headers'] },
      { name: 'headers as an array', body: () => ({ target, headers: [['X-A', '1']] }), fields: ['headers'] },
      { name: 'a header value that is a number', body: () => ({ target, headers: { 'X-Num': 1 } }), fields: h('X-Num') },
      {
        name: 'a header value that is an object',
        body: () => ({ target, headers: { 'X-Obj': { a: '1' } } }),
        fields: h('X-Obj'),
      },
      {
        name: 'a header name that is not a token ("bad header")',
        body: () => ({ target, headers: { 'bad header': 'v' } }),
        fields: h('bad header'),
      },
      {
        name: 'a header value with CR LF (header injection)',
        body: () => ({ target, headers: { 'X-Evil': 'a\r\nInjected: 1' } }),
        fields: h('X-Evil'),
      },
      { name: 'a header value with a bare LF', body: () => ({ target, headers: { 'X-Lf': 'a\nb' } }), fields: h('X-Lf') },
      { name: 'a header value with a bare CR', body: () => ({ target, headers: { 'X-Cr': 'a\rb' } }), fields: h('X-Cr') },
      {
        name: '65 headers',
        body: () => {
          const headers: Record<string, string> = {};
          for (let i = 1; i <= 65; i++) headers[`X-H-${i}`] = String(i);
          return { target, headers };
        },
        fields: ['headers'],
      },
      { name: 'body as a number', body: () => ({ target, body: 42 }), fields: ['body'] },
      { name: 'body as a boolean', body: () => ({ target, body: true }), fields: ['body'] },
      { name: 'body false', body: () => ({ target, body: false }), fields: ['body'] },
      { name: 'delivery as a string', body: () => ({ target, delivery: 'fast' }), fields: ['delivery'] },
      {
        name: 'delivery.max_attempts as a string',
        body: () => ({ target, delivery: { max_attempts: '5' } }),
        fields: ['delivery.max_attempts'],
      },
      {
        name: 'delivery.base_delay_ms as a string',
        body: () => ({ target, delivery: { base_delay_ms: '1000' } }),
        fields: ['delivery.base_delay_ms'],
      },
      {
        name: 'delivery.max_delay_ms as a string',
        body: () => ({ target, delivery: { max_delay_ms: '3600000' } }),
        fields: ['delivery.max_delay_ms'],
      },
      {
        name: 'delivery.timeout_ms as a string',
        body: () => ({ target, delivery: { timeout_ms: '10000' } }),
        fields: ['delivery.timeout_ms'],
      },
      {
        name: 'delivery.respect_retry_after as a string',
        body: () => ({ target, delivery: { respect_retry_after: 'yes' } }),
        fields: ['delivery.respect_retry_after'],
      },
      {
        name: 'an unknown backoff word',
        body: () => ({ target, delivery: { backoff: 'linear' } }),
        fields: ['delivery.backoff'],
      },
      {
        name: 'an unknown jitter word',
        body: () => ({ target, delivery: { jitter: 'half' } }),
        fields: ['delivery.jitter'],
      },
      {
        name: 'an idempotency_key of 256 characters',
        body: () => ({ target, idempotency_key: 'k'.repeat(256) }),
        fields: ['idempotency_key'],
      },
      {
        name: 'an idempotency_key with a control character',
        body: () => ({ target, idempotency_key: 'abc\u0001def' }),
        fields: ['idempotency_key'],
      },
      {
        name: 'an idempotency_key with a newline',
        body: () => ({ target, idempotency_key: 'abc\ndef' }),
        fields: ['idempotency_key'],
      },
      {
        name: 'an idempotency_key that is a number',
        body: () => ({ target, idempotency_key: 123 }),
        fields: ['idempotency_key'],
      },
      { name: 'metadata as an array', body: () => ({ target, metadata: [1, 2] }), fields: ['metadata'] },
      { name: 'metadata as a string', body: () => ({ target, metadata: 'note' }), fields: ['metadata'] },
      {
        name: 'metadata over 16 KiB',
        body: () => ({ target, metadata: { blob: 'x'.repeat(16 * 1024) } }),
        fields: ['metadata'],
      },
      { name: 'sign as "yes"', body: () => ({ target, sign: 'yes' }), fields: ['sign'] },
      { name: 'sign as 1', body: () => ({ target, sign: 1 }), fields: ['sign'] },
    ];

    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        const res = await send(c.body());
        assertError(res, 400, c.fields, c.name);
      });
    }

    it('stores nothing for a refused request', async () => {
      const before = await stack.api('GET', '/v1/deliveries?limit=100', { key: other.test_key });
      assert.equal(before.status, 200, before.text);
      const res = await send({ target: stack.target('/x', 'theirs.example.test'), method: 'TRACE' }, other.test_key);
      assertError(res, 400, ['method'], 'TRACE for other account');
      const afterList = await stack.api('GET', '/v1/deliveries?limit=100', { key: other.test_key });
      assert.equal(afterList.body.data.length, before.body.data.length);
    });
  });

  describe('403 unverified domain', () => {
    it('refuses a host on no verified domain of the account', async () => {
      const res = await send({ target: stack.target('/hook', 'unknown.example.test') });
      assertError(res, 403, ['target'], 'unverified host');
    });

    it('refuses a domain that was added but is still pending', async () => {
      const res = await send({ target: stack.target('/hook', 'pending.example.test') });
      assertError(res, 403, ['target'], 'pending domain');
    });

    it('refuses a subdomain of a pending domain', async () => {
      const res = await send({ target: stack.target('/hook', 'x.pending.example.test') });
      assertError(res, 403, ['target'], 'subdomain of pending domain');
    });

    it('refuses a domain verified by another account', async () => {
      const res = await send({ target: stack.target('/hook', 'theirs.example.test') });
      assertError(res, 403, ['target'], "another account's domain");
      // ...while that other account may send there.
      const theirs = await send({ target: stack.target('/hook', 'theirs.example.test') }, other.live_key);
      assertAccepted(theirs, null, 'owner of theirs.example.test');
    });

    it('refuses a parent of a verified domain (hooks.example.test verified, example.test is not)', async () => {
      const res = await send({ target: stack.target('/hook', 'example.test') });
      assertError(res, 403, ['target'], 'parent domain');
    });

    it('refuses a look-alike suffix (evilhooks.example.test is not under hooks.example.test)', async () => {
      const res = await send({ target: stack.target('/hook', 'evilhooks.example.test') });
      assertError(res, 403, ['target'], 'look-alike');
    });

    it('serves both modes: a test key of the account may send to its verified domain', async () => {
      const res = await send({ target }, acme.test_key);
      assertAccepted(res, null, 'test key');
    });
  });

  describe('delivery policy clamping', () => {
    const policyOf = async (body: Record<string, unknown>) => {
      const res = await send({ target, ...body });
      assertAccepted(res, null, 'clamping send');
      const got = await stack.api('GET', `/v1/deliveries/${res.body.queue_id}`, { key: acme.live_key });
      assert.equal(got.status, 200, got.text);
      return got.body.delivery;
    };

    it('uses the defaults when delivery is absent', async () => {
      assert.deepEqual(await policyOf({}), {
        max_attempts: 5,
        backoff: 'exponential',
        base_delay_ms: 1000,
        max_delay_ms: 3_600_000,
        jitter: 'full',
        timeout_ms: 10_000,
        respect_retry_after: true,
      });
    });

    it('uses the defaults for an empty delivery object', async () => {
      assert.deepEqual(await policyOf({ delivery: {} }), {
        max_attempts: 5,
        backoff: 'exponential',
        base_delay_ms: 1000,
        max_delay_ms: 3_600_000,
        jitter: 'full',
        timeout_ms: 10_000,
        respect_retry_after: true,
      });
    });

    it('clamps values below the minimum up to it', async () => {
      const p = await policyOf({ delivery: { max_attempts: 0, base_delay_ms: 1, max_delay_ms: 1, timeout_ms: 1 } });
      assert.deepEqual(
        [p.max_attempts, p.base_delay_ms, p.max_delay_ms, p.timeout_ms],
        [1, 100, 1000, 1000],
      );
    });

    it('clamps negative values up to the minimum', async () => {
      const p = await policyOf({
        delivery: { max_attempts: -3, base_delay_ms: -1, max_delay_ms: -1, timeout_ms: -5000 },
      });
      assert.deepEqual(
        [p.max_attempts, p.base_delay_ms, p.max_delay_ms, p.timeout_ms],
        [1, 100, 1000, 1000],
      );
    });

    it('clamps values above the maximum down to it', async () => {
      const p = await policyOf({
        delivery: { max_attempts: 99, base_delay_ms: 1e9, max_delay_ms: 1e12, timeout_ms: 1e6 },
      });
      assert.deepEqual(
        [p.max_attempts, p.base_delay_ms, p.max_delay_ms, p.timeout_ms],
        [25, 60_000, 43_200_000, 30_000],
      );
    });

    it('truncates fractional values to integers', async () => {
      const p = await policyOf({
        delivery: { max_attempts: 2.9, base_delay_ms: 150.7, max_delay_ms: 5000.5, timeout_ms: 2500.99 },
      });
      assert.deepEqual(
        [p.max_attempts, p.base_delay_ms, p.max_delay_ms, p.timeout_ms],
        [2, 150, 5000, 2500],
      );
    });

    it('keeps in-range values as given and fills the rest with defaults', async () => {
      assert.deepEqual(await policyOf({ delivery: { max_attempts: 8, base_delay_ms: 2000 } }), {
        max_attempts: 8,
        backoff: 'exponential',
        base_delay_ms: 2000,
        max_delay_ms: 3_600_000,
        jitter: 'full',
        timeout_ms: 10_000,
        respect_retry_after: true,
      });
    });
  });
});

describe('POST /v1/send limits (413, 429)', () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      env: {
        HAREPOST_MAX_BODY_BYTES: '4096',
        HAREPOST_RATE_LIMIT_PER_SECOND: '1',
        HAREPOST_RATE_LIMIT_BURST: '3',
      },
    });
  });

  after(async () => {
    await stack?.close();
  });

  it('answers 413 when the whole request is over HAREPOST_MAX_BODY_BYTES', async () => {
    const big = await stack.createAccount('big');
    const res = await stack.api('POST', '/v1/send', {
      key: big.live_key,
      body: { target: stack.target('/hook'), body: 'x'.repeat(5000) },
    });
    assertError(res, 413, [undefined, 'request', 'body'], 'request over 4096 bytes');
  });

  it('does not answer 413 for a request under the limit', async () => {
    const small = await stack.createAccount('small');
    // Not verified: a request that passes the size check reaches the domain check (403).
    const res = await stack.api('POST', '/v1/send', {
      key: small.live_key,
      body: { target: stack.target('/hook'), body: 'x'.repeat(3000) },
    });
    assertError(res, 403, ['target'], 'request under 4096 bytes');
  });

  it('answers 429 with a whole-second Retry-After on the 4th quick call of a key (burst 3, 1/s)', async () => {
    const limited = await stack.createAccount('limited');
    const bystander = await stack.createAccount('bystander');
    // The bucket is the account's, shared by its keys: the domains are verified in the store, so it stays full.
    for (const a of [limited, bystander]) {
      const now = Date.now();
      await stack.hp.store.addDomain({ account_id: a.account_id, domain: 'hooks.example.test', token: 't', status: 'pending', created_at: now, verified_at: null });
      await stack.hp.store.markDomainVerified(a.account_id, 'hooks.example.test', now);
    }
    const body = { target: stack.target('/limited') };
    const statuses: number[] = [];
    let fourth: ApiResponse | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await stack.api('POST', '/v1/send', { key: limited.live_key, body });
      statuses.push(res.status);
      fourth = res;
    }
    assert.deepEqual(statuses, [202, 202, 202, 429], fourth?.text);
    assertError(fourth!, 429, [undefined], '4th call');
    const retryAfter = fourth!.headers['retry-after'];
    assert.equal(typeof retryAfter, 'string', `retry-after header: ${String(retryAfter)}`);
    assert.match(retryAfter as string, /^\d+$/);
    assert.equal(retryAfter, '1');

    // Another account's key is not affected.
    const theirs = await stack.api('POST', '/v1/send', { key: bystander.live_key, body });
    assertAccepted(theirs, null, 'other account while the first is limited');
  });
});
