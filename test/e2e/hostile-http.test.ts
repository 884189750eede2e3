/**
 * Hostile input against the real HTTP API (issue 7, item 5): a bounded fuzz run, with fast-check,
 * of every route that takes input — malformed JSON, wrong types in every field, deep nesting,
 * huge strings, hundreds of request headers, invalid UTF-8, odd content types, empty bodies,
 * bodies past the limit, fuzzed query strings and ids, slow clients. The promise under test:
 *
 * - never a 5xx (SPEC §3: a 5xx is a bug, except 503 while the database is unreachable);
 * - every 4xx has the error shape {"error": {"code", "message", "field"?}};
 * - a 400 about a JSON object's content names the field at fault, and that field is one the
 *   request carried (or a required one it lacked);
 * - the process stays up and serves others while a client dawdles, and its heap returns to
 *   about its baseline afterwards.
 *
 * Network: only loopback. Every generated target is an https URL on a host under example.test
 * (the test DNS answers 127.0.0.1) or an IP literal the API refuses before any connection
 * (unverifiable → 403, blocked → 400); accepted ones point at the test receiver.
 *
 * Reproduce a run with HAREPOST_FUZZ_SEED=<seed printed on failure>.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { connect, isIP } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { request } from 'undici';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { sleep } from '../support/wait.js';

const SEED = Number(process.env.HAREPOST_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Generated cases per POST/PATCH route, and for each of the two GET routes. */
const CASES_PER_ROUTE = 30;
const GET_CASES = 50;
const CONCURRENCY = 6;

// ---------------------------------------------------------------------------------------------
// Talking to the server.

interface Case {
  route: string;
  label: string;
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  /** Flat [name, value, name, value…] so a name may repeat. */
  headers: string[];
  body?: Buffer | (() => Readable);
  /** Fields the route requires (a refusal for a missing one names it). */
  required: readonly string[];
  /** True when the Content-Type is unusual enough that the framework may refuse it on its own. */
  oddContentType: boolean;
  /** Names a query-string refusal may give. */
  queryKeys?: readonly string[];
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

const clip = (s: string, n = 240) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

async function send(base: string, c: Case): Promise<Got> {
  const body = typeof c.body === 'function' ? c.body() : c.body;
  const res = await request(base + c.path, {
    method: c.method,
    headers: c.headers,
    ...(body !== undefined ? { body } : {}),
    headersTimeout: 15_000,
    bodyTimeout: 15_000,
  });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

function describeCase(c: Case): string {
  const body =
    c.body === undefined
      ? '(no body)'
      : typeof c.body === 'function'
        ? '(streamed body)'
        : `${c.body.length} B ${JSON.stringify(clip(c.body.toString('latin1'), 160))}`;
  const names = c.headers.filter((_, i) => i % 2 === 0 && c.headers[i]!.toLowerCase() !== 'authorization');
  const at = c.headers.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'content-type');
  const ct = at >= 0 ? c.headers[at + 1] : undefined;
  return `${c.method} ${clip(c.path, 160)} [${c.label}] content-type=${JSON.stringify(ct ?? null)} headers=${names.length} body=${body}`;
}

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** What is wrong with this answer (empty when nothing). `object` is the JSON object sent, if one. */
function problems(c: Case, got: Got, object: Record<string, unknown> | null): string[] {
  const out: string[] = [];
  if (got.status >= 500) out.push(`a ${got.status}`);
  if (got.status >= 400) {
    const j = got.json as { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined;
    const e = j?.error;
    if (j === undefined || typeof j !== 'object' || j === null || Array.isArray(j)) {
      out.push('error body is not a JSON object');
    } else if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      out.push('error body has no "error" object (SPEC §3 shape)');
    } else {
      if (typeof e.code !== 'string' || !SNAKE.test(e.code)) out.push('error.code is not a snake_case string');
      if (typeof e.message !== 'string' || e.message.trim() === '') out.push('error.message is not a non-empty string');
      if (e.field !== undefined && (typeof e.field !== 'string' || e.field === '')) out.push('error.field is present but not a non-empty string');
      const extra = Object.keys(e).filter((k) => !['code', 'message', 'field'].includes(k));
      if (extra.length > 0) out.push(`error has unexpected keys ${extra.join(', ')}`);
      const top = Object.keys(j).filter((k) => k !== 'error');
      if (top.length > 0) out.push(`error body has keys besides "error": ${top.join(', ')}`);
      if (got.status === 400 && e.code === 'invalid_json' && object !== null && !c.oddContentType) {
        out.push('a well-formed JSON object was refused as invalid JSON');
      }
      if (got.status === 400 && e.code === 'invalid_request') {
        if (object !== null && !c.oddContentType) {
          if (typeof e.field !== 'string') out.push('a 400 about the fields of a JSON object names no error.field');
          else {
            const root = e.field.split(/[.[]/)[0]!;
            const known = new Set([...Object.keys(object), ...c.required, 'Idempotency-Key']);
            if (!known.has(root)) out.push(`error.field ${JSON.stringify(e.field)} is not a field of the request`);
          }
        }
        if (c.queryKeys) {
          // a parameter with an empty name (`?=x`) cannot be named; any other refusal names one
          if (typeof e.field !== 'string') {
            if (!c.queryKeys.includes('')) out.push('a 400 about the query string names no error.field');
          }
          else if (!c.queryKeys.includes(e.field)) out.push(`error.field ${JSON.stringify(e.field)} is not a query parameter that was sent`);
        }
      }
    }
  }
  return out;
}

/** The JSON object a body decodes to, the way the server decodes it (UTF-8, then JSON), or null. */
function objectOf(body: Case['body']): Record<string, unknown> | null {
  if (body === undefined || typeof body === 'function') return null;
  if (!isUtf8(body)) return null; // refused as it is (invalid_json), never decoded with replacement characters
  const text = body.toString('utf8');
  // the server refuses prototype keys as invalid JSON on purpose; no field is expected then
  if (/__proto__|"constructor"|"prototype"/.test(text)) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

interface Violation {
  request: string;
  status: number | string;
  response: string;
  what: string[];
}

/** Sends every case (a few at a time) and returns what went wrong. */
async function runCases(base: string, cases: Case[]): Promise<{ violations: Violation[]; statuses: Map<number, number> }> {
  const violations: Violation[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      let got: Got;
      try {
        got = await send(base, c);
      } catch (err) {
        const e = err as Error & { code?: string };
        if (e.code === 'UND_ERR_INVALID_ARG') continue; // the client refused to send it: nothing to test
        violations.push({ request: describeCase(c), status: 'no response', response: `${e.name} ${e.code ?? ''}: ${e.message}`, what: ['no HTTP response'] });
        continue;
      }
      statuses.set(got.status, (statuses.get(got.status) ?? 0) + 1);
      const what = problems(c, got, objectOf(c.body));
      if (what.length > 0) violations.push({ request: describeCase(c), status: got.status, response: clip(got.text, 300), what });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { violations, statuses };
}

function report(title: string, v: Violation[]): string {
  const byKind = new Map<string, number>();
  for (const x of v) for (const w of x.what) byKind.set(`${x.status} ${w}`, (byKind.get(`${x.status} ${w}`) ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `  ${n}× ${k}`).join('\n');
  const examples = v
    .slice(0, 25)
    .map((x) => `  - ${x.request}\n    → ${x.status} ${x.response}\n    problem: ${x.what.join('; ')}`)
    .join('\n');
  return `${title}: ${v.length} bad answer(s) (HAREPOST_FUZZ_SEED=${SEED})\n${kinds}\nexamples:\n${examples}`;
}

// ---------------------------------------------------------------------------------------------
// Hostile JSON values (only what can travel in JSON).

const specialChars = [
  '\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u00a0', '\u00ff', '\u0100', '\u200b', '\u202e', '\u2028',
  '\ufeff', '\ufffd', '\uffff', '\ud800', '\udfff', '\ud83d\ude00', '"', "'", '\\', '/', '%', '%00', '%0d%0a', '..', ':', '@',
  '#', '?', '*', ' ', '{', '[', 'ß', '１', '．',
];
const nastyUnit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...specialChars) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
);
const nasty = (maxLength = 30) => fc.string({ unit: nastyUnit, maxLength });
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nasty() },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      null, true, false, 0, -1, 0.5, 1e308, -1e308, 5e-324, 2 ** 53 + 2, 1e21, '', ' ', '0', '5', 'NaN', 'true', 'null', [], {}, [null], [1, 2],
      { '': '' }, { a: { b: { c: {} } } },
    ),
  },
);
const mostly = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostileJson });

/**
 * Belt and braces for the network rule: a value that would parse as an http(s) URL must name a
 * host under example.test (the test DNS answers 127.0.0.1) or a loopback literal. The service
 * never resolves through anything but the test DNS anyway, but destinations are not limited to
 * verified domains, so nothing generated may name an outside address.
 */
function safeTargetValue(v: unknown): boolean {
  if (typeof v !== 'string') return true;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return true;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === 'example.test' || host.endsWith('.example.test') || host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '::ffff:7f00:1';
  return false;
}
const mostlyTarget = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 8, arbitrary: (good as fc.Arbitrary<unknown>).filter(safeTargetValue) }, { weight: 1, arbitrary: hostileJson.filter(safeTargetValue) });

const typePart = fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/);
const eventType = fc.oneof(
  { weight: 4, arbitrary: fc.array(typePart, { minLength: 1, maxLength: 3 }).map((p) => p.join('.')) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'order.*', '.*', 'order..x', 'a:b', '', 'é', 'a'.repeat(256)) },
  { weight: 1, arbitrary: nasty(20) },
);
const policy = fc.record(
  {
    max_attempts: mostly(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))),
    backoff: mostly(fc.constantFrom('exponential', 'fixed', 'linear')),
    base_delay_ms: mostly(fc.integer()),
    max_delay_ms: mostly(fc.integer()),
    jitter: mostly(fc.constantFrom('full', 'none', 'half')),
    timeout_ms: mostly(fc.integer()),
    respect_retry_after: mostly(fc.boolean()),
  },
  { requiredKeys: [] },
);
const token = fc.stringMatching(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,16}$/);
const headersObj = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(token, fc.string({ unit: 'binary-ascii', maxLength: 20 }), { maxKeys: 6 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(token, nasty(10), fc.constantFrom('Host', 'Authorization', 'X-Harepost-X', '__proto__')), hostileJson, { maxKeys: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 300 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']))) },
);

// ---------------------------------------------------------------------------------------------

/** Builds raw request bodies from route-shaped objects: well-formed, malformed, deep, huge, invalid UTF-8. */
function bodyArb(shaped: fc.Arbitrary<Record<string, unknown>>, hugeFields: readonly string[], limit: number) {
  const text = shaped.map((o) => JSON.stringify(o));
  const wellFormed = text.map((t) => ({ label: 'object', body: Buffer.from(t, 'utf8') }));
  const malformed = fc
    .tuple(
      text,
      fc.constantFrom(
        'truncate', 'garbage', 'nan', 'infinity', 'undefined', 'comment', 'line-comment', 'single-quotes', 'trailing-comma',
        'unquoted-keys', 'two-values', 'bom', 'control-char', 'bad-escape', 'huge-number', 'lone', 'proto',
      ),
      fc.nat(),
    )
    .map(([t, how, n]) => {
      const cut = t.length > 1 ? 1 + (n % (t.length - 1)) : 0;
      const lone = ['{', '[', '"', 'nul', 'tru', '-', '1e', '0x10', '01', '{"a" 1}', '{,}', '{"a":}', ']', '}', '\u0000', ' ', '\r\n'];
      const body: Record<string, string> = {
        truncate: t.slice(0, cut),
        garbage: `${t}${[' x', '}', ',', '\u0000', 'NaN', ']]]', '{}'][n % 7]}`,
        nan: t.replace(/:(?:"[^"]*"|[-0-9.e]+|true|false|null)/, ':NaN'),
        infinity: t.replace(/:(?:"[^"]*"|[-0-9.e]+|true|false|null)/, ':-Infinity'),
        undefined: t.replace(/:(?:"[^"]*"|[-0-9.e]+|true|false|null)/, ':undefined'),
        comment: `/* comment */${t}`,
        'line-comment': `// comment\n${t}`,
        'single-quotes': t.replace(/"/g, "'"),
        'trailing-comma': t.replace(/}$/, ',}'),
        'unquoted-keys': t.replace(/"([A-Za-z_]+)":/g, '$1:'),
        'two-values': `${t}${t}`,
        bom: `\ufeff${t}`,
        'control-char': t.replace(/"([^"]*)"/, '"$1\u0001\n"'),
        'bad-escape': t.replace(/"([^"]*)"/, '"$1\\x41\\u12"'),
        'huge-number': t.replace(/:(?:"[^"]*"|[-0-9.e]+|true|false|null)/, `:1${'0'.repeat(400)}`),
        lone: lone[n % lone.length]!,
        proto: t.replace(/^\{/, '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},'),
      };
      return { label: `malformed:${how}`, body: Buffer.from(body[how]!, 'utf8') };
    });
  const nonObject = fc
    .oneof(fc.jsonValue({ maxDepth: 2 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)), fc.constantFrom<unknown>([], [{}], '', 0, null))
    .map((v) => ({ label: 'json-non-object', body: Buffer.from(JSON.stringify(v) ?? 'null', 'utf8') }));
  const maxDepth = Math.floor((limit - 200) / 2);
  const deep = fc
    .tuple(
      fc.oneof(fc.constantFrom(10, 10_000, 100_000, maxDepth), fc.integer({ min: 1_000, max: maxDepth })),
      fc.constantFrom('open-brackets', 'balanced-array', 'objects', 'in-field'),
      shaped,
      fc.constantFrom(...hugeFields),
    )
    .map(([depth, kind, o, field]) => {
      const arr = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const body =
        kind === 'open-brackets'
          ? '['.repeat(depth * 2)
          : kind === 'balanced-array'
            ? arr
            : kind === 'objects'
              ? `${'{"a":'.repeat(Math.floor(depth / 3))}1${'}'.repeat(Math.floor(depth / 3))}`
              : JSON.stringify({ ...o, [field]: '__DEEP__' }).replace('"__DEEP__"', arr);
      return { label: `deep:${kind}:${depth}${kind === 'in-field' ? `:${field}` : ''}`, body: Buffer.from(body, 'utf8') };
    });
  const huge = fc
    .tuple(shaped, fc.constantFrom(...hugeFields), fc.integer({ min: 50_000, max: limit - 300 }), fc.constantFrom('a', 'é', '\u{1F600}', '%', '"', '\\', '\ud800', '.'), fc.boolean())
    .map(([o, field, bytes, ch, asArray]) => {
      const prefix = !asArray && (field === 'target' || field === 'url') ? 'https://hooks.example.test/' : '';
      const base = Buffer.byteLength(JSON.stringify({ ...o, [field]: asArray ? [] : prefix }), 'utf8');
      const quoted = Buffer.byteLength(JSON.stringify(ch), 'utf8');
      const each = asArray ? quoted + 1 : quoted - 2;
      const n = Math.max(0, Math.floor((bytes - base) / each));
      const v = asArray ? Array.from({ length: n }, () => ch) : `${prefix}${ch.repeat(n)}`;
      const body = Buffer.from(JSON.stringify({ ...o, [field]: v }), 'utf8');
      return { label: `huge:${field}:${asArray ? 'array' : 'string'}:${JSON.stringify(ch)}×${n}`, body };
    })
    .filter((b) => b.body.length <= limit);
  const manyKeys = fc
    .tuple(shaped, fc.integer({ min: 1_000, max: 40_000 }), fc.option(fc.constantFrom(...hugeFields), { nil: undefined }))
    .map(([o, n, field]) => {
      const many = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
      const obj = field === undefined ? { ...many, ...o } : { ...o, [field]: many };
      return { label: `many-keys:${n}:${field ?? 'top'}`, body: Buffer.from(JSON.stringify(obj), 'utf8') };
    })
    .filter((b) => b.body.length <= limit);
  const badUtf8 = fc
    .tuple(text, fc.nat(), fc.constantFrom([0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xf0, 0x9f]))
    .map(([t, n, bytes]) => {
      const buf = Buffer.from(t, 'utf8');
      // inside a string value when there is one (after a ":"), else anywhere
      const quote = buf.indexOf(':"');
      const at = quote >= 0 && n % 3 !== 0 ? quote + 2 : n % (buf.length + 1);
      return { label: `invalid-utf8:${Buffer.from(bytes).toString('hex')}@${at}`, body: Buffer.concat([buf.subarray(0, at), Buffer.from(bytes), buf.subarray(at)]) };
    });
  const utf16 = text.map((t) => ({ label: 'utf16le', body: Buffer.from(`\ufeff${t}`, 'utf16le') }));
  const empty = fc.constantFrom({ label: 'empty', body: Buffer.alloc(0) }, { label: 'whitespace', body: Buffer.from(' \r\n\t ') }, { label: 'no-body', body: undefined as Buffer | undefined });
  return fc.oneof(
    { weight: 14, arbitrary: wellFormed },
    { weight: 4, arbitrary: malformed },
    { weight: 1, arbitrary: nonObject },
    { weight: 2, arbitrary: deep },
    { weight: 2, arbitrary: huge },
    { weight: 1, arbitrary: manyKeys },
    { weight: 2, arbitrary: badUtf8 },
    { weight: 1, arbitrary: utf16 },
    { weight: 1, arbitrary: empty },
  );
}

const CONTENT_TYPES = [
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', '*/*', ';',
  'application/json;;;', 'application/json; charset=utf-16le', 'application/json; charset=latin1', 'APPLICATION/JSON',
  'application/vnd.api+json', 'application/json, text/plain', 'application/json; charset="utf-8"', 'text/html; charset=utf-8',
  `application/${'x'.repeat(2000)}`, 'application/json; boundary=', 'json', '/', 'a/b/c',
];

/** Extra request headers: odd content types, hundreds of custom headers, Idempotency-Key, bad keys. */
const headerVariant = fc.record({
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<string | null>('application/json', 'application/json; charset=utf-8') },
    { weight: 1, arbitrary: fc.constant<string | null>(null) },
    { weight: 2, arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES) },
  ),
  // Node refuses a header block over 16 KiB (431): these stay under it, all extras together
  custom: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 400 }) }),
  idempotencyKey: fc.oneof(
    { weight: 6, arbitrary: fc.constant<string | null>(null) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 40 }).map((k) => k.replace(/[^\x20-\x7e]/g, 'k')) },
    { weight: 1, arbitrary: fc.constantFrom<string | null>('', ' ', 'k'.repeat(256), 'k'.repeat(3000), 'é', 'a\tb') },
  ),
  auth: fc.oneof(
    { weight: 20, arbitrary: fc.constantFrom<'live' | 'test'>('live', 'test') },
    { weight: 1, arbitrary: fc.constantFrom('none', 'garbage', 'bearer-only', 'huge', 'revoked-shape') },
  ),
});
type HeaderVariant = typeof headerVariant extends fc.Arbitrary<infer T> ? T : never;

