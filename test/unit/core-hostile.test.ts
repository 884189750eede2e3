/**
 * Hostile input against the pure request validators (issue 7, item 5): property-based tests with
 * fast-check. Whatever a caller sends — any JSON value, non-JSON values, the right keys with the
 * wrong types, huge strings, deep nesting, control characters, lone surrogates, `__proto__` keys —
 * a validator never throws; a refusal names the input field at fault (a non-empty, printable
 * dotted path) with a non-empty printable message; an acceptance satisfies the invariants the rest
 * of Harepost relies on (clamped integer policy numbers, ≤ 64 safe headers, a short https target…).
 *
 * Pure functions only: nothing here opens a socket.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseDestinationInput } from '../../src/core/destination-request.js';
import { candidateDomains, hostIsUnderDomain, MAX_DOMAIN_LENGTH, normalizeDomain } from '../../src/core/domain-name.js';
import { eventMatches, MAX_EVENT_TYPE_LENGTH, parseEventPattern, parseEventType } from '../../src/core/event-types.js';
import { hasHeader, isHeaderName, isStrippedHeader, MAX_HEADERS, validateHeaders } from '../../src/core/headers.js';
import { isPlainObject } from '../../src/core/plain.js';
import {
  BACKOFFS,
  DEFAULT_POLICY,
  type DeliveryPolicy,
  JITTERS,
  type NumericPolicyField,
  POLICY_BOUNDS,
  resolvePolicy,
} from '../../src/core/policy.js';
import type { Checked, Invalid } from '../../src/core/result.js';
import {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_METADATA_BYTES,
  parseSendRequest,
  type SendRequest,
} from '../../src/core/send-request.js';
import { MAX_TARGET_LENGTH, METHODS, parseTarget, type ParsedTarget } from '../../src/core/target.js';

// ---------------------------------------------------------------------------------------------
// Run sizes: enough to find the corners, small enough for the file to finish in a few seconds.

const RUNS = 400;
const HEAVY_RUNS = 80; // properties whose inputs include huge strings or deep nesting
const params = (numRuns = RUNS): { numRuns: number } => ({ numRuns });

/**
 * fc.assert, with a report that stays readable when the counterexample is a 300,000-character
 * string: values and the error are cut to a few hundred characters.
 */
function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts>, p: { numRuns: number }): void {
  const details = fc.check(property, p);
  if (!details.failed) return;
  const error = details.errorInstance as Error | undefined;
  const message = String(error?.message ?? details.errorInstance).slice(0, 2000);
  assert.fail(
    `property failed after ${details.numRuns} run(s) (seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)})\n` +
      `counterexample: ${(details.counterexample ?? []).map(show).join(', ')}\n${message}`,
  );
}

// ---------------------------------------------------------------------------------------------
// What every answer must look like.

/** C0, DEL and C1 controls: never in a field path or a message (they end up in logs and UIs). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Field paths and messages are about the input, never a copy of a huge input. */
const MAX_FIELD_CHARS = 256;
const MAX_MESSAGE_CHARS = 1024;

const show = (v: unknown): string => {
  try {
    const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v));
    return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
};

/** Asserts the shape of a refusal; `fieldOk` says whether its field is one this validator may name. */
function assertInvalid(r: Invalid, input: unknown, fieldOk: (field: string) => boolean): void {
  const ctx = `input ${show(input)} → ${show(r)}`;
  assert.deepEqual(Object.keys(r).sort(), ['field', 'message', 'ok'], ctx);
  assert.equal(typeof r.field, 'string', ctx);
  assert.ok(r.field.length > 0, `empty field: ${ctx}`);
  assert.ok(r.field.length <= MAX_FIELD_CHARS, `field longer than ${MAX_FIELD_CHARS}: ${ctx}`);
  assert.ok(!CONTROL.test(r.field), `control character in field: ${ctx}`);
  assert.ok(fieldOk(r.field), `field ${JSON.stringify(r.field)} is not one of this validator's fields: ${ctx}`);
  assert.equal(typeof r.message, 'string', ctx);
  assert.ok(r.message.trim().length > 0, `empty message: ${ctx}`);
  assert.ok(r.message.length <= MAX_MESSAGE_CHARS, `message longer than ${MAX_MESSAGE_CHARS}: ${ctx}`);
  assert.ok(!CONTROL.test(r.message), `control character in message: ${ctx}`);
}

/** Runs `fn`, failing the property (with the input) if it throws. */
function noThrow<T>(what: string, input: unknown, fn: () => Checked<T>): Checked<T> {
  try {
    return fn();
  } catch (err) {
    assert.fail(`${what} threw ${(err as Error)?.name}: ${(err as Error)?.message} for input ${show(input)}`);
  }
}

const NUMERIC: readonly NumericPolicyField[] = ['max_attempts', 'base_delay_ms', 'max_delay_ms', 'timeout_ms'];

