/**
 * /openapi.json is the exact contract (issue 14 §3, SPEC §3): every operation documents its request
 * body, its success answers and every error status it gives, with schemas; and what the API really
 * answers — in the README's and the seeds' flows and in their error cases — validates against the
 * document with Ajv. Each answer is checked twice: as sent, and as the handler produced it before
 * serialisation (a preSerialization hook), with every object schema closed
 * (`additionalProperties: false`). So a handler that returns a field the document does not list
 * fails here, instead of the field being dropped on the way out without anyone noticing.
 *
 * The API under test is built by the same buildApi as the service, on the stack's own store (whose
 * dispatcher delivers to the stack's HTTPS receiver), through the stack's DNS and address policy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildApi, type ApiOptions } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { createAddressPolicy, parseCidrList } from '../../src/net/address-policy.js';
import { createGuardedAgent } from '../../src/net/guarded-agent.js';
import { performAttempt } from '../../src/net/http-attempt.js';
import { createHostResolver, parseDnsServers } from '../../src/net/resolver.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import { freePort } from '../support/free-port.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

type Schema = Record<string, unknown>;
type Media = Record<string, { schema?: Schema }>;
interface Operation {
  requestBody?: { required?: boolean; content?: Media };
  responses?: Record<string, { description?: string; headers?: Record<string, unknown>; content?: Media }>;
  security?: unknown;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

/** `/v1/deliveries/:id` → `/v1/deliveries/{id}` */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The host the flows below send to: the domain they verify (the test DNS answers 127.0.0.1 for it). */
const HOST = 'contract.example.test';

/** The free-form values of a request: any keys. */
const FREE_FORM = new Set(['body', 'metadata', 'headers']);

/** The same schema with every object that lists its properties closed to any others. */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema as Schema)) {
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Schema).map(([n, s]) => [n, closed(s)]));
    else if (k === 'enum' || k === 'const' || k === 'required' || k === 'type') out[k] = v;
    else out[k] = closed(v);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const isObjectSchema = (s: Schema) => s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));

/** Paths of the object schemas in a request body that would let an unknown field through. */
function openObjects(schema: unknown, path: string[] = []): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  const s = schema as Schema;
  if (FREE_FORM.has(path[path.length - 1] ?? '')) return [];
  const out: string[] = [];
  if (isObjectSchema(s) && s.additionalProperties !== false) out.push(path.join('.') || '(body)');
  for (const [name, sub] of Object.entries((s.properties as Schema | undefined) ?? {})) out.push(...openObjects(sub, [...path, name]));
  for (const branch of [...((s.oneOf as unknown[]) ?? []), ...((s.anyOf as unknown[]) ?? [])]) out.push(...openObjects(branch, path));
  if (s.items) out.push(...openObjects(s.items, [...path, '[]']));
  return out;
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: any;
  text: string;
}