function headersFor(v: HeaderVariant, acct: TestAccount): { headers: string[]; odd: boolean } {
  const h: string[] = [];
  const key = v.auth === 'live' ? acct.live_key : v.auth === 'test' ? acct.test_key : null;
  if (key) h.push('authorization', `Bearer ${key}`);
  else if (v.auth === 'garbage') h.push('authorization', 'Bearer hp_live_not_a_real_key_at_all');
  else if (v.auth === 'bearer-only') h.push('authorization', 'Bearer');
  else if (v.auth === 'huge') h.push('x-api-key', 'k'.repeat(3000));
  else if (v.auth === 'revoked-shape') h.push('authorization', `Bearer ${acct.live_key.slice(0, -2)}xx`);
  if (v.contentType !== null) h.push('content-type', v.contentType);
  for (let i = 0; i < v.custom; i++) h.push(`x-fuzz-${i}`, `v${i}`);
  if (v.idempotencyKey !== null) h.push('idempotency-key', v.idempotencyKey);
  const odd = v.contentType !== null && !/^application\/json(; charset=utf-8)?$/.test(v.contentType);
  return { headers: h, odd };
}

// ---------------------------------------------------------------------------------------------

/** A garbage collector: --expose-gc's when the runner passed it, else one unlocked at run time. */
function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