function assertPolicy(p: DeliveryPolicy, ctx: string): void {
  assert.deepEqual(Object.keys(p).sort(), Object.keys(DEFAULT_POLICY).sort(), ctx);
  for (const name of NUMERIC) {
    const v = p[name];
    const { min, max } = POLICY_BOUNDS[name];
    assert.ok(Number.isInteger(v), `${name} = ${v} is not an integer: ${ctx}`);
    assert.ok(v >= min && v <= max, `${name} = ${v} is outside ${min}–${max}: ${ctx}`);
  }
  assert.ok((BACKOFFS as readonly string[]).includes(p.backoff), ctx);
  assert.ok((JITTERS as readonly string[]).includes(p.jitter), ctx);
  assert.equal(typeof p.respect_retry_after, 'boolean', ctx);
}

function assertHeaders(h: Record<string, string>, ctx: string): void {
  assert.ok(isPlainObject(h), ctx);
  const names = Object.keys(h);
  assert.ok(names.length <= MAX_HEADERS, `${names.length} headers: ${ctx}`);
  const lower = new Set<string>();
  for (const name of names) {
    assert.ok(isHeaderName(name), `header name ${JSON.stringify(name)} is not a token: ${ctx}`);
    assert.ok(!isStrippedHeader(name), `stripped header ${JSON.stringify(name)} kept: ${ctx}`);
    assert.ok(!lower.has(name.toLowerCase()), `duplicate header ${JSON.stringify(name)}: ${ctx}`);
    lower.add(name.toLowerCase());
    const value = h[name];
    assert.equal(typeof value, 'string', ctx);
    assert.ok(!/[\r\n\0]/.test(value!), `header ${name} value has CR/LF/NUL: ${ctx}`);
    assert.ok(!/[^\u0000-\u00ff]/.test(value!), `header ${name} value is not Latin-1: ${ctx}`);
  }
}

function assertTarget(t: ParsedTarget, allowHttp: boolean, ctx: string): void {
  assert.ok(t.href.length <= MAX_TARGET_LENGTH, `href of ${t.href.length} chars: ${ctx}`);
  assert.equal(t.href, t.url.href, ctx);
  assert.ok(t.url.protocol === 'https:' || (allowHttp && t.url.protocol === 'http:'), `protocol ${t.url.protocol}: ${ctx}`);
  assert.equal(t.url.username, '', ctx);
  assert.equal(t.url.password, '', ctx);
  assert.ok(t.host.length > 0, ctx);
  assert.equal(t.host, t.host.toLowerCase(), ctx);
  assert.ok(!t.host.endsWith('.'), ctx);
  assert.ok(!t.host.startsWith('['), ctx);
  assert.ok(Number.isInteger(t.port) && t.port >= 0 && t.port <= 65535, `port ${t.port}: ${ctx}`);
  assert.equal(t.ipLiteral, isIP(t.host) !== 0, `ipLiteral ${t.ipLiteral} for host ${t.host}: ${ctx}`);
  // what was accepted once is accepted again, unchanged (the stored href is re-parsed on delivery)
  const again = parseTarget(t.href, { allowHttp });
  assert.ok(again.ok, `re-parsing ${t.href} failed: ${show(again)}`);
  if (again.ok) {
    assert.equal(again.value.href, t.href, ctx);
    assert.equal(again.value.host, t.host, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile values.

const specialChars = [
  '\u0000', '\u0001', '\t', '\n', '\r', '\u000b', '\u001b', '\u007f', '\u0085', '\u009f', '\u00a0', '\u00ff', '\u0100',
  '\u200b', '\u200e', '\u202e', '\u2028', '\u2029', '\ufeff', '\ufffd', '\uffff', '\ud800', '\udbff', '\udc00', '\udfff',
  '\ud83d\ude00', '"', "'", '\\', '/', '%', '%00', '%0d%0a', '..', '.', ':', '@', '#', '?', '*', ' ', '{', '}', '[', ']',
  '\u0130', '\u212a', 'ß', 'ﬀ', '１', '．', '。',
];
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const control = fc.integer({ min: 0, max: 0x9f }).filter((c) => c < 0x20 || c >= 0x7f).map((c) => String.fromCharCode(c));
const nastyUnit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...specialChars) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: control },
);
const nastyString = (maxLength = 40) => fc.string({ unit: nastyUnit, maxLength });
/** Strings from 1,000 to 300,000 characters, from a repeated nasty pattern (may cut a surrogate pair). */
const hugeString = fc
  .tuple(nastyString(8).filter((s) => s.length > 0), fc.integer({ min: 1_000, max: 300_000 }))
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n));
/** Arrays or objects nested 1 to 200,000 levels deep (built iteratively; past ~10,000 JSON.stringify overflows the stack). */
const deep = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1_000, max: 20_000 }), fc.integer({ min: 100_000, max: 200_000 })),
    fc.constantFrom('array', 'object', 'mixed'),
  )
  .map(([depth, kind]) => {
    let v: unknown = kind === 'object' ? {} : [];
    for (let i = 0; i < depth; i++) v = kind === 'array' || (kind === 'mixed' && i % 2 === 0) ? [v] : { a: v };
    return v;
  });
const edgeNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    Number.NaN, Infinity, -Infinity, -0, 0.5, -0.5, 0.9999, 1.5, 24.9, 25.1, 99.99, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 53),
    Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 1e21, -1e21, 1e308,
  ),
);
/** What JSON.parse yields for an object with "__proto__" / "constructor" keys: own properties. */
const protoKeys = fc
  .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }))
  .map(([a, b]) => JSON.parse(`{"__proto__": ${JSON.stringify(a)}, "constructor": ${JSON.stringify(b)}, "prototype": 1}`) as unknown);