interface Instrumented {
  app: FastifyInstance;
  call(method: string, url: string, o?: { key?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<Answer>;
}

describe('OpenAPI contract: the document and the answers agree', () => {
  let stack: Stack;
  let acct: TestAccount;
  let key: string;
  let doc: Document;
  let api: Instrumented;
  const apps: FastifyInstance[] = [];
  const agents: Array<{ destroy(): Promise<void> }> = [];
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  ajvFormats.default(ajv);
  const validators = new Map<string, ValidateFunction>();
  /** `METHOD /path STATUS` of every answer checked. */
  const covered = new Set<string>();
  const problems: string[] = [];

  /** Ajv's errors, naming the unlisted property when that is what is wrong. */
  const errorsOf = (v: ValidateFunction) =>
    (v.errors ?? [])
      .map((e) => {
        const extra = (e.params as { additionalProperty?: string }).additionalProperty;
        return `${e.instancePath || '(root)'} ${e.message ?? ''}${extra !== undefined ? `: ${extra}` : ''}`;
      })
      .join('; ');

  function validator(id: string, schema: Schema): ValidateFunction {
    const known = validators.get(id);
    if (known) return known;
    const v = ajv.compile(closed(schema) as Schema);
    validators.set(id, v);
    return v;
  }

  /** Checks one answer against the document; `payload` is what the handler produced, if it was an object. */
  function check(method: string, route: string | undefined, res: Answer, payload: unknown, hasPayload: boolean): void {
    if (route === undefined) return; // no route matched: not an operation
    const path = openapiPath(route);
    const label = `${method} ${path} ${res.status}`;
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) return void problems.push(`${method} ${path} answered but is not in the document`);
    const documented = op.responses?.[String(res.status)];
    if (!documented) return void problems.push(`${label}: status not documented (it answered ${res.text.slice(0, 200)})`);
    covered.add(label);
    if (res.status === 429 || res.status === 503) {
      if (res.headers['retry-after'] === undefined) problems.push(`${label}: no Retry-After header`);
      if (!documented.headers?.['Retry-After']) problems.push(`${label}: Retry-After is not documented`);
    }
    const type = String(res.headers['content-type'] ?? '');
    if (!type.startsWith('application/json')) {
      const media = type.split(';')[0]!;
      if (!documented.content?.[media]) problems.push(`${label}: answered ${media}, which is not documented`);
      return;
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) return void problems.push(`${label}: no JSON schema for this answer`);
    const v = validator(label, schema);
    if (!v(res.body)) problems.push(`${label}: the answer does not match its schema: ${errorsOf(v)}\n  ${res.text.slice(0, 400)}`);
    if (hasPayload && !v(JSON.parse(JSON.stringify(payload)))) {
      problems.push(
        `${label}: the handler returned what its schema does not describe (fields the serialiser drops?): ` +
          `${errorsOf(v)}\n  ${JSON.stringify(payload).slice(0, 400)}`,
      );
    }
  }

  /** buildApi with the stack's store, DNS, address policy and a guarded agent that trusts the test CA. */
  async function instrumented(overrides: Partial<ApiDeps> = {}, options: ApiOptions = {}): Promise<Instrumented> {
    const addressPolicy = createAddressPolicy(parseCidrList(stack.env.HAREPOST_ALLOW_PRIVATE_NETWORKS));
    const resolver = createHostResolver({ servers: parseDnsServers(stack.env.HAREPOST_DNS_SERVERS) });
    const agent = createGuardedAgent({ resolver, policy: addressPolicy, connectionsPerOrigin: 8, tls: { ca: [stack.pki.caCertPem] } });
    agents.push(agent);
    const app = buildApi(
      {
        store: stack.hp.store,
        addressPolicy,
        resolver,
        allowHttpTargets: false,
        maxBodyBytes: 64 * 1024,
        rateLimitPerSecond: 100_000,
        rateLimitBurst: 100_000,
        attempt: (req) => performAttempt(agent, req),
        ...overrides,
      },
      undefined,
      options,
    );
    let seen: { route?: string; payload?: unknown; hasPayload: boolean } = { hasPayload: false };
    app.addHook('preSerialization', async (_request, _reply, payload) => {
      seen.payload = payload;
      seen.hasPayload = true;
      return payload;
    });
    app.addHook('onSend', async (request, _reply, payload) => {
      seen.route = request.routeOptions.url;
      return payload;
    });
    await app.ready();
    apps.push(app);
    return {
      app,
      async call(method, url, o = {}) {
        seen = { hasPayload: false };
        const headers: Record<string, string> = { ...o.headers };
        if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
        const inject: InjectOptions = { method: method as InjectOptions['method'], url, headers };
        if (o.raw !== undefined) {
          inject.payload = o.raw;
          headers['content-type'] ??= 'application/json';
        } else if (o.body !== undefined) inject.payload = o.body as InjectOptions['payload'];
        const r = await app.inject(inject);
        let body: unknown;
        try {
          body = r.body === '' ? undefined : JSON.parse(r.body);
        } catch {
          body = undefined;
        }
        const res: Answer = { status: r.statusCode, headers: r.headers, body, text: r.body };
        check(method, seen.route, res, seen.payload, seen.hasPayload);
        return res;
      },
    };
  }

  /** Calls the main instrumented app with the live key and asserts the status. */
  async function expect(status: number, method: string, url: string, body?: unknown, o: { headers?: Record<string, string>; key?: string; raw?: string | Buffer } = {}) {
    const r = await api.call(method, url, { key: o.key ?? key, ...(body !== undefined ? { body } : {}), ...o });
    assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
    return r;
  }

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('contract');
    key = acct.live_key;
    api = await instrumented();
    const r = await api.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    doc = r.json() as Document;
    stack.receiver.respond((req) =>
      req.path.startsWith('/reject') ? { status: 422, body: 'not this one' } : { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' },
    );
  });
  after(async () => {
    for (const app of apps) await app.close();
    for (const agent of agents) await agent.destroy().catch(() => undefined);
    await stack?.close();
  });

  it('every operation documents a success answer with its schema, and each error status it gives with the error schema', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    assert.ok(operations.length >= 35, `only ${operations.length} operations documented`);
    const missing: string[] = [];
    for (const { path, method, op } of operations) {
      const label = `${method.toUpperCase()} ${path}`;
      const responses = op.responses ?? {};
      const success = Object.entries(responses).filter(([s]) => /^2\d\d$/.test(s));
      if (success.length === 0) missing.push(`${label}: no success answer`);
      for (const [status, r] of success) {
        const media = Object.values(r.content ?? {});
        if (media.length === 0 || !media.every((m) => m.schema && Object.keys(m.schema).length > 0)) missing.push(`${label} ${status}: no schema`);
        if (r.description === 'Default Response' || !r.description) missing.push(`${label} ${status}: no description`);
      }
      const v1 = path.startsWith('/v1/');
      const errorStatuses = Object.keys(responses).filter((s) => /^[45]\d\d$/.test(s));
      if (v1) for (const s of ['401', '429', '503']) if (!errorStatuses.includes(s)) missing.push(`${label}: ${s} not documented`);
      for (const s of errorStatuses) {
        if (path === '/readyz') continue; // its 503 is {"status": "unavailable"}, a probe's answer
        const schema = responses[s]!.content?.['application/json']?.schema;
        if (!schema) {
          missing.push(`${label} ${s}: no error schema`);
          continue;
        }
        const v = ajv.compile(schema);
        const ok = v({ error: { code: 'some_code', message: 'A sentence.' } }) && v({ error: { code: 'some_code', message: 'A sentence.', field: 'a.b' } });
        const strict = !v({ error: { code: 'some_code' } }) && !v({}) && !v({ error: { code: 1, message: 'x' } });
        if (!ok || !strict) missing.push(`${label} ${s}: the schema is not the error shape {"error": {"code", "message", "field"?}}`);
      }
      if (v1 && ['post', 'patch', 'delete'].includes(method)) {
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (!body) missing.push(`${label}: no request body schema`);
        else {
          for (const open of openObjects(body)) missing.push(`${label}: request body object ${open} lets unknown fields through`);
          for (const s of ['400', '413', '415']) if (!errorStatuses.includes(s)) missing.push(`${label}: takes a body but ${s} is not documented`);
        }
      }
    }
    assert.deepEqual(missing, []);
  });

