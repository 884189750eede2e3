/**
 * The operator API in /openapi.json (issue 15 item 1): under its own tag "admin" and its own
 * security scheme (the admin token), with the same guarantee as /v1 (openapi-contract.test.ts):
 * every operation documents its request body (unknown fields refused), its success answers and
 * each error it gives with the error schema — and every answer, success and error, of every
 * operation is checked against the document as sent and as the handler produced it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { AccountEraser } from '../../src/api/admin/account-eraser.js';
import { buildApi } from '../../src/api/app.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { createHostResolver } from '../../src/net/resolver.js';
import { StoreUnavailableError, type Store } from '../../src/store/store.js';
import { type CheckedApp, type OpenApiDocument, checkAnswers, isErrorShape, newAjv, openObjects } from '../support/openapi-check.js';
import { startStack, type Stack } from '../support/stack.js';

const TOKEN = 'openapi-admin-token-0123456789';

describe('OpenAPI: the operator API is documented and answers as documented', () => {
  let stack: Stack;
  let doc: OpenApiDocument;
  let api: CheckedApp;
  const apps: FastifyInstance[] = [];
  /** An eraser that never runs: accounts stay "erasing", so the 409s can be seen. */
  const idle = { eraser: null as AccountEraser | null };

  async function instrumented(store: Store): Promise<CheckedApp> {
    const app = buildApi(
      {
        store,
        addressPolicy: createAddressPolicy(),
        resolver: createHostResolver(),
        allowHttpTargets: false,
        maxBodyBytes: 64 * 1024,
        rateLimitPerSecond: 100_000,
        rateLimitBurst: 100_000,
        attempt: () => Promise.reject(new Error('this app attempts nothing')),
      },
      undefined,
      { admin: { store, token: TOKEN, limitDefaults: DEFAULT_LIMITS, publicUrl: () => 'https://hooks.example.test', eraser: idle.eraser! } },
    );
    const checked = checkAnswers(app, () => doc);
    await app.ready();
    apps.push(app);
    return checked;
  }

  /** Calls the main instrumented app with the admin token and asserts the status. */
  async function expect(status: number, method: string, url: string, body?: unknown, o: { token?: string; raw?: string; headers?: Record<string, string> } = {}) {
    const r = await api.call(method, url, { token: TOKEN, ...(body !== undefined ? { body } : {}), ...o });
    assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
    return r;
  }

  before(async () => {
    stack = await startStack();
    idle.eraser = new AccountEraser({ store: stack.hp.store });
    await idle.eraser.stop();
    api = await instrumented(stack.hp.store);
    const r = await apps[0]!.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    doc = r.json() as OpenApiDocument;
  });
  after(async () => {
    for (const app of apps) await app.close();
    await stack?.close();
  });

  it('documents every /admin/v1 operation under "admin", with the admin token as its only security, its answers and errors', () => {
    const ajv = newAjv();
    assert.deepEqual(doc.components?.securitySchemes?.adminToken, {
      type: 'http',
      scheme: 'bearer',
      description: 'Authorization: Bearer <HAREPOST_ADMIN_TOKEN> (the operator API only)',
    });
    const admin = Object.entries(doc.paths).filter(([path]) => path.startsWith('/admin/'));
    const operations = admin.flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    assert.deepEqual(
      operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort(),
      [
        'DELETE /admin/v1/accounts/{id}',
        'DELETE /admin/v1/keys/{id}',
        'GET /admin/v1/accounts',
        'GET /admin/v1/accounts/{id}',
        'PATCH /admin/v1/accounts/{id}',
        'POST /admin/v1/accounts',
        'POST /admin/v1/accounts/{id}/keys',
        'POST /admin/v1/accounts/{id}/login-links',
      ],
    );
    const missing: string[] = [];
    for (const { path, method, op } of operations) {
      const label = `${method.toUpperCase()} ${path}`;
      if (JSON.stringify(op.tags) !== '["admin"]') missing.push(`${label}: tags ${JSON.stringify(op.tags)}`);
      if (JSON.stringify(op.security) !== '[{"adminToken":[]}]') missing.push(`${label}: security ${JSON.stringify(op.security)}`);
      const responses = op.responses ?? {};
      const success = Object.entries(responses).filter(([s]) => /^2\d\d$/.test(s));
      if (success.length === 0) missing.push(`${label}: no success answer`);
      for (const [status, r] of success) {
        if (!r.content?.['application/json']?.schema) missing.push(`${label} ${status}: no schema`);
        if (!r.description || r.description === 'Default Response') missing.push(`${label} ${status}: no description`);
      }
      const errors = Object.keys(responses).filter((s) => /^[45]\d\d$/.test(s));
      for (const s of ['401', '503']) if (!errors.includes(s)) missing.push(`${label}: ${s} not documented`);
      if (errors.includes('429')) missing.push(`${label}: 429 documented, but the operator API has no rate limit`);
      for (const s of errors) {
        const schema = responses[s]!.content?.['application/json']?.schema;
        if (!schema || !isErrorShape(ajv, schema)) missing.push(`${label} ${s}: not the error shape`);
      }
      if (['post', 'patch', 'delete'].includes(method)) {
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (!body) missing.push(`${label}: no request body schema`);
        else for (const open of openObjects(body)) missing.push(`${label}: request body object ${open} lets unknown fields through`);
        for (const s of ['400', '413', '415']) if (!errors.includes(s)) missing.push(`${label}: takes a body but ${s} is not documented`);
      }
    }
    assert.deepEqual(missing, []);
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path.startsWith('/admin/')) continue;
      for (const op of Object.values(ops)) assert.ok(!JSON.stringify(op.security ?? []).includes('adminToken'), `${path} takes the admin token`);
    }
  });

  it('every operation, its answers and its errors, as documented', async () => {
    const made = await expect(201, 'POST', '/admin/v1/accounts', { name: 'Contract', limits: { max_keys: 9 } });
    const id = made.body.id as string;
    await expect(400, 'POST', '/admin/v1/accounts', { name: 'x', limit: {} });
    await expect(401, 'POST', '/admin/v1/accounts', { name: 'x' }, { token: 'not-it' });
    await expect(413, 'POST', '/admin/v1/accounts', { name: 'x'.repeat(70 * 1024) });
    await expect(415, 'POST', '/admin/v1/accounts', undefined, { raw: '{"name":"x"}', headers: { 'content-type': 'a/b/c' } });

    await expect(201, 'POST', '/admin/v1/accounts', { name: 'Second' });
    const page = await expect(200, 'GET', '/admin/v1/accounts?limit=1');
    assert.equal(page.body.data.length, 1);
    assert.equal(typeof page.body.next_cursor, 'string');
    await expect(200, 'GET', `/admin/v1/accounts?limit=1&cursor=${page.body.next_cursor}`);
    await expect(400, 'GET', '/admin/v1/accounts?cursor=zzz');
    await expect(401, 'GET', '/admin/v1/accounts', undefined, { token: 'not-it' });

    const shown = await expect(200, 'GET', `/admin/v1/accounts/${id}`);
    assert.equal(shown.body.usage.keys, 2);
    await expect(404, 'GET', '/admin/v1/accounts/acct_not_there');

    await expect(200, 'PATCH', `/admin/v1/accounts/${id}`, { name: 'Renamed', suspended: true, limits: { max_keys: null } });
    await expect(409, 'POST', `/admin/v1/accounts/${id}/login-links`, { mode: 'live' });
    await expect(200, 'PATCH', `/admin/v1/accounts/${id}`, { suspended: false });
    await expect(400, 'PATCH', `/admin/v1/accounts/${id}`, { suspended: 'yes' });
    await expect(404, 'PATCH', '/admin/v1/accounts/acct_not_there', {});

    const key = await expect(201, 'POST', `/admin/v1/accounts/${id}/keys`, { mode: 'test' });
    await expect(404, 'POST', '/admin/v1/accounts/acct_not_there/keys', null);
    await expect(200, 'DELETE', `/admin/v1/keys/${key.body.id}`);
    await expect(404, 'DELETE', `/admin/v1/keys/${key.body.id}`);

    const link = await expect(201, 'POST', `/admin/v1/accounts/${id}/login-links`, { mode: 'test' });
    assert.match(link.body.url, /^https:\/\/hooks\.example\.test\/dashboard\/login\?token=/);
    await expect(404, 'POST', '/admin/v1/accounts/acct_not_there/login-links', {});

    await expect(202, 'DELETE', `/admin/v1/accounts/${id}`);
    await expect(202, 'DELETE', `/admin/v1/accounts/${id}`, {});
    const erasing = await expect(200, 'GET', `/admin/v1/accounts/${id}`);
    assert.equal(erasing.body.erasing, true);
    assert.equal(erasing.body.suspended, true);
    assert.equal(erasing.body.usage.keys, 0, 'its keys went first');
    const conflict = await expect(409, 'PATCH', `/admin/v1/accounts/${id}`, { suspended: false });
    assert.equal(conflict.body.error.code, 'account_erasing');
    await expect(409, 'POST', `/admin/v1/accounts/${id}/keys`, {});
    await expect(404, 'DELETE', '/admin/v1/accounts/acct_not_there');

    // the database unreachable: 503 with Retry-After, in the error shape
    const down = new Proxy(stack.hp.store, {
      get(target, prop) {
        if (prop === 'getAccount' || prop === 'listAccounts') {
          return async () => {
            throw new StoreUnavailableError('admin contract test: the database is down');
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Store;
    const outage = await instrumented(down);
    const r = await outage.call('GET', `/admin/v1/accounts/${id}`, { token: TOKEN });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers['retry-after'], '1');
    assert.deepEqual(outage.problems, []);
    for (const c of outage.covered) api.covered.add(c);
  });

  it('every answer above matched the document, and every operation was exercised', () => {
    assert.deepEqual(api.problems, []);
    const untried: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/admin/')) continue;
      for (const [method, op] of Object.entries(ops)) {
        const label = `${method.toUpperCase()} ${path}`;
        const successes = Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s));
        if (!successes.some((s) => api.covered.has(`${label} ${s}`))) untried.push(label);
      }
    }
    assert.deepEqual(untried, [], 'operations whose success answer no test checked');
    const statuses = new Set([...api.covered].map((c) => c.split(' ')[2]));
    for (const s of ['200', '201', '202', '400', '401', '404', '409', '413', '415', '503']) assert.ok(statuses.has(s), `no ${s} answer was checked`);
  });
});