const anythingAtAll = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});
/** Any value at all, JSON or not. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue() },
  { weight: 3, arbitrary: anythingAtAll },
  { weight: 2, arbitrary: nastyString() },
  { weight: 2, arbitrary: edgeNumber },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, true, false, '', 0, [], {}, Object.create(null)) },
  { weight: 1, arbitrary: protoKeys },
);
/** Any value, including the heavy ones (huge strings, deep nesting). */
const hostileHeavy: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostile },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deep },
);
/** The right value most of the time, a hostile one otherwise. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown> = hostile): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: bad });

// Targets: hosts under example.test (never dialled here anyway), loopback, unverified names.
const host = fc.oneof(
  fc.constantFrom(
    'hooks.example.test', 'HOOKS.Example.TEST', 'hooks.example.test.', 'a.b.hooks.example.test', 'example.test',
    'unverified.example.test', 'xn--bcher-kva.example.test', 'bücher.example.test', 'ＥＸＡＭＰＬＥ.test', 'localhost',
    '127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433', '[::1]', '[::ffff:127.0.0.1]', '', ' ', 'exa mple.test', 'a..b',
    '%65xample.test', 'hooks.example.test:443', 'hooks.example.test:0', 'hooks.example.test:65535', 'hooks.example.test:65536',
    'hooks.example.test:-1', 'hooks.example.test:abc', '[::1', 'under_score.example.test',
  ),
  fc.domain().map((d) => `${d.replace(/\.+$/, '')}.example.test`),
  nastyString(20).map((s) => `${s}.example.test`),
);
const targetString = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom('https://', 'http://', 'HTTPS://') },
      { weight: 1, arbitrary: fc.constantFrom('ftp://', 'javascript:', 'https:', 'https:/', '//', '', 'https://user:pass@', 'https://user@', 'https://:@') },
    ),
    host,
    fc.oneof(fc.webPath(), nastyString(30).map((s) => `/${s}`), fc.constant('')),
    fc.oneof(fc.constant(''), fc.webQueryParameters().map((q) => `?${q}`)),
    fc.oneof(fc.constant(''), fc.webFragments().map((f) => `#${f}`)),
  )
  .map(([scheme, h, path, query, fragment]) => `${scheme}${h}${path}${query}${fragment}`);
const longTarget = fc
  .tuple(fc.integer({ min: 1_900, max: 2_200 }), fc.constantFrom('a', '%', 'é', ' ', '\u{1F600}', '<'))
  .map(([n, c]) => `https://hooks.example.test/${c.repeat(n)}`.slice(0, n + 27));
const goodTarget = fc
  .tuple(
    fc.constantFrom('https://', 'http://'),
    fc.oneof(
      fc.constantFrom('hooks.example.test', 'a.hooks.example.test', 'HOOKS.example.test.', 'hooks.example.test:8443', '127.0.0.1', '[::1]'),
      fc.domain().map((d) => `${d.replace(/\.+$/, '')}.example.test`),
    ),
    fc.webPath(),
    fc.oneof(fc.constant(''), fc.webQueryParameters().map((q) => `?${q}`)),
  )
  .map(([scheme, h, path, query]) => `${scheme}${h}${path}${query}`);
const anyTarget = fc.oneof(
  { weight: 4, arbitrary: goodTarget },
  { weight: 4, arbitrary: targetString },
  { weight: 1, arbitrary: longTarget },
);

// Headers.
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,20}$/);
const headerName = fc.oneof(
  { weight: 4, arbitrary: token },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'Host', 'content-length', 'CONNECTION', 'Transfer-Encoding', 'keep-alive', 'Upgrade', 'expect', 'Authorization', 'TE',
      'trailer', 'User-Agent', 'Proxy-Authorization', 'proxy-x', 'X-Harepost-Signature', 'x-harepost-', 'Webhook-Id',
      'webhook-signature', 'Content-Type', 'content-type', 'X-Custom', 'x-custom', '__proto__', 'constructor', 'toString',
    ),
  },
  { weight: 2, arbitrary: nastyString(20) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'X Y', 'X:Y', 'X\r\nY', 'Ä', '\ud800', 'a'.repeat(5000)) },
);
const headerValue = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
  { weight: 2, arbitrary: nastyString(40) },
  { weight: 1, arbitrary: fc.constantFrom('a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\0b', '\t', 'é', 'ÿ', 'Ā', '\ud800', '\u{1F600}') },
  { weight: 1, arbitrary: hostile },
);
const headersObject = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(token, fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((v) => v.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')), { maxKeys: 12 }) },
  { weight: 4, arbitrary: fc.dictionary(headerName, headerValue, { maxKeys: 12 }) },
  { weight: 1, arbitrary: fc.dictionary(token, fc.string({ unit: 'binary-ascii', maxLength: 10 }), { minKeys: 50, maxKeys: 90 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 60, max: 2_000 }), fc.boolean())
      .map(([n, stripped]) => Object.fromEntries(Array.from({ length: n }, (_, i) => [stripped ? `Proxy-${i}` : `X-H${i}`, 'v']))),
  },
  { weight: 1, arbitrary: protoKeys },
);

// Delivery policies.
const policyField = (good: fc.Arbitrary<unknown>) => mostly(good, fc.oneof(edgeNumber, hostile));
const deliveryObject = fc.record(
  {
    max_attempts: policyField(edgeNumber),
    backoff: policyField(fc.constantFrom('exponential', 'fixed', 'Fixed', 'linear', '', 'exponential ')),
    base_delay_ms: policyField(edgeNumber),
    max_delay_ms: policyField(edgeNumber),
    jitter: policyField(fc.constantFrom('full', 'none', 'None', 'half', '')),
    timeout_ms: policyField(edgeNumber),
    respect_retry_after: policyField(fc.boolean()),
    unknown_key: hostile,
  },
  { requiredKeys: [] },
);
const validPolicy: fc.Arbitrary<DeliveryPolicy> = fc.record({
  max_attempts: fc.integer(POLICY_BOUNDS.max_attempts),
  backoff: fc.constantFrom(...BACKOFFS),
  base_delay_ms: fc.integer(POLICY_BOUNDS.base_delay_ms),
  max_delay_ms: fc.integer(POLICY_BOUNDS.max_delay_ms),
  jitter: fc.constantFrom(...JITTERS),
  timeout_ms: fc.integer(POLICY_BOUNDS.timeout_ms),
  respect_retry_after: fc.boolean(),
});

// Event types.
const typePart = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const eventTypeLike = fc.oneof(
  { weight: 4, arbitrary: fc.array(typePart, { minLength: 1, maxLength: 5 }).chain((parts) => fc.constantFrom('.', ':').map((sep) => parts.join(sep))) },
  { weight: 2, arbitrary: fc.array(typePart, { minLength: 1, maxLength: 4 }).map((p) => `${p.join('.')}.*`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '*', '.*', '*.*', 'order.*.*', 'order..created', '.order', 'order.', 'order:*', 'order*', 'ord er', 'order/created',
      '', ' ', 'é.created', 'order.created\n', '\u0000', 'a'.repeat(255), 'a'.repeat(256), `${'a.'.repeat(127)}a`, `${'a.'.repeat(128)}*`,
    ),
  },
  { weight: 2, arbitrary: nastyString(30) },
  { weight: 1, arbitrary: hostile },
);

// Domains.
const domainLike = fc.oneof(
  { weight: 3, arbitrary: fc.domain() },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.domain(), fc.constantFrom('', ' ', '\t', '\n', '.', '..', '\u3002', '\u0000'), fc.boolean())
      .map(([d, extra, upper]) => `${extra}${upper ? d.toUpperCase() : d}${extra}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'example.test', 'EXAMPLE.TEST.', 'localhost', '127.0.0.1', '127.1', '2130706433', '0x7f.1', 'a.0x', 'a.0X1', '::1', '[::1]',
      '１２７．０．０．１', 'bücher.example', 'xn--bcher-kva.example', 'xn--a.example', 'xn--.example', '-a.example', 'a-.example',
      'a_b.example', 'a..b', '.example.test', `${'a'.repeat(63)}.test`, `${'a'.repeat(64)}.test`, `${'a.'.repeat(126)}aa`,
      `${'a.'.repeat(127)}aa`, 'ﬀ.example', 'ß.example', 'İ.example', 'K.example', 'a.b.c.d.e.f.g', '1.2.3.a', 'a.1e1',
    ),
  },
  { weight: 2, arbitrary: nastyString(40) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: hostile },
);

// Whole requests.
const sendShaped = fc.record(
  {
    target: mostly(anyTarget),
    method: mostly(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...METHODS) },
        { weight: 1, arbitrary: fc.constantFrom('post', 'Get', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', ' POST', '') },
      ),
    ),
    headers: mostly(headersObject),
    body: mostly(fc.oneof(fc.string(), fc.jsonValue(), nastyString(), fc.constant(null)), hostileHeavy),
    delivery: mostly(deliveryObject),
    idempotency_key: mostly(fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 300 }), fc.constant(null))),
    metadata: mostly(
      fc.oneof(
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
        fc.integer({ min: 16_300, max: 16_500 }).map((n) => ({ pad: 'x'.repeat(n - 10) })),
      ),
      hostileHeavy,
    ),
    sign: mostly(fc.boolean()),
    extra: hostile,
  },
  { requiredKeys: ['target'] },
);
/** Requests whose every field is of the right type (values still hostile: edge numbers, odd strings). */
const httpsTarget = goodTarget.map((t) => t.replace(/^http:/, 'https:'));
const cleanHeaders = fc.dictionary(token, fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((v) => v.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')), {
  maxKeys: 10,
});
const finiteNumber = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(-0, 0.5, 1e21, -1e21, Number.MAX_VALUE));
const rightTypedDelivery = fc.record(
  {
    max_attempts: finiteNumber,
    backoff: fc.constantFrom(...BACKOFFS),
    base_delay_ms: finiteNumber,
    max_delay_ms: finiteNumber,
    jitter: fc.constantFrom(...JITTERS),
    timeout_ms: finiteNumber,
    respect_retry_after: fc.boolean(),
    unknown_key: hostile,
  },
  { requiredKeys: [] },
);
const rightTypedSend = fc.record(
  {
    target: httpsTarget,
    method: fc.constantFrom(...METHODS),
    headers: cleanHeaders,
    body: fc.oneof(fc.string(), nastyString(), fc.jsonValue(), fc.constant(null), deep),
    delivery: rightTypedDelivery,
    idempotency_key: fc.oneof(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 255 }).map((k) => k.replace(/[^\x20-\x7e]/g, 'x')), fc.constant(null)),
    metadata: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), fc.constant(null)),
    sign: fc.boolean(),
    extra: hostile,
  },
  { requiredKeys: ['target'] },
);
const rightTypedDestination = fc.record(
  {
    url: httpsTarget,
    name: fc.oneof(fc.string({ maxLength: 255 }), fc.constant(null)),
    description: fc.oneof(fc.string({ maxLength: 1024 }), fc.constant(null)),
    events: fc.array(fc.oneof(typePart, fc.constant('*'), typePart.map((t) => `${t}.*`)), { minLength: 1, maxLength: 8 }),
    enabled: fc.boolean(),
    headers: cleanHeaders,
    delivery: rightTypedDelivery,
    extra: hostile,
  },
  { requiredKeys: [] },
);
const destinationShaped = fc.record(
  {
    url: mostly(anyTarget),
    name: mostly(fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null))),
    description: mostly(fc.oneof(fc.string({ maxLength: 1100 }), fc.constant(null))),
    events: mostly(
      fc.oneof(
        { weight: 3, arbitrary: fc.array(fc.oneof(typePart, fc.constant('*'), typePart.map((t) => `${t}.*`)), { maxLength: 8 }) },
        fc.array(eventTypeLike, { maxLength: 8 }),
        fc.integer({ min: 250, max: 400 }).map((n) => Array.from({ length: n }, (_, i) => `t${i}.*`)),
        fc.integer({ min: 1, max: 10_000 }).map((n) => Array.from({ length: n }, () => 'order.created')),
      ),
    ),
    enabled: mostly(fc.boolean()),
    headers: mostly(headersObject),
    delivery: mostly(deliveryObject),
    extra: hostile,
  },
  { requiredKeys: [] },
);

