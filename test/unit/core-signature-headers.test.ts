/**
 * The headers each signature scheme puts on an attempt, checked against published test vectors
 * and against verifiers nobody here wrote: `standardwebhooks`, `@octokit/webhooks-methods`
 * (posthawk's and GitHub's `sha256=<hex>`) and `stripe` (harbor's `t=…,v1=…`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { POSTHAWK_USER_AGENT, signatureHeaders, withHeaders, type SigningInput } from '../../src/core/signature-headers.js';
import type { CustomScheme, SignatureScheme } from '../../src/core/signature-scheme.js';
import { generateSigningSecret } from '../../src/core/signing.js';

const now = () => Math.floor(Date.now() / 1000);
/** Stripe's own check of the header, without constructEvent's JSON.parse of the payload (for bodies that are not JSON). */
function stripeVerifyHeader(body: Buffer, header: string, secret: string): boolean {
  const signature = Stripe.webhooks.signature;
  assert.ok(signature, 'stripe has its signature helper');
  return signature.verifyHeader(body, header, secret);
}
const input = (over: Partial<SigningInput> = {}): SigningInput => ({
  secrets: [generateSigningSecret()],
  messageId: 'hr_01test',
  timestampSec: now(),
  body: Buffer.from('{"order_id":"ord_123","amount_cents":4500}'),
  eventType: 'order.created',
  ...over,
});
const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));

describe('signatureHeaders: published test vectors', () => {
  it('github: the example of GitHub’s "Validating webhook deliveries"', () => {
    const h = signatureHeaders('github', input({ secrets: ["It's a Secret to Everybody"], body: Buffer.from('Hello, World!') }));
    assert.deepEqual(h, { 'X-Hub-Signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' });
  });

  it('posthawk: the same HMAC-SHA256 hex over the raw body, keyed with the secret text', () => {
    const h = signatureHeaders('posthawk', input({ secrets: ["It's a Secret to Everybody"], body: Buffer.from('Hello, World!'), eventType: 'delivery' }));
    assert.deepEqual(h, {
      'X-Posthawk-Signature': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      'X-Posthawk-Event': 'delivery',
      'User-Agent': 'Posthawk-Webhook/1.0',
    });
    assert.equal(POSTHAWK_USER_AGENT, 'Posthawk-Webhook/1.0');
  });

  it('standard-webhooks: the example of the Standard Webhooks specification', () => {
    const h = signatureHeaders(
      'standard-webhooks',
      input({
        secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
        messageId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
        timestampSec: 1614265330,
        body: Buffer.from('{"test": 2432232314}'),
      }),
    );
    assert.deepEqual(h, {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      'X-Harepost-Signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('harbor: what Stripe’s own header generator makes for the same timestamp, payload and secret', () => {
    const secret = 'whsec_test_secret';
    const payload = '{"id":"evt_test_webhook","object":"event"}';
    const t = 1700000000;
    const expected = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: t });
    const h = signatureHeaders('harbor', input({ secrets: [secret], timestampSec: t, body: Buffer.from(payload) }));
    assert.deepEqual(h, { 'Harbor-Signature': expected });
    assert.match(expected, /^t=1700000000,v1=[0-9a-f]{64}$/);
  });
});