  it('the probes and /metrics answer as documented', async () => {
    await expect(200, 'GET', '/healthz');
    await expect(200, 'GET', '/readyz');
    const m = await expect(200, 'GET', '/metrics');
    assert.match(String(m.headers['content-type']), /^text\/plain/);
  });

  it('the README walkthrough: domains, send, read deliveries, replay', async () => {
    // domains (harepost-quickstart)
    const added = await expect(201, 'POST', '/v1/domains', { domain: HOST });
    await expect(200, 'POST', '/v1/domains', { domain: HOST });
    await expect(404, 'POST', '/v1/domains/verify', { domain: 'never-added.example.test' });
    const pending = await expect(200, 'POST', '/v1/domains/verify', { domain: HOST });
    assert.equal(pending.body.status, 'pending');
    stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
    const verified = await expect(200, 'POST', '/v1/domains/verify', { domain: HOST });
    assert.equal(verified.body.status, 'verified');
    await expect(200, 'GET', '/v1/domains');
    await expect(201, 'POST', '/v1/domains', { domain: 'gone.example.test' });
    await expect(200, 'DELETE', '/v1/domains/gone.example.test');
    await expect(404, 'DELETE', '/v1/domains/gone.example.test');
    await expect(400, 'DELETE', '/v1/domains/a..b');

    // send (harepost-send-reference's example), with an Idempotency-Key
    const target = stack.target('/webhook', HOST);
    const sendBody = {
      target,
      body: { event: 'order.paid', id: 'ord_123' },
      idempotency_key: 'ord_123-paid',
      delivery: { max_attempts: 8, base_delay_ms: 2000 },
      metadata: { order: 'ord_123' },
      sign: true,
    };
    const sent = await expect(202, 'POST', '/v1/send', sendBody, { headers: { 'idempotency-key': 'contract-1' } });
    const again = await expect(202, 'POST', '/v1/send', sendBody, { headers: { 'idempotency-key': 'contract-1' } });
    assert.equal(again.body.queue_id, sent.body.queue_id);
    await expect(409, 'POST', '/v1/send', { ...sendBody, body: 'other' }, { headers: { 'idempotency-key': 'contract-1' } });
    await expect(403, 'POST', '/v1/send', { target: 'https://unverified.example.test/x' });
    await expect(400, 'POST', '/v1/send', { target, delivery: { max_attemps: 3 } });
    await expect(400, 'POST', '/v1/send', undefined, { raw: '{"target": ' });
    await expect(400, 'POST', '/v1/send', undefined, { raw: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]) });
    await expect(413, 'POST', '/v1/send', { target, body: 'x'.repeat(70 * 1024) });
    const media = await expect(415, 'POST', '/v1/send', undefined, { raw: JSON.stringify({ target }), headers: { 'content-type': 'a/b/c' } });
    assert.equal(media.body.error.field, 'Content-Type');
    await expect(401, 'POST', '/v1/send', sendBody, { key: 'hp_live_not_a_key_at_all_0000000000000000' });
    const noKey = await api.call('GET', '/v1/deliveries');
    assert.equal(noKey.status, 401);