// ---------------------------------------------------------------------------------------------

const SEND_FIELDS = /^(request|target|method|headers|body|delivery|idempotency_key|metadata|sign)$/;
const sendFieldOk = (f: string) =>
  SEND_FIELDS.test(f) || f.startsWith('headers.') || (f.startsWith('delivery.') && (Object.keys(DEFAULT_POLICY) as string[]).includes(f.slice(9)));

function checkSend(input: unknown, allowHttp: boolean): Checked<SendRequest> {
  const r = noThrow('parseSendRequest', input, () => parseSendRequest(input, { allowHttp }));
  if (!r.ok) {
    assertInvalid(r, input, sendFieldOk);
    return r;
  }
  const v = r.value;
  const ctx = `input ${show(input)} → ${show({ ...v, body: v.body?.length })}`;
  const t = parseTarget(v.target, { allowHttp });
  assert.ok(t.ok, ctx);
  if (t.ok) {
    assertTarget(t.value, allowHttp, ctx);
    assert.equal(t.value.host, v.host, ctx);
    assert.equal(t.value.ipLiteral, v.ipLiteral, ctx);
  }
  assert.ok((METHODS as readonly string[]).includes(v.method), ctx);
  assertHeaders(v.headers, ctx);
  assertPolicy(v.policy, ctx);
  assert.ok(v.body === null || Buffer.isBuffer(v.body), ctx);
  const rawBody = (input as Record<string, unknown>).body;
  if (v.method === 'GET') assert.equal(v.body, null, ctx);
  else if (typeof rawBody === 'string') assert.ok(v.body?.equals(Buffer.from(rawBody, 'utf8')), ctx);
  else if (rawBody !== null && typeof rawBody === 'object') {
    assert.ok(hasHeader(v.headers, 'content-type'), `JSON body without Content-Type: ${ctx}`);
    let expected: string | undefined;
    try {
      expected = JSON.stringify(rawBody); // may overflow the stack here, a few frames deeper than the validator
    } catch {
      expected = undefined;
    }
    if (expected !== undefined) assert.ok(v.body?.equals(Buffer.from(expected, 'utf8')), `JSON body bytes differ: ${ctx}`);
  } else assert.equal(v.body, null, ctx);
  if (v.idempotency_key !== null) {
    assert.ok(v.idempotency_key.length <= MAX_IDEMPOTENCY_KEY_LENGTH && /^[\x20-\x7e]+$/.test(v.idempotency_key), ctx);
  }
  if (v.metadata !== null) {
    assert.ok(isPlainObject(v.metadata), ctx);
    assert.ok(Buffer.byteLength(JSON.stringify(v.metadata), 'utf8') <= MAX_METADATA_BYTES, ctx);
  }
  assert.equal(typeof v.sign, 'boolean', ctx);
  return r;
}