describe('signatureHeaders: verified by independent verifiers', () => {
  const bodies: Array<[string, Buffer | null]> = [
    ['JSON object', Buffer.from('{"a":"ü","n":[1,2,{"x":null}]}')],
    ['JSON string', Buffer.from('"just a string"')],
    ['raw text', Buffer.from('plain text, not JSON: ü €')],
    ['empty JSON object', Buffer.from('{}')],
  ];

  for (const [what, body] of bodies) {
    it(`every scheme verifies a ${what} body`, async () => {
      const i = input({ body });
      const [secret] = i.secrets as [string];
      const raw = body!.toString('utf8');

      const sw = lower(signatureHeaders('standard-webhooks', i));
      assert.doesNotThrow(() => new Webhook(secret).verify(raw, sw, { jsonParse: false }));

      const ph = lower(signatureHeaders('posthawk', i));
      assert.equal(await octokitVerify(secret, raw, ph['x-posthawk-signature']!), true);

      const gh = lower(signatureHeaders('github', i));
      assert.equal(await octokitVerify(secret, raw, gh['x-hub-signature-256']!), true);

      const hb = lower(signatureHeaders('harbor', i));
      assert.equal(stripeVerifyHeader(body!, hb['harbor-signature']!, secret), true);
      if (what !== 'raw text') assert.deepEqual(Stripe.webhooks.constructEvent(body!, hb['harbor-signature']!, secret), JSON.parse(raw));

      // the wrong secret fails everywhere
      const other = generateSigningSecret();
      assert.throws(() => new Webhook(other).verify(raw, sw, { jsonParse: false }), /No matching signature/);
      assert.equal(await octokitVerify(other, raw, ph['x-posthawk-signature']!), false);
      assert.equal(await octokitVerify(other, raw, gh['x-hub-signature-256']!), false);
      assert.throws(() => stripeVerifyHeader(body!, hb['harbor-signature']!, other), /No signatures found matching/);
    });
  }

  it('a body that is not there signs as the empty string', () => {
    for (const scheme of ['standard-webhooks', 'posthawk', 'harbor', 'github', { header: 'X-S', encoding: 'hex', prefix: 'p=', timestamped: false }] as SignatureScheme[]) {
      const i = input({ body: null });
      assert.deepEqual(signatureHeaders(scheme, i), signatureHeaders(scheme, { ...i, body: Buffer.alloc(0) }), JSON.stringify(scheme));
    }
    const i = input({ body: null });
    const [secret] = i.secrets as [string];
    assert.equal(stripeVerifyHeader(Buffer.alloc(0), signatureHeaders('harbor', i)['Harbor-Signature']!, secret), true);
    assert.equal(new Webhook(secret).verify('', lower(signatureHeaders('standard-webhooks', i))), undefined);
  });

  it('posthawk without an event type leaves X-Posthawk-Event out', () => {
    const h = signatureHeaders('posthawk', input({ eventType: null }));
    assert.deepEqual(Object.keys(h).sort(), ['User-Agent', 'X-Posthawk-Signature']);
  });

  it('no secret: no signature headers', () => {
    for (const scheme of ['standard-webhooks', 'posthawk', 'harbor', 'github', { header: 'X-S', encoding: 'hex', prefix: '', timestamped: true }] as SignatureScheme[]) {
      assert.deepEqual(signatureHeaders(scheme, input({ secrets: [] })), {});
    }
  });
});