    // read it (harepost-deliveries-reference)
    const delivered = await waitFor(
      async () => {
        const r = await expect(200, 'GET', `/v1/deliveries/${sent.body.queue_id}`);
        return r.body.status === 'delivered' ? r : null;
      },
      { message: 'the send is delivered' },
    );
    assert.equal(delivered.body.attempts.length, 1);
    assert.equal(delivered.body.response_code, 200);
    await expect(200, 'GET', '/v1/deliveries?status=delivered&limit=50');
    await expect(200, 'GET', '/v1/deliveries?cursor=2026-06-10T14:22:10Z');
    await expect(400, 'GET', '/v1/deliveries?status=succeeded');
    await expect(404, 'GET', '/v1/deliveries/hr_not_there');

    // a rejection, replayed one by one and in bulk
    const rejected = await expect(202, 'POST', '/v1/send', { target: stack.target('/reject', HOST), delivery: { max_attempts: 1 } });
    await waitFor(async () => (await expect(200, 'GET', `/v1/deliveries/${rejected.body.queue_id}`)).body.status === 'rejected', {
      message: 'the send is rejected',
    });
    const replayed = await expect(202, 'POST', `/v1/deliveries/${rejected.body.queue_id}/retry`);
    assert.ok(['queued', 'retrying'].includes(replayed.body.status), replayed.text);
    await expect(409, 'POST', `/v1/deliveries/${sent.body.queue_id}/retry`);
    await expect(404, 'POST', '/v1/deliveries/hr_not_there/retry');
    await waitFor(async () => (await expect(200, 'GET', `/v1/deliveries/${rejected.body.queue_id}`)).body.status === 'rejected', {
      message: 'the replay is rejected again',
    });
    const bulk = await expect(202, 'POST', '/v1/deliveries/retry', { status: 'rejected' });
    assert.equal(bulk.body.count, 1);
    await expect(400, 'POST', '/v1/deliveries/retry', { status: 'rejected', everything: true });
  });

  it('keys and the account signing secret', async () => {
    await expect(200, 'GET', '/v1/keys');
    const made = await expect(201, 'POST', '/v1/keys', { mode: 'test' });
    await expect(403, 'POST', '/v1/keys', { mode: 'live' }, { key: acct.test_key });
    await expect(200, 'DELETE', `/v1/keys/${made.body.id}`);
    await expect(404, 'DELETE', `/v1/keys/${made.body.id}`);
    await expect(200, 'GET', '/v1/signing-secret');
    await expect(200, 'POST', '/v1/signing-secret/rotate');
    const after = await expect(200, 'GET', '/v1/signing-secret');
    assert.equal(after.body.previous_secrets_expire_at.length, 1);
  });

  it('destinations, subscriptions and events (harbor-quickstart), each operation and its errors', async () => {
    const created = await expect(201, 'POST', '/v1/destinations', {
      url: stack.target('/events', HOST),
      name: 'Quickstart receiver',
      description: 'contract',
      headers: { 'X-Tenant': 't1' },
      delivery: { max_attempts: 3 },
      rate_limit: { per_second: 50 },
      max_in_flight: 4,
      signature: { header: 'X-Sig', encoding: 'base64', prefix: 'v1=', timestamped: false },
    });
    const id = created.body.id as string;
    await expect(400, 'POST', '/v1/destinations', { url: stack.target('/x', HOST), rate_limit: { per_minute: 1 } });
    await expect(200, 'GET', '/v1/destinations');
    await expect(200, 'GET', `/v1/destinations/${id}`);
    await expect(404, 'GET', '/v1/destinations/dest_not_there');
    const patched = await expect(200, 'PATCH', `/v1/destinations/${id}`, { signature: 'harbor', rate_limit: null, enabled: true });
    assert.equal(patched.body.signature, 'harbor');
    await expect(404, 'PATCH', '/v1/destinations/dest_not_there', { name: 'x' });
    await expect(200, 'GET', `/v1/destinations/${id}/secret`);
    await expect(404, 'GET', '/v1/destinations/dest_not_there/secret');
    const tested = await expect(200, 'POST', `/v1/destinations/${id}/test`);
    assert.equal(tested.body.success, true);
    await expect(404, 'POST', '/v1/destinations/dest_not_there/test');
    await expect(200, 'POST', `/v1/destinations/${id}/rotate-secret`);
    await expect(404, 'POST', '/v1/destinations/dest_not_there/rotate-secret');

    // a destination nobody answers at: the test answer says why
    const unanswered = await expect(201, 'POST', '/v1/destinations', { url: `https://${HOST}:${await freePort()}/none` });
    const failed = await expect(200, 'POST', `/v1/destinations/${unanswered.body.id}/test`);
    assert.equal(failed.body.success, false);
    assert.equal(typeof failed.body.error, 'string');

    // subscriptions
    const sub = await expect(201, 'POST', '/v1/subscriptions', { destination_id: id, event_type: 'order.created' });
    await expect(200, 'POST', '/v1/subscriptions', { destination_id: id, event_type: 'order.created' });
    await expect(404, 'POST', '/v1/subscriptions', { destination_id: 'dest_not_there', event_type: 'order.created' });
    await expect(200, 'GET', `/v1/subscriptions?destination_id=${id}`);

    // events
    const event = { type: 'order.created', body: { order_id: 'ord_123', amount_cents: 4500 }, metadata: { source: 'contract' } };
    const published = await expect(202, 'POST', '/v1/events', event, { headers: { 'idempotency-key': 'evt-contract-1' } });
    assert.equal(published.body.deliveries.length, 1);
    await expect(409, 'POST', '/v1/events', { ...event, body: {} }, { headers: { 'idempotency-key': 'evt-contract-1' } });
    await expect(400, 'POST', '/v1/events', { type: 'order.created', data: {} });
    await waitFor(async () => (await expect(200, 'GET', `/v1/events/${published.body.id}`)).body.deliveries[0]?.status === 'delivered', {
      message: 'the event is delivered',
    });
    await expect(404, 'GET', '/v1/events/evt_not_there');
    await expect(200, 'GET', '/v1/events?limit=10');
    const list = await expect(200, 'GET', `/v1/deliveries?event_id=${published.body.id}`);
    assert.equal(list.body.data[0].destination_id, id);
    await expect(200, 'GET', `/v1/deliveries/${list.body.data[0].queue_id}`);

    await expect(200, 'DELETE', `/v1/subscriptions/${sub.body.id}`);
    await expect(404, 'DELETE', `/v1/subscriptions/${sub.body.id}`);
    await expect(200, 'DELETE', `/v1/destinations/${id}`);
    await expect(404, 'DELETE', `/v1/destinations/${id}`);
  });

  it('the posthawk webhooks view (posthawk-webhooks-reference), each operation and its errors', async () => {
    await expect(200, 'GET', '/v1/webhooks');
    const made = await expect(201, 'POST', '/v1/webhooks', {
      url: stack.target('/posthawk', HOST),
      events: ['delivery', 'bounce', 'complaint'],
      description: 'Production webhook',
    });
    assert.equal(made.body.signature, 'posthawk');
    await expect(400, 'POST', '/v1/webhooks', { url: stack.target('/x', HOST), events: ['a'], name: 'x' });
    await expect(200, 'GET', `/v1/webhooks/${made.body.id}`);
    await expect(200, 'GET', '/v1/webhooks');
    await expect(200, 'PATCH', `/v1/webhooks/${made.body.id}`, {
      events: ['delivery', 'bounce', 'complaint', 'open', 'click'],
      description: 'Updated production webhook',
    });
    await expect(200, 'POST', `/v1/webhooks/${made.body.id}/test`);
    await expect(200, 'DELETE', `/v1/webhooks/${made.body.id}`);
    await expect(404, 'GET', `/v1/webhooks/${made.body.id}`);
    await expect(404, 'PATCH', `/v1/webhooks/${made.body.id}`, { enabled: false });
    await expect(404, 'DELETE', `/v1/webhooks/${made.body.id}`);
    await expect(404, 'POST', `/v1/webhooks/${made.body.id}/test`);
  });

  it('429 and 503 answer with the error schema and Retry-After; a metrics token refusal too', async () => {
    const tight = await instrumented({ rateLimitPerSecond: 1, rateLimitBurst: 1 }, { metricsToken: 'contract-metrics-token' });
    assert.equal((await tight.call('GET', '/v1/domains', { key })).status, 200);
    const limited = await tight.call('GET', '/v1/domains', { key });
    assert.equal(limited.status, 429, limited.text);
    assert.equal((await tight.call('GET', '/metrics')).status, 401);

    const down = new Proxy(stack.hp.store, {
      get(target, prop) {
        if (prop === 'listDomains') {
          return async () => {
            throw new StoreUnavailableError('contract test: the database is down');
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const outage = await instrumented({ store: down });
    const r = await outage.call('GET', '/v1/domains', { key });
    assert.equal(r.status, 503, r.text);
  });

  it('every answer above matched the document, and every operation was exercised', () => {
    assert.deepEqual(problems, []);
    const untried: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const label = `${method.toUpperCase()} ${path}`;
        const successes = Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s));
        if (!successes.some((s) => covered.has(`${label} ${s}`))) untried.push(label);
      }
    }
    assert.deepEqual(untried, [], 'operations whose success answer no test checked');
    const statuses = new Set([...covered].map((c) => c.split(' ')[2]));
    for (const s of ['400', '401', '403', '404', '409', '413', '415', '429', '503']) assert.ok(statuses.has(s), `no ${s} answer was checked`);
  });
});
