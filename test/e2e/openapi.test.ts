/**
 * The API reference: GET /openapi.json is an OpenAPI 3 document generated from the route schemas
 * that validate requests, listing every /v1 route the app registers (the list comes from the app,
 * not from this file), with both ways of sending a key; /docs is a browsable reference whose
 * assets all come from Harepost itself. Neither needs a key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildApi } from '../../src/api/app.js';
import { sendBodySchema } from '../../src/api/routes/send.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { createHostResolver } from '../../src/net/resolver.js';
import { startStack, type Stack } from '../support/stack.js';

type Operation = {
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { content: Record<string, { schema: { required?: string[]; properties?: Record<string, unknown> } }> };
  security?: Array<Record<string, string[]>>;
  summary?: string;
  tags?: string[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, string>> };
};

/** `/v1/deliveries/:id` → `/v1/deliveries/{id}` */
const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI reference', () => {
  let stack: Stack;
  let doc: Document;
  /** A second app built by the same buildApi, to learn from Fastify itself which routes it registers. */
  let app: FastifyInstance;
  const registered: Array<{ method: string; url: string }> = [];

  before(async () => {
    stack = await startStack();
    const r = await stack.api('GET', '/openapi.json'); // no key
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    doc = r.body as Document;

    app = buildApi({
      store: stack.hp.store,
      addressPolicy: createAddressPolicy(),
      resolver: createHostResolver(),
      allowHttpTargets: false,
      maxBodyBytes: 1024 * 1024,
      rateLimitPerSecond: 100,
      rateLimitBurst: 100,
      attempt: () => Promise.reject(new Error('this app never attempts anything')),
    });
    app.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) registered.push({ method, url: route.url! });
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await stack.close();
  });

  it('is an OpenAPI 3 document with the bearer and X-API-Key security schemes', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: 'Authorization: Bearer <API key>',
    });
    assert.equal(doc.components.securitySchemes.apiKeyHeader?.type, 'apiKey');
    assert.equal(doc.components.securitySchemes.apiKeyHeader?.in, 'header');
    assert.equal(doc.components.securitySchemes.apiKeyHeader?.name, 'X-API-Key');
  });

  it('lists every /v1 route the app registers, with its method, path parameters and key requirement', async () => {
    const v1 = registered.filter((r) => r.url.startsWith('/v1/') && r.method !== 'HEAD');
    assert.ok(v1.length >= 30, `only ${v1.length} /v1 routes seen: the onRoute hook missed them`);
    const missing: string[] = [];
    for (const { method, url } of v1) {
      const op = doc.paths[openapiPath(url)]?.[method.toLowerCase()];
      if (!op) {
        missing.push(`${method} ${url}`);
        continue;
      }
      assert.deepEqual(op.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], `${method} ${url} security`);
      assert.ok(op.tags && op.tags.length > 0, `${method} ${url} has no tag`);
      for (const [, name] of url.matchAll(/:([A-Za-z0-9_]+)/g)) {
        const p = op.parameters?.find((x) => x.in === 'path' && x.name === name);
        assert.ok(p?.required, `${method} ${url} does not document its path parameter ${name}`);
      }
    }
    assert.deepEqual(missing, [], 'routes missing from /openapi.json');
    // and the document lists nothing the app does not serve
    const served = new Set(registered.map((r) => `${r.method.toLowerCase()} ${openapiPath(r.url)}`));
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) assert.ok(served.has(`${method} ${path}`), `documented but not served: ${method} ${path}`);
    }
    // the running server and a freshly built app describe the same API
    const fresh = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
    assert.deepEqual(Object.keys(fresh.paths).sort(), Object.keys(doc.paths).sort());
  });

  it('POST /v1/send: its request body is the schema that validates sends, target required', async () => {
    const op = doc.paths['/v1/send']?.post;
    assert.ok(op, 'POST /v1/send is not documented');
    assert.ok(op.summary);
    const schema = op.requestBody?.content['application/json']?.schema;
    assert.ok(schema, 'no JSON request body');
    assert.ok(schema.required?.includes('target'), 'target is not required');
    assert.deepEqual(Object.keys(schema.properties ?? {}).sort(), Object.keys(sendBodySchema.properties).sort());
    // the very schema the document shows is the one requests are held to
    const r = await stack.api('POST', '/v1/send', { key: (await stack.createAccount()).live_key, body: { body: 'x' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.field, 'target');
  });

  it('the probes and /metrics are documented without a key requirement', () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const op = doc.paths[path]?.get;
      assert.ok(op, `${path} is not documented`);
      assert.equal(op.security, undefined, `${path} should need no API key`);
    }
  });

  it('/docs is a browsable HTML reference, without a key, whose assets load from the same server', async () => {
    const page = await stack.api('GET', '/docs');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.some((u) => u.endsWith('.js')) && refs.some((u) => u.endsWith('.css')), refs.join(' '));
    for (const ref of refs) {
      assert.ok(ref.startsWith('/') && !ref.startsWith('//'), `asset not on this server: ${ref}`);
      const asset = await stack.api('GET', ref);
      assert.equal(asset.status, 200, `${ref} → ${asset.status}`);
      assert.ok(asset.text.length > 0, `${ref} is empty`);
      if (ref.endsWith('.js')) assert.match(String(asset.headers['content-type']), /javascript/);
    }
    // the page loads the document from this server, and nothing from elsewhere
    const init = await stack.api('GET', '/docs/static/swagger-initializer.js');
    assert.match(init.text, /resolveUrl\('\.\/json'\)/);
    const code = init.text.replace(/^\s*\/\/.*$/gm, ''); // a comment there links to a Q&A page
    assert.doesNotMatch(page.text + code, /https?:\/\//);
    const json = await stack.api('GET', '/docs/json');
    assert.equal(json.status, 200);
    assert.deepEqual(Object.keys(json.body.paths).sort(), Object.keys(doc.paths).sort());
  });
});