describe('signatureHeaders: custom schemes', () => {
  it('hex or base64, with its prefix, over the raw body (keyed with the secret text)', async () => {
    const i = input();
    const [secret] = i.secrets as [string];
    const raw = i.body!.toString('utf8');
    const hex = signatureHeaders({ header: 'X-Acme-Signature', encoding: 'hex', prefix: 'sha256=', timestamped: false }, i);
    assert.deepEqual(Object.keys(hex), ['X-Acme-Signature']);
    assert.equal(await octokitVerify(secret, raw, hex['X-Acme-Signature']!), true, 'sha256=<hex> is what GitHub verifiers check');
    const bare = signatureHeaders({ header: 'x-sig', encoding: 'hex', prefix: '', timestamped: false }, i);
    assert.equal(`sha256=${bare['x-sig']}`, hex['X-Acme-Signature']);
    const b64 = signatureHeaders({ header: 'X-Sig', encoding: 'base64', prefix: 'v0=', timestamped: false }, i);
    assert.match(b64['X-Sig']!, /^v0=[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(b64['X-Sig']!.slice(3), 'base64').toString('hex'), bare['x-sig']);
  });

  it('timestamped: t=<t>,v1=<sig> over "<t>.<body>" — hex is what Stripe’s verifier checks; base64 the same bytes', () => {
    const i = input();
    const [secret] = i.secrets as [string];
    const hexScheme: CustomScheme = { header: 'Acme-Signature', encoding: 'hex', prefix: '', timestamped: true };
    const value = signatureHeaders(hexScheme, i)['Acme-Signature']!;
    assert.equal(value, signatureHeaders('harbor', i)['Harbor-Signature'], 'the harbor form under another name');
    assert.equal(stripeVerifyHeader(i.body!, value, secret), true);
    const b64 = signatureHeaders({ ...hexScheme, encoding: 'base64' }, i)['Acme-Signature']!;
    const m = /^t=(\d+),v1=([A-Za-z0-9+/]+=*)$/.exec(b64);
    assert.ok(m, b64);
    assert.equal(m[1], String(i.timestampSec));
    assert.equal(Buffer.from(m[2]!, 'base64').toString('hex'), value.split('v1=')[1]);
  });
});

describe('signatureHeaders: during a rotation overlap (secrets newest first)', () => {
  const [fresh, old] = [generateSigningSecret(), generateSigningSecret()];
  const i = input({ secrets: [fresh, old] });
  const raw = i.body!.toString('utf8');

  it('standard-webhooks: both, space-separated: a receiver with either secret verifies', () => {
    const h = lower(signatureHeaders('standard-webhooks', i));
    assert.equal(h['webhook-signature']!.split(' ').length, 2);
    for (const s of [fresh, old]) assert.doesNotThrow(() => new Webhook(s).verify(raw, h));
  });

  it('harbor and timestamped custom: t=…,v1=<new>,v1=<old>: Stripe’s verifier accepts either secret', () => {
    for (const [scheme, name] of [
      ['harbor', 'harbor-signature'],
      [{ header: 'Acme-Signature', encoding: 'hex', prefix: '', timestamped: true }, 'acme-signature'],
    ] as Array<[SignatureScheme, string]>) {
      const value = lower(signatureHeaders(scheme, i))[name]!;
      const parts = value.split(',');
      assert.equal(parts.length, 3, value);
      assert.equal(parts[0], `t=${i.timestampSec}`);
      assert.equal(parts[1], lower(signatureHeaders(scheme, { ...i, secrets: [fresh] }))[name]!.split(',')[1], 'the new one first');
      for (const s of [fresh, old]) assert.equal(stripeVerifyHeader(i.body!, value, s), true);
    }
  });

  it('posthawk, github and custom without a timestamp carry one value: the new secret’s', async () => {
    const ph = signatureHeaders('posthawk', i)['X-Posthawk-Signature']!;
    const gh = signatureHeaders('github', i)['X-Hub-Signature-256']!;
    const cu = signatureHeaders({ header: 'X-Sig', encoding: 'hex', prefix: 'sha256=', timestamped: false }, i)['X-Sig']!;
    for (const v of [ph, gh, cu]) {
      assert.match(v, /^sha256=[0-9a-f]{64}$/);
      assert.equal(await octokitVerify(fresh, raw, v), true);
      assert.equal(await octokitVerify(old, raw, v), false);
    }
  });
});

describe('withHeaders', () => {
  it('puts the second set over the first, matching names in any case, never keeping two of one header', () => {
    const out = withHeaders(
      { 'User-Agent': 'Harepost/1.0', 'x-sig': 'caller', 'Content-Type': 'application/json', 'X-Harepost-Queue-Id': 'hr_1' },
      { 'user-agent': 'Posthawk-Webhook/1.0', 'X-Sig': 'sha256=abc' },
    );
    assert.deepEqual(out, {
      'Content-Type': 'application/json',
      'X-Harepost-Queue-Id': 'hr_1',
      'user-agent': 'Posthawk-Webhook/1.0',
      'X-Sig': 'sha256=abc',
    });
  });

  it('keeps a __proto__ header as a header', () => {
    const base = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
    const out = withHeaders(base, {});
    assert.deepEqual(Object.keys(out), ['__proto__']);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });
});