describe('hostile input: parseSendRequest', () => {
  it('never throws on any value at all; refusals name a field', () => {
    check(
      fc.property(hostileHeavy, fc.boolean(), (input, allowHttp) => {
        checkSend(input, allowHttp);
      }),
      params(HEAVY_RUNS * 2),
    );
  });

  it('request-shaped objects with wrong types in every field: refusal names a send field, acceptance keeps every invariant', () => {
    let accepted = 0;
    check(
      fc.property(fc.oneof(sendShaped, rightTypedSend), fc.boolean(), (input, allowHttp) => {
        if (checkSend(input, allowHttp).ok) accepted++;
      }),
      params(RUNS * 2),
    );
    assert.ok(accepted >= 10, `only ${accepted} valid requests generated: the acceptance invariants went untested`);
  });

  it('a valid request with exactly one field made hostile is refused for that field (or accepted)', () => {
    const fields = ['target', 'method', 'headers', 'body', 'delivery', 'idempotency_key', 'metadata', 'sign'] as const;
    check(
      fc.property(fc.constantFrom(...fields), hostileHeavy, (field, value) => {
        const input: Record<string, unknown> = { target: 'https://hooks.example.test/hook', [field]: value };
        const r = checkSend(input, false);
        if (!r.ok) {
          assert.ok(
            r.field === field || r.field.startsWith(`${field}.`),
            `only ${field} was hostile but the refusal names ${r.field}: ${show(input)}`,
          );
        }
      }),
      params(RUNS),
    );
  });

  it('an object with __proto__ / constructor keys neither pollutes nor confuses', () => {
    check(
      fc.property(fc.jsonValue({ maxDepth: 2 }), (v) => {
        const input = JSON.parse(
          `{"__proto__": {"target": "https://hooks.example.test/", "sign": "yes"}, "target": "https://hooks.example.test/x", ` +
            `"headers": {"__proto__": ${JSON.stringify(v)}, "X-A": "1"}, "delivery": {"__proto__": {"max_attempts": 1e9}}}`,
        ) as unknown;
        const r = checkSend(input, false);
        if (r.ok) assert.equal(r.value.policy.max_attempts, DEFAULT_POLICY.max_attempts);
      }),
      params(50),
    );
    assert.equal(({} as Record<string, unknown>).target, undefined);
    assert.equal(({} as Record<string, unknown>).max_attempts, undefined);
  });
});

