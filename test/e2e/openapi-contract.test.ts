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
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiOptions } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { createAddressPolicy, parseCidrList } from '../../src/net/address-policy.js';
import { createGuardedAgent } from '../../src/net/guarded-agent.js';
import { performAttempt } from '../../src/net/http-attempt.js';
import { createHostResolver, parseDnsServers } from '../../src/net/resolver.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import { freePort } from '../support/free-port.js';
import { type Answer, type CheckedApp, type OpenApiDocument, checkAnswers, isErrorShape, newAjv, openObjects } from '../support/openapi-check.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** The host the flows below send to: the domain they verify (the test DNS answers 127.0.0.1 for it). */
const HOST = 'contract.example.test';

/** The free-form values of a request: any keys. */
const FREE_FORM: ReadonlySet<string> = new Set(['body', 'metadata', 'headers']);

interface Instrumented extends CheckedApp {
  app: FastifyInstance;
}

describe('OpenAPI contract: the document and the answers agree', () => {
  let stack: Stack;
  let acct: TestAccount;
  let key: string;
  let doc: OpenApiDocument;
  let api: Instrumented;
  const apps: FastifyInstance[] = [];
  const agents: Array<{ destroy(): Promise<void> }> = [];
  /** `METHOD /path STATUS` of every answer checked, by every instrumented app. */
  const covered = new Set<string>();
  const problems: string[] = [];

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
    // each answer checked against the document as sent and as the handler produced it, objects closed
    const checked = checkAnswers(app, () => doc, { retryAfterStatuses: [429, 503], retryAfterDocumented: true, otherMedia: true, covered, problems });
    await app.ready();
    apps.push(app);
    return { ...checked, app };
  }

  /** Calls the main instrumented app with the live key and asserts the status. */
  async function expect(status: number, method: string, url: string, body?: unknown, o: { headers?: Record<string, string>; key?: string; raw?: string | Buffer } = {}) {
    const { key: given, ...rest } = o;
    const r = await api.call(method, url, { token: given ?? key, ...(body !== undefined ? { body } : {}), ...rest });
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
    doc = r.json() as OpenApiDocument;
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
    const ajv = newAjv();
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
        if (!isErrorShape(ajv, schema)) missing.push(`${label} ${s}: the schema is not the error shape {"error": {"code", "message", "field"?}}`);
      }
      if (v1 && ['post', 'patch', 'delete'].includes(method)) {
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (!body) missing.push(`${label}: no request body schema`);
        else {
          for (const open of openObjects(body, [], FREE_FORM)) missing.push(`${label}: request body object ${open} lets unknown fields through`);
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
    assert.equal((await tight.call('GET', '/v1/domains', { token: key })).status, 200);
    const limited = await tight.call('GET', '/v1/domains', { token: key });
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
    const r = await outage.call('GET', '/v1/domains', { token: key });
    assert.equal(r.status, 503, r.text);
  });

  it('the limits answer as documented: 403 limit_exceeded and live_key_required, 429 backlog_full with Retry-After', async () => {
    const tight = await instrumented({ limits: { max_destinations: 1, max_keys: 1, max_domains: 1, max_pending_deliveries: 0 } });
    const codeOf = async (r: Promise<Answer>, status: number) => {
      const a = await r;
      assert.equal(a.status, status, a.text);
      return (a.body as { error: { code: string } }).error.code;
    };
    await tight.call('POST', '/v1/destinations', { token: key, body: { url: stack.target('/one') } }); // the first may fit
    assert.equal(await codeOf(tight.call('POST', '/v1/destinations', { token: key, body: { url: stack.target('/two') } }), 403), 'limit_exceeded');
    assert.equal(await codeOf(tight.call('POST', '/v1/webhooks', { token: key, body: { url: stack.target('/two'), events: ['a'] } }), 403), 'limit_exceeded');
    assert.equal(await codeOf(tight.call('POST', '/v1/keys', { token: key, body: { mode: 'test' } }), 403), 'limit_exceeded');
    assert.equal(await codeOf(tight.call('POST', '/v1/domains', { token: key, body: { domain: 'another.example.test' } }), 403), 'limit_exceeded');
    assert.equal(await codeOf(tight.call('POST', '/v1/domains', { token: acct.test_key, body: { domain: 'x.example.test' } }), 403), 'live_key_required');
    assert.equal(await codeOf(tight.call('POST', '/v1/domains/verify', { token: acct.test_key, body: { domain: HOST } }), 403), 'live_key_required');
    assert.equal(await codeOf(tight.call('DELETE', `/v1/domains/${HOST}`, { token: acct.test_key }), 403), 'live_key_required');
    assert.equal(await codeOf(tight.call('POST', '/v1/send', { token: key, body: { target: stack.target('/full', HOST) } }), 429), 'backlog_full');
    const dest = await stack.api('POST', '/v1/destinations', { key: acct.test_key, body: { url: stack.target('/ev'), events: ['limit.*'] } });
    assert.equal(dest.status, 201, dest.text); // through the service itself: its own limits are the defaults
    assert.equal(await codeOf(tight.call('POST', '/v1/events', { token: acct.test_key, body: { type: 'limit.hit' } }), 429), 'backlog_full');
    // a replay is held to the same limit, one delivery or in bulk
    const rejected = await waitFor(
      async () => ((await stack.api('GET', '/v1/deliveries?status=rejected', { key })).body.data[0]?.queue_id as string | undefined) ?? null,
      { message: 'a rejected delivery to replay' },
    );
    assert.equal(await codeOf(tight.call('POST', `/v1/deliveries/${rejected}/retry`, { token: key }), 429), 'backlog_full');
    assert.equal(await codeOf(tight.call('POST', '/v1/deliveries/retry', { token: key, body: { status: 'rejected' } }), 429), 'backlog_full');
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