const MiB = 1024 * 1024;
/**
 * How far the heap may end above its baseline. A run moves some 30–40 MiB of request bodies
 * through the service; a leak of them would show, while a run without one ends within a few MiB.
 */
const HEAP_TOLERANCE = 24 * MiB;

describe('hostile HTTP input', () => {
  let stack: Stack;
  let base: string;
  let acct: TestAccount;
  let limit: number;
  let destId: string;
  let deliveryId: string;
  let gc: () => void;
  let baselineHeap = 0;
  const healthz = async () => (await request(`${base}/healthz`)).statusCode;

  before(async () => {
    stack = await startStack();
    base = stack.hp.url!;
    limit = stack.hp.config.maxBodyBytes;
    acct = await stack.createAccount('hostile');
    await stack.verifyDomain(acct.live_key, 'hooks.example.test'); // for both modes
    const d = await stack.api('POST', '/v1/destinations', {
      key: acct.live_key,
      body: { url: stack.target('/dest'), events: ['order.*'] },
    });
    assert.equal(d.status, 201, d.text);
    destId = d.body.id;
    const s = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/warm'), body: { hi: 1 } } });
    assert.equal(s.status, 202, s.text);
    deliveryId = s.body.queue_id;
    gc = collector();
    // warm every route once (JIT, schema compilation, statement caches) before the baseline
    for (let i = 0; i < 20; i++) {
      await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: 5 } });
      await stack.api('POST', '/v1/events', { key: acct.live_key, body: { type: 'warm.up' } });
      await stack.api('GET', '/v1/deliveries?limit=5', { key: acct.live_key });
      await stack.api('POST', '/v1/domains', { key: acct.live_key, body: { domain: 'x' } });
      await stack.api('POST', '/v1/send', { key: acct.live_key, rawBody: '{', headers: { 'content-type': 'application/json' } });
    }
    await stack.receiver.waitForRequests(1, 10_000).catch(() => undefined);
    stack.receiver.reset();
    baselineHeap = await settledHeap(gc);
  });
  after(async () => stack?.close());

  /** Every POST/PATCH route with a body, and the shapes of its body. */
  function routes() {
    const goodTarget = fc.oneof(
      { weight: 4, arbitrary: fc.webPath().map((p) => stack.target(`/f${p}`)) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom('https://', 'http://', 'ftp://', 'https://user:pw@', ''),
            fc.oneof(
              fc.constantFrom(
                'hooks.example.test', 'HOOKS.example.test.', 'a.hooks.example.test', 'unverified.example.test', 'example.test',
                '127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', 'localhost', 'hooks.example.test:0', 'hooks.example.test:99999', '',
              ),
              fc.domain().map((d) => `${d.replace(/\.+$/, '')}.unverified.example.test`),
            ),
            fc.webPath(),
          )
          .map(([s, h, p]) => `${s}${h}${p}`),
      },
    );
    const idemKey = fc.oneof(
      { weight: 5, arbitrary: fc.stringMatching(/^[\x20-\x7e]{1,40}$/) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 300 }) },
    );
    const send = fc.record(
      {
        target: mostlyTarget(goodTarget),
        method: mostly(fc.oneof({ weight: 5, arbitrary: fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'GET') }, { weight: 1, arbitrary: fc.constantFrom('post', 'HEAD', '') })),
        headers: mostly(headersObj),
        body: mostly(fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 }))),
        delivery: mostly(policy),
        idempotency_key: mostly(idemKey),
        metadata: mostly(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
        sign: mostly(fc.boolean()),
      },
      { requiredKeys: ['target'] },
    );
    const event = fc.record(
      {
        type: mostly(eventType),
        body: mostly(fc.jsonValue({ maxDepth: 3 })),
        idempotency_key: mostly(idemKey),
        metadata: mostly(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
      },
      { requiredKeys: ['type'] },
    );
    const destination = fc.record(
      {
        url: mostlyTarget(goodTarget),
        name: mostly(fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null))),
        description: mostly(fc.oneof(fc.string({ maxLength: 1100 }), fc.constant(null))),
        events: mostly(fc.array(eventType, { maxLength: 5 })),
        enabled: mostly(fc.boolean()),
        headers: mostly(headersObj),
        delivery: mostly(policy),
      },
      { requiredKeys: ['url'] },
    );
    const webhook = fc.record(
      {
        url: mostlyTarget(goodTarget),
        events: mostly(fc.array(eventType, { maxLength: 5 })),
        enabled: mostly(fc.boolean()),
        description: mostly(fc.oneof(fc.string({ maxLength: 300 }), fc.constant(null))),
      },
      { requiredKeys: ['url', 'events'] },
    );
    const domainName = fc.oneof(
      fc.domain().map((d) => `${d.replace(/\.+$/, '')}.example.test`),
      fc.constantFrom('hooks.example.test', 'HOOKS.EXAMPLE.TEST.', 'x', '127.0.0.1', '::1', 'bücher.example.test', '１２７.０.０.１', 'a..b', `${'a'.repeat(64)}.test`),
      nasty(40),
    );
    const domain = fc.record({ domain: mostly(domainName) }, { requiredKeys: ['domain'] });
    const subscription = fc.record(
      {
        destination_id: mostly(fc.oneof(fc.constant(destId), fc.constant('dest_nope'), nasty(20))),
        event_type: mostly(eventType),
      },
      { requiredKeys: ['destination_id', 'event_type'] },
    );
    const key = fc.record({ mode: mostly(fc.constantFrom('live', 'test', 'LIVE', 'prod', '')) }, { requiredKeys: [] });
    const instant = fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom('2026-06-10T14:22:10Z', 'yesterday', '', '0', '2026-13-45', '+275760-09-13T00:00:00.000Z', 'Z'),
      nasty(20),
    );
    const retry = fc.record(
      {
        status: mostly(fc.constantFrom('dead_letter', 'rejected', 'queued', 'delivered', '')),
        destination_id: mostly(fc.oneof(fc.constant(destId), nasty(20))),
        event_id: mostly(nasty(20)),
        created_before: mostly(instant),
        created_after: mostly(instant),
      },
      { requiredKeys: [] },
    );
    const R = (
      route: string,
      method: 'POST' | 'PATCH',
      path: string | fc.Arbitrary<string>,
      shaped: fc.Arbitrary<Record<string, unknown>>,
      required: readonly string[],
      hugeFields: readonly string[],
    ) => {
      // now and then a required field is missing
      const withGaps = fc.tuple(shaped, fc.nat()).map(([o, n]) => {
        if (required.length === 0 || n % 8 !== 0) return o;
        const copy = { ...o };
        delete copy[required[n % required.length]!];
        return copy;
      });
      return { route, method, path: typeof path === 'string' ? fc.constant(path) : path, shaped: withGaps, required, hugeFields };
    };
    return [
      R('POST /v1/send', 'POST', '/v1/send', send, ['target'], ['target', 'body', 'headers', 'idempotency_key', 'metadata', 'method']),
      R('POST /v1/events', 'POST', '/v1/events', event, ['type'], ['type', 'body', 'idempotency_key', 'metadata']),
      R('POST /v1/destinations', 'POST', '/v1/destinations', destination, ['url'], ['url', 'name', 'description', 'events', 'headers', 'delivery']),
      R(
        'PATCH /v1/destinations/{id}',
        'PATCH',
        fc.oneof({ weight: 9, arbitrary: fc.constant(`/v1/destinations/${destId}`) }, { weight: 1, arbitrary: fc.constantFrom('/v1/destinations/dest_nope', '/v1/destinations/%20', '/v1/destinations/x') }),
        destination,
        [],
        ['url', 'name', 'description', 'events', 'headers', 'delivery'],
      ),
      R('POST /v1/subscriptions', 'POST', '/v1/subscriptions', subscription, ['destination_id', 'event_type'], ['destination_id', 'event_type']),
      R('POST /v1/domains', 'POST', '/v1/domains', domain, ['domain'], ['domain']),
      R('POST /v1/domains/verify', 'POST', '/v1/domains/verify', domain, ['domain'], ['domain']),
      R('POST /v1/keys', 'POST', '/v1/keys', key, [], ['mode']),
      R('POST /v1/webhooks', 'POST', '/v1/webhooks', webhook, ['url', 'events'], ['url', 'events', 'description']),
      // no filter at all is 400 naming `all` (replaying everything needs "all": true)
      R('POST /v1/deliveries/retry', 'POST', '/v1/deliveries/retry', retry, ['all'], ['status', 'destination_id', 'event_id', 'created_before', 'created_after']),
    ];
  }

  it('fuzzed bodies on every POST/PATCH route: no 5xx, the error shape, the field at fault', async () => {
    const cases: Case[] = [];
    let seed = SEED;
    for (const r of routes()) {
      const arb = fc.tuple(r.path, bodyArb(r.shaped, r.hugeFields, limit), headerVariant);
      for (const [path, b, hv] of fc.sample(arb, { numRuns: CASES_PER_ROUTE, seed: seed++ })) {
        const { headers, odd } = headersFor(hv, acct);
        cases.push({
          route: r.route,
          label: b.label,
          method: r.method,
          path,
          headers,
          ...(b.body !== undefined ? { body: b.body } : {}),
          required: r.required,
          oddContentType: odd,
        });
      }
    }
    const { violations, statuses } = await runCases(base, cases);
    // destinations and webhooks the fuzz made would receive every later event: remove them
    const made = await stack.api('GET', '/v1/destinations', { key: acct.live_key });
    for (const d of made.body?.data ?? []) if (d.id !== destId) await stack.api('DELETE', `/v1/destinations/${d.id}`, { key: acct.live_key });
    const made2 = await stack.api('GET', '/v1/destinations', { key: acct.test_key });
    for (const d of made2.body?.data ?? []) await stack.api('DELETE', `/v1/destinations/${d.id}`, { key: acct.test_key });
    assert.equal(await healthz(), 200, 'the service is down after the fuzz run');
    assert.ok((statuses.get(202) ?? 0) + (statuses.get(201) ?? 0) + (statuses.get(200) ?? 0) > 0, `nothing was accepted: ${[...statuses]}`);
    if (violations.length > 0) assert.fail(report(`${cases.length} fuzzed bodies (statuses ${JSON.stringify([...statuses])})`, violations));
  });

  it('fuzzed query strings on GET /v1/deliveries and fuzzed ids on GET /v1/deliveries/{id}', async () => {
    const pct = (s: string) => [...Buffer.from(s.replace(/[\ud800-\udfff]/g, '\ufffd'), 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    const KEYS = ['status', 'limit', 'cursor', 'destination_id', 'event_id'] as const;
    const qValue = fc.oneof(
      fc.constantFrom('queued', 'delivered', 'dead_letter', 'rejected', 'retrying', 'QUEUED', '1', '25', '100', '101', '0', '-1', '1.5', '1e2', '00001', '99999999999999999999', '', ' ', 'null'),
      fc.string({ unit: 'binary-ascii', maxLength: 20 }).map(pct),
      nasty(20).map(pct),
      fc.constantFrom('%', '%zz', '%ff%fe', '%c0%80', '%ed%a0%80', '+', '%00', '[]', 'a[b]', '%E2%82'),
      fc.base64String({ maxLength: 40 }),
      fc.integer({ min: 1000, max: 5000 }).map((n) => 'c'.repeat(n)),
    );
    const pair = fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom<string>(...KEYS) }, { weight: 1, arbitrary: fc.constantFrom('x', 'limit[]', 'status[0]', '', '__proto__', 'constructor', '%zz') }), qValue);
    const query = fc.oneof(
      fc.array(pair, { maxLength: 6 }).map((ps) => ps.map(([k, v]) => `${k}=${v}`).join('&')),
      fc.constantFrom('', '&', '&&&', '=', '==', '?', 'limit', 'limit=', 'status=&status=queued', 'limit=1&limit=2', 'cursor=a&cursor=b', 'destination_id=a&destination_id=b', 'a=1;b=2', '%'),
    );
    const idArb = fc.oneof(
      fc.constantFrom(deliveryId, 'hr_nope', '', '%20', '..', '%2e%2e', '%2f', '%00', '%zz', '%', '%ff', '%c0%af', 'a%2fb', 'hr_%E2%82', '.', '~', '*'),
      fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 60 }).map(pct),
      nasty(30).map(pct),
      fc.integer({ min: 101, max: 3000 }).map((n) => `hr_${'a'.repeat(n)}`),
    );
    const cases: Case[] = [];
    for (const [q, hv] of fc.sample(fc.tuple(query, headerVariant), { numRuns: GET_CASES, seed: SEED + 100 })) {
      const { headers } = headersFor({ ...hv, contentType: null, idempotencyKey: null }, acct);
      const sentKeys = q.split('&').map((p) => decodeURIComponentSafe(p.split('=')[0] ?? ''));
      cases.push({ route: 'GET /v1/deliveries', label: 'query', method: 'GET', path: `/v1/deliveries?${q}`, headers, required: [], oddContentType: false, queryKeys: sentKeys });
    }
    for (const [id, hv] of fc.sample(fc.tuple(idArb, headerVariant), { numRuns: GET_CASES, seed: SEED + 200 })) {
      const { headers } = headersFor({ ...hv, contentType: null, idempotencyKey: null }, acct);
      cases.push({ route: 'GET /v1/deliveries/{id}', label: 'id', method: 'GET', path: `/v1/deliveries/${id}`, headers, required: [], oddContentType: false });
    }
    const { violations, statuses } = await runCases(base, cases);
    assert.equal(await healthz(), 200, 'the service is down after the fuzz run');
    if (violations.length > 0) assert.fail(report(`${cases.length} fuzzed GETs (statuses ${JSON.stringify([...statuses])})`, violations));
  });

  it('deep nesting inside a field, with and without an Idempotency-Key header', async () => {
    const target = stack.target('/deep');
    const violations: Violation[] = [];
    let n = 0;
    for (const depth of [1_000, 5_000, 20_000, 100_000, Math.floor((limit - 300) / 2)]) {
      const arr = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const bodies: Array<[string, string, readonly string[]]> = [
        ['/v1/send', `{"target":${JSON.stringify(target)},"body":${arr}}`, ['target']],
        ['/v1/send', `{"target":${JSON.stringify(target)},"metadata":{"a":${arr}}}`, ['target']],
        ['/v1/events', `{"type":"order.created","body":${arr}}`, ['type']],
        ['/v1/events', `{"type":"order.created","metadata":{"a":${arr}}}`, ['type']],
      ];
      for (const [path, text, required] of bodies) {
        for (const idem of [null, `deep-${n++}`]) {
          const headers = ['authorization', `Bearer ${acct.live_key}`, 'content-type', 'application/json'];
          if (idem) headers.push('idempotency-key', idem);
          const c: Case = { route: path, label: `deep:${depth}${idem ? '+Idempotency-Key' : ''}`, method: 'POST', path, headers, body: Buffer.from(text), required, oddContentType: false };
          const got = await send(base, c);
          const what = problems(c, got, objectOf(c.body));
          if (what.length > 0) violations.push({ request: describeCase(c), status: got.status, response: clip(got.text), what });
        }
      }
    }
    assert.equal(await healthz(), 200);
    if (violations.length > 0) assert.fail(report('deeply nested fields', violations));
  });

  it('a JSON object is read as JSON whatever its Content-Type (the promise in src/api/app.ts)', async () => {
    const body = Buffer.from(JSON.stringify({ target: stack.target('/ct'), body: { ok: true } }));
    const bad: string[] = [];
    for (const ct of [
      null, 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json',
      'application/x-www-form-urlencoded', 'text/plain', 'text/plain; charset=utf-8', 'text/html', 'application/octet-stream',
    ]) {
      const headers = ['authorization', `Bearer ${acct.live_key}`, ...(ct === null ? [] : ['content-type', ct])];
      const r = await send(base, { route: 'send', label: 'content-type', method: 'POST', path: '/v1/send', headers, body, required: ['target'], oddContentType: false });
      if (r.status !== 202) bad.push(`Content-Type ${JSON.stringify(ct)} → ${r.status} ${clip(r.text)}`);
    }
    assert.deepEqual(bad, [], `a valid send body was not read as JSON:\n  ${bad.join('\n  ')}`);
  });

  it('bodies past the limit get 413 in the error shape (declared, chunked and lying Content-Length)', async () => {
    const over = Buffer.alloc(limit + 1, 0x20);
    over.write('{"target":"', 0);
    const routesWithBodies = ['/v1/send', '/v1/events', '/v1/destinations', '/v1/domains', '/v1/webhooks', '/v1/subscriptions', '/v1/keys', '/v1/deliveries/retry'];
    const cases: Case[] = [];
    for (const path of routesWithBodies) {
      const headers = ['authorization', `Bearer ${acct.live_key}`, 'content-type', 'application/json'];
      cases.push({ route: path, label: 'over-limit', method: 'POST', path, headers, body: over, required: [], oddContentType: false });
      cases.push({
        route: path,
        label: 'over-limit-chunked',
        method: 'POST',
        path,
        headers,
        body: () => Readable.from((function* () {
          for (let sent = 0; sent <= limit; sent += 64 * 1024) yield Buffer.alloc(64 * 1024, 0x61);
        })()),
        required: [],
        oddContentType: false,
      });
    }
    const got: Array<number | string> = [];
    for (const c of cases) {
      try {
        const r = await send(base, c);
        got.push(r.status);
        const what = problems(c, r, null);
        assert.deepEqual(what, [], `${describeCase(c)} → ${r.status} ${clip(r.text)}`);
        assert.equal(r.status, 413, `${describeCase(c)} → ${r.status} ${clip(r.text)}`);
        assert.equal((r.json as { error: { code: string } }).error.code, 'body_too_large');
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.fail(`${describeCase(c)}: no response: ${(err as Error).message}`);
      }
    }
    // a Content-Length far past the limit with (almost) no body: refused at once, not waited for
    const t0 = Date.now();
    const raw = await rawExchange(
      base,
      `POST /v1/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${acct.live_key}\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{"ta`,
      5_000,
    );
    assert.match(raw, /^HTTP\/1\.1 413 /, `10 GiB Content-Length: ${clip(raw)}`);
    assert.ok(Date.now() - t0 < 4_000, 'the 413 for a 10 GiB Content-Length took too long');
    assert.equal(await healthz(), 200);
  });

  it('500 custom request headers and repeated headers are handled like any other request', async () => {
    const many: string[] = ['authorization', `Bearer ${acct.live_key}`, 'content-type', 'application/json'];
    for (let i = 0; i < 500; i++) many.push(`x-custom-${i}`, `value-${i}`);
    const okBody = Buffer.from(JSON.stringify({ target: stack.target('/many'), body: 'x' }));
    const r1 = await send(base, { route: 'send', label: '500-headers', method: 'POST', path: '/v1/send', headers: many, body: okBody, required: [], oddContentType: false });
    assert.equal(r1.status, 202, r1.text);
    const repeated = [
      'authorization', `Bearer ${acct.live_key}`,
      'authorization', 'Bearer hp_live_garbage',
      'content-type', 'application/json',
      'content-type', 'text/plain',
      'idempotency-key', 'first',
      'idempotency-key', 'second',
      'x-api-key', 'also-garbage',
    ];
    const r2 = await send(base, { route: 'send', label: 'repeated-headers', method: 'POST', path: '/v1/send', headers: repeated, body: okBody, required: [], oddContentType: false });
    assert.ok(r2.status < 500, `repeated headers → ${r2.status} ${r2.text}`);
    assert.deepEqual(problems({ route: 'send', label: '', method: 'POST', path: '/v1/send', headers: repeated, required: ['target'], oddContentType: false }, r2, objectOf(okBody)), [], r2.text);
    assert.equal(await healthz(), 200);
  });

  it('a header block past the server limit is refused with a 431 in the error shape', async () => {
    const h = ['authorization', `Bearer ${acct.live_key}`, 'content-type', 'application/json', 'x-big', 'v'.repeat(20_000)];
    const c: Case = { route: 'send', label: 'header-overflow', method: 'POST', path: '/v1/send', headers: h, body: Buffer.from('{}'), required: [], oddContentType: false };
    let r: Got;
    try {
      r = await send(base, c);
    } catch (err) {
      assert.fail(`a 20 KB header: no HTTP response (${(err as Error).message})`);
    }
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.text}`);
    assert.deepEqual(problems(c, r, null), [], `a 20 KB header → ${r.status} ${r.text}`);
    assert.equal(await healthz(), 200);
  });

  it('slow clients (headers and half a body, then a 2 s pause) do not stop others being served', async () => {
    const body = JSON.stringify({ target: stack.target('/slow'), body: { slow: true } });
    const half = Math.floor(body.length / 2);
    const head = (len: number) =>
      `POST /v1/send HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${acct.live_key}\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\nConnection: close\r\n\r\n`;
    const { hostname, port } = new URL(base);
    const slow = Array.from({ length: 20 }, (_, i) => {
      const socket = connect(Number(port), hostname);
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (answer += d));
      const done = new Promise<string>((resolve) => {
        socket.on('close', () => resolve(answer));
        socket.on('error', () => undefined);
      });
      socket.write(head(Buffer.byteLength(body)) + body.slice(0, half));
      return { socket, done, abandon: i % 5 === 4 };
    });
    // while they dawdle, everyone else is served promptly
    const started = Date.now();
    const latencies: number[] = [];
    while (Date.now() - started < 2_000) {
      const t = Date.now();
      assert.equal(await healthz(), 200);
      const r = await stack.api('POST', '/v1/send', { key: acct.live_key, body: { target: stack.target('/meanwhile') } });
      assert.equal(r.status, 202, r.text);
      latencies.push(Date.now() - t);
      await sleep(100);
    }
    assert.ok(latencies.length >= 5, `only ${latencies.length} requests served in 2 s beside slow clients`);
    assert.ok(Math.max(...latencies) < 1_000, `a request took ${Math.max(...latencies)} ms beside slow clients`);
    for (const s of slow) {
      if (s.abandon) s.socket.destroy(); // gives up half-way
      else s.socket.write(body.slice(half)); // not end(): a half-close makes Node drop the request (httpAllowHalfOpen off)
    }
    let timer: NodeJS.Timeout | undefined;
    const answers = await Promise.race([
      Promise.all(slow.map((s) => s.done)),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 10_000))),
    ]);
    clearTimeout(timer);
    assert.ok(answers, 'slow clients got no answer within 10 s of finishing');
    slow.forEach((s, i) => {
      if (s.abandon) return;
      assert.match(answers[i]!, /^HTTP\/1\.1 202 /, `slow client ${i}: ${clip(answers[i]!)}`);
    });
    assert.equal(await healthz(), 200);
  });

  it('the process is up and its heap is back near the baseline after all of the above', async () => {
    assert.equal(await healthz(), 200);
    // let the accepted deliveries drain before counting (their bodies are in flight meanwhile)
    const deadline = Date.now() + 8_000;
    while (Date.now() < deadline) {
      const q = await stack.api('GET', '/v1/deliveries?status=queued&limit=1', { key: acct.live_key });
      if (q.status === 200 && q.body.data.length === 0) break;
      await sleep(200);
    }
    stack.receiver.reset(); // the receiver lives in this process: what it recorded is not the service's
    const heap = await settledHeap(gc);
    const growth = heap - baselineHeap;
    assert.ok(
      growth < HEAP_TOLERANCE,
      `heap grew by ${(growth / MiB).toFixed(1)} MiB (baseline ${(baselineHeap / MiB).toFixed(1)} MiB, now ${(heap / MiB).toFixed(1)} MiB)`,
    );
  });
});

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Writes `text` on a fresh connection and returns whatever comes back until close or `ms`. */
function rawExchange(base: string, text: string, ms: number): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('latin1');
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d: string) => {
      answer += d;
      if (/\r\n\r\n/.test(answer)) {
        clearTimeout(timer);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(text);
  });
}