describe('hostile input: parseDestinationInput', () => {
  const fieldOk = (f: string) =>
    /^(request|url|name|description|events|enabled|headers|delivery)$/.test(f) ||
    /^events\[\d+\]$/.test(f) ||
    f.startsWith('headers.') ||
    (f.startsWith('delivery.') && (Object.keys(DEFAULT_POLICY) as string[]).includes(f.slice(9)));

  const opts = fc.record({
    allowHttp: fc.boolean(),
    require: fc.subarray(['url', 'events'] as ('url' | 'events')[]),
    basePolicy: fc.option(validPolicy, { nil: undefined }),
  });

  const checkDest = (input: unknown, o: { allowHttp: boolean; require: ('url' | 'events')[]; basePolicy: DeliveryPolicy | undefined }) => {
    const options = { allowHttp: o.allowHttp, require: o.require, ...(o.basePolicy ? { basePolicy: o.basePolicy } : {}) };
    const r = noThrow('parseDestinationInput', input, () => parseDestinationInput(input, options));
    if (!r.ok) {
      assertInvalid(r, input, fieldOk);
      return r;
    }
    const v = r.value;
    const inp = input as Record<string, unknown>;
    const ctx = `input ${show(input)} (${show(o)}) → ${show(v)}`;
    for (const key of Object.keys(v)) {
      const from = key === 'policy' ? 'delivery' : key;
      assert.notEqual(inp[from], undefined, `${key} in the result but not in the input: ${ctx}`);
    }
    for (const req of o.require) assert.notEqual(v[req], undefined, `required ${req} missing: ${ctx}`);
    if (v.url) {
      const t = parseTarget(v.url.href, { allowHttp: o.allowHttp, field: 'url' });
      assert.ok(t.ok, ctx);
      if (t.ok) {
        assertTarget(t.value, o.allowHttp, ctx);
        assert.equal(t.value.url.origin, v.url.origin, ctx);
        assert.equal(t.value.host, v.url.host, ctx);
        assert.equal(t.value.ipLiteral, v.url.ipLiteral, ctx);
      }
    }
    if (v.name !== undefined) assert.ok(v.name === null || (typeof v.name === 'string' && v.name.length <= 255), ctx);
    if (v.description !== undefined) {
      assert.ok(v.description === null || (typeof v.description === 'string' && v.description.length <= 1024), ctx);
    }
    if (v.events !== undefined) {
      assert.ok(v.events.length <= 256, ctx);
      assert.equal(new Set(v.events).size, v.events.length, `duplicate event types: ${ctx}`);
      if (o.require.includes('events')) assert.ok(v.events.length > 0, ctx);
      for (const e of v.events) assert.ok(parseEventPattern(e).ok, `event pattern ${e}: ${ctx}`);
    }
    if (v.enabled !== undefined) assert.equal(typeof v.enabled, 'boolean', ctx);
    if (v.headers !== undefined) assertHeaders(v.headers, ctx);
    if (v.policy !== undefined) assertPolicy(v.policy, ctx);
    return r;
  };

  it('never throws on any value at all', () => {
    check(
      fc.property(hostileHeavy, opts, (input, o) => {
        checkDest(input, o);
      }),
      params(HEAVY_RUNS * 2),
    );
  });

  it('destination-shaped objects with wrong types: refusal names a destination field, acceptance keeps every invariant', () => {
    let accepted = 0;
    check(
      fc.property(fc.oneof(destinationShaped, rightTypedDestination), opts, (input, o) => {
        if (checkDest(input, o).ok) accepted++;
      }),
      params(RUNS * 2),
    );
    assert.ok(accepted >= 10, `only ${accepted} valid destinations generated: the acceptance invariants went untested`);
  });
});

describe('hostile input: parseEventType / parseEventPattern', () => {
  it('parseEventType never throws; valid types are short, well-formed and match themselves', () => {
    check(
      fc.property(fc.oneof(eventTypeLike, hostileHeavy), fc.option(fc.constantFrom('type', 'event_type', 'x.y'), { nil: undefined }), (input, field) => {
        const r = noThrow('parseEventType', input, () => parseEventType(input, field));
        if (!r.ok) {
          assertInvalid(r, input, (f) => f === (field ?? 'type'));
          return;
        }
        const t = r.value;
        assert.equal(t, input);
        assert.ok(t.length >= 1 && t.length <= MAX_EVENT_TYPE_LENGTH, show(t));
        assert.match(t, /^[A-Za-z0-9_-]+(?:[.:][A-Za-z0-9_-]+)*$/);
        assert.ok(eventMatches('*', t));
        assert.ok(eventMatches(t, t));
        const pattern = parseEventPattern(t);
        assert.ok(pattern.ok && pattern.value === t, show(pattern));
      }),
      params(RUNS * 2),
    );
  });

  it('parseEventPattern never throws; valid patterns are *, an event type or <type>.*', () => {
    check(
      fc.property(fc.oneof(eventTypeLike, hostileHeavy), fc.option(fc.constantFrom('event_type', 'events[3]'), { nil: undefined }), (input, field) => {
        const r = noThrow('parseEventPattern', input, () => parseEventPattern(input, field));
        if (!r.ok) {
          assertInvalid(r, input, (f) => f === (field ?? 'event_type'));
          return;
        }
        const p = r.value;
        assert.equal(p, input);
        const ok = p === '*' || parseEventType(p).ok || (p.endsWith('.*') && parseEventType(p.slice(0, -2)).ok);
        assert.ok(ok, `accepted pattern ${show(p)}`);
        assert.ok(p.length <= MAX_EVENT_TYPE_LENGTH + 2, show(p));
        if (p.endsWith('.*')) {
          assert.ok(eventMatches(p, `${p.slice(0, -2)}.x`), show(p));
          assert.ok(!eventMatches(p, `${p.slice(0, -2)}x`), `${p} matches a type that only shares a prefix`);
        }
      }),
      params(RUNS * 2),
    );
  });
});

describe('hostile input: validateHeaders', () => {
  it('never throws; at most 64 headers, none stripped, no CR/LF/NUL; idempotent', () => {
    check(
      fc.property(fc.oneof({ weight: 3, arbitrary: headersObject }, { weight: 1, arbitrary: hostileHeavy }), fc.option(fc.constantFrom('headers', 'h'), { nil: undefined }), (input, field) => {
        const f = field ?? 'headers';
        const r = noThrow('validateHeaders', input, () => validateHeaders(input, field));
        if (!r.ok) {
          assertInvalid(r, input, (x) => x === f || x.startsWith(`${f}.`));
          return;
        }
        const ctx = `input ${show(input)} → ${show(r.value)}`;
        assertHeaders(r.value, ctx);
        if (input !== undefined && input !== null) {
          const inp = input as Record<string, unknown>;
          assert.ok(Object.keys(inp).length <= MAX_HEADERS, ctx);
          for (const [k, val] of Object.entries(r.value)) assert.equal(inp[k], val, ctx);
          for (const k of Object.keys(inp)) if (!isStrippedHeader(k)) assert.ok(Object.hasOwn(r.value, k), `${k} lost: ${ctx}`);
        }
        const again = validateHeaders(r.value, field);
        assert.ok(again.ok, `re-validating accepted headers failed: ${show(again)}`);
        if (again.ok) assert.deepEqual(again.value, r.value);
      }),
      params(RUNS * 2),
    );
  });

  it('a value with CR or LF anywhere is refused and names that header', () => {
    check(
      fc.property(token, fc.string({ unit: 'binary-ascii', maxLength: 20 }), fc.constantFrom('\r', '\n', '\r\n', '\0'), fc.string({ unit: 'binary-ascii', maxLength: 20 }), (name, a, bad, b) => {
        const r = validateHeaders({ [name]: `${a}${bad}${b}` });
        assert.ok(!r.ok, `accepted ${show(`${a}${bad}${b}`)}`);
        if (!r.ok) assert.equal(r.field, `headers.${name}`);
      }),
      params(RUNS),
    );
  });
});

describe('hostile input: resolvePolicy', () => {
  it('never throws; numbers are clamped integers within POLICY_BOUNDS, words checked', () => {
    check(
      fc.property(fc.oneof({ weight: 3, arbitrary: deliveryObject }, { weight: 1, arbitrary: hostileHeavy }), fc.option(validPolicy, { nil: undefined }), (input, base) => {
        const r = noThrow('resolvePolicy', input, () => resolvePolicy(input, base));
        if (!r.ok) {
          assertInvalid(r, input, (f) => f === 'delivery' || (f.startsWith('delivery.') && (Object.keys(DEFAULT_POLICY) as string[]).includes(f.slice(9))));
          return;
        }
        const ctx = `input ${show(input)} base ${show(base)} → ${show(r.value)}`;
        assertPolicy(r.value, ctx);
        const b = base ?? DEFAULT_POLICY;
        const inp = (isPlainObject(input) ? input : {}) as Record<string, unknown>;
        for (const name of NUMERIC) {
          const raw = inp[name];
          if (raw === undefined) assert.equal(r.value[name], b[name], ctx);
          else {
            const { min, max } = POLICY_BOUNDS[name];
            assert.equal(r.value[name], Math.min(max, Math.max(min, Math.trunc(raw as number))), ctx);
          }
        }
      }),
      params(RUNS * 2),
    );
  });

  it('a numeric field that is not a finite number is refused and named', () => {
    check(
      fc.property(fc.constantFrom(...NUMERIC), fc.oneof(fc.constantFrom(NaN, Infinity, -Infinity, null, '5', '', true, [], {}, [5]), hostile.filter((v) => typeof v !== 'number' && v !== undefined)), (name, value) => {
        const r = resolvePolicy({ [name]: value });
        assert.ok(!r.ok, `accepted ${name} = ${show(value)}`);
        if (!r.ok) assert.equal(r.field, `delivery.${name}`);
      }),
      params(RUNS),
    );
  });
});

describe('hostile input: parseTarget', () => {
  it('never throws; accepted targets are ≤ 2048 chars, https (unless allowHttp), no userinfo, stable on re-parse', () => {
    check(
      fc.property(fc.oneof({ weight: 4, arbitrary: anyTarget }, { weight: 1, arbitrary: hostileHeavy }), fc.boolean(), fc.option(fc.constantFrom('target', 'url'), { nil: undefined }), (input, allowHttp, field) => {
        const opts = field === undefined ? { allowHttp } : { allowHttp, field };
        const r = noThrow('parseTarget', input, () => parseTarget(input, opts));
        if (!r.ok) {
          assertInvalid(r, input, (f) => f === (field ?? 'target'));
          return;
        }
        assertTarget(r.value, allowHttp, `input ${show(input)} → ${r.value.href}`);
      }),
      params(RUNS * 2),
    );
  });

  it('huge targets are refused by length without being parsed at length', () => {
    check(
      fc.property(hugeString, fc.boolean(), (tail, allowHttp) => {
        const input = `https://hooks.example.test/${tail}`.padEnd(MAX_TARGET_LENGTH + 1, 'a');
        const r = noThrow('parseTarget', input, () => parseTarget(input, { allowHttp }));
        assert.ok(!r.ok, 'a target over 2048 characters was accepted');
        if (!r.ok) assertInvalid(r, input, (f) => f === 'target');
      }),
      params(HEAVY_RUNS),
    );
  });
});

describe('hostile input: normalizeDomain', () => {
  it('never throws; valid names are short lower-case ASCII labels, not IPs, idempotent, and match how targets parse', () => {
    check(
      fc.property(domainLike, fc.option(fc.constantFrom('domain', 'd'), { nil: undefined }), (input, field) => {
        const r = noThrow('normalizeDomain', input, () => normalizeDomain(input, field));
        if (!r.ok) {
          assertInvalid(r, input, (f) => f === (field ?? 'domain'));
          return;
        }
        const d = r.value;
        const ctx = `input ${show(input)} → ${show(d)}`;
        assert.ok(d.length <= MAX_DOMAIN_LENGTH, ctx);
        assert.match(d, /^[a-z0-9.-]+$/, ctx);
        const labels = d.split('.');
        assert.ok(labels.length >= 2, ctx);
        for (const l of labels) assert.match(l, /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, ctx);
        assert.equal(isIP(d), 0, ctx);
        const again = normalizeDomain(d);
        assert.ok(again.ok && again.value === d, `normalising ${d} again gave ${show(again)}`);
        // a verified domain must be the host a target on it parses to, or verification means nothing
        const t = parseTarget(`https://${d}/hook`, { allowHttp: false });
        assert.ok(t.ok, `https://${d}/hook is refused: ${show(t)}`);
        if (t.ok) {
          assert.equal(t.value.host, d, ctx);
          assert.equal(t.value.ipLiteral, false, ctx);
        }
        assert.equal(candidateDomains(d)[0], d, ctx);
        assert.ok(hostIsUnderDomain(`x.${d}`, d) && hostIsUnderDomain(d, d), ctx);
      }),
      params(RUNS * 2),
    );
  });
});

describe('hostile input: nothing leaked into the prototypes', () => {
  it('Object.prototype and Array.prototype are untouched after all of the above', () => {
    for (const key of ['target', 'sign', 'max_attempts', 'url', 'headers', 'polluted']) {
      assert.equal(({} as Record<string, unknown>)[key], undefined, key);
      assert.equal(([] as unknown as Record<string, unknown>)[key], undefined, key);
    }
  });
});
