/**
 * POST /v1/send: what the target actually receives (harepost-send-reference "Headers Harepost
 * adds", SPEC §4 headers/body rules, SPEC §5 attempt headers). Every request here is really
 * delivered by the dispatcher to the loopback HTTPS receiver.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RecordedRequest } from '../support/receiver.js';
import { startStack, type Stack, type TestAccount } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('POST /v1/send → what the receiver sees', () => {
  let stack: Stack;
  let acct: TestAccount;
  let seq = 0;

  before(async () => {
    stack = await startStack();
    acct = await stack.createAccount('forwarding');
    await stack.verifyDomain(acct.live_key, 'hooks.example.test');
  });

  after(async () => {
    await stack?.close();
  });

  /** A path no other test uses, so each test finds its own request whatever the ordering. */
  const uniquePath = (label: string) => `/fwd/${label}/${++seq}`;

  /**
   * Sends `payload` (target defaults to a unique path on hooks.example.test), expects 202, and
   * waits for the receiver to record the request for that path. On timeout the error says what
   * the delivery record shows.
   */
  async function deliver(
    payload: Record<string, unknown>,
    label: string,
  ): Promise<{ queueId: string; req: RecordedRequest; path: string }> {
    const path = uniquePath(label);
    const body = { target: stack.target(path), delivery: { max_attempts: 1 }, ...payload };
    const res = await stack.api('POST', '/v1/send', { key: acct.live_key, body });
    assert.equal(res.status, 202, `send ${label}: ${res.status} ${res.text}`);
    const queueId: string = res.body.queue_id;
    const wantPath = typeof payload.target === 'string' ? new URL(payload.target).pathname : path;
    try {
      const req = await waitFor(() => stack.receiver.requests.find((r) => r.path.split('?')[0] === wantPath), {
        timeoutMs: 8000,
        message: `request for ${wantPath}`,
      });
      return { queueId, req, path };
    } catch (err) {
      const d = await stack.api('GET', `/v1/deliveries/${queueId}`, { key: acct.live_key });
      throw new Error(
        `${label}: the receiver never got ${wantPath}; delivery ${queueId} is ${d.body?.status} ` +
          `with attempts ${JSON.stringify(d.body?.attempts)}`,
        { cause: err },
      );
    }
  }

  describe('caller headers', () => {
    it('forwards ordinary caller headers with their values', async () => {
      const { req } = await deliver(
        {
          body: 'plain',
          headers: { 'X-Custom': '1', 'Content-Type': 'text/plain', 'X-Spaces': 'a b  c', 'x-lower': 'Mixed Value' },
        },
        'custom',
      );
      assert.equal(req.headers['x-custom'], '1');
      assert.equal(req.headers['content-type'], 'text/plain');
      assert.equal(req.headers['x-spaces'], 'a b  c');
      assert.equal(req.headers['x-lower'], 'Mixed Value');
      assert.equal(req.body.toString('utf8'), 'plain');
    });

    const stripped: Array<[string, string]> = [
      ['HoSt', 'evil.attacker.invalid'],
      ['Content-LENGTH', '999'],
      ['CONNECTION', 'close'],
      ['Transfer-Encoding', 'chunked'],
      ['Keep-Alive', 'timeout=99'],
      ['UpGrade', 'websocket'],
      ['EXPECT', '100-continue'],
      ['Authorization', 'Bearer caller-secret-token'],
      ['tE', 'trailers'],
      ['Trailer', 'X-Trailing'],
      ['user-AGENT', 'CallerAgent/9.9'],
      ['Proxy-Authorization', 'Basic Y2FsbGVyOnNlY3JldA=='],
      ['X-Harepost-Anything', 'forged-anything'],
      ['Webhook-Id', 'msg_forged'],
      ['WEBHOOK-Signature', 'v1,Zm9yZ2Vk'],
    ];
    for (const [name, value] of stripped) {
      it(`does not forward the caller's ${name}`, async () => {
        const { req, path } = await deliver({ body: 'hello', headers: { [name]: value, 'X-Marker': name } }, `strip-${name}`);
        const lower = name.toLowerCase();
        assert.equal(req.headers['x-marker'], name, 'the request seen is the one sent');
        assert.notEqual(req.headers[lower], value, `${lower} was forwarded with the caller's value`);
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          if (req.rawHeaders[i]!.toLowerCase() === lower) {
            assert.ok(!req.rawHeaders[i + 1]!.includes(value), `${lower}: ${req.rawHeaders[i + 1]} carries the caller's value`);
          }
        }
        // Whatever stays must be what Harepost / the network sets, exactly.
        switch (lower) {
          case 'host':
            assert.equal(req.headers.host, `hooks.example.test:${stack.receiver.port}`);
            break;
          case 'content-length':
            assert.equal(req.headers['content-length'], '5');
            break;
          case 'user-agent':
            assert.equal(req.headers['user-agent'], 'Harepost/1.0');
            break;
          case 'transfer-encoding':
            assert.equal(req.headers['transfer-encoding'], undefined);
            break;
          case 'connection':
            break; // the client's own connection management may send one; just not the caller's
          default:
            assert.equal(req.headers[lower], undefined, `${lower} should be absent`);
        }
        assert.equal(req.path, path);
        assert.equal(req.body.toString('utf8'), 'hello');
      });
    }

    it('does not let the caller forge X-Harepost-Queue-Id / X-Harepost-Attempt / X-Harepost-Idempotency-Key', async () => {
      const { req, queueId } = await deliver(
        {
          headers: {
            'x-harepost-queue-id': 'hr_forged',
            'X-HAREPOST-ATTEMPT': '99',
            'X-Harepost-Idempotency-Key': 'forged-key',
          },
        },
        'forge-own',
      );
      assert.equal(req.headers['x-harepost-queue-id'], queueId);
      assert.equal(req.headers['x-harepost-attempt'], '1');
      assert.equal(req.headers['x-harepost-idempotency-key'], undefined);
    });
  });

  describe("Harepost's own headers", () => {
    it('sets User-Agent, X-Harepost-Queue-Id and X-Harepost-Attempt, and no idempotency header without a key', async () => {
      const { req, queueId } = await deliver({ body: { a: 1 } }, 'own');
      assert.equal(req.headers['user-agent'], 'Harepost/1.0');
      assert.equal(req.headers['x-harepost-queue-id'], queueId);
      assert.equal(req.headers['x-harepost-attempt'], '1');
      assert.equal(req.headers['x-harepost-idempotency-key'], undefined);
      assert.equal(req.headers['webhook-signature'], undefined, 'not signed without sign: true');
    });

    it('sets X-Harepost-Idempotency-Key when idempotency_key is given', async () => {
      const { req, queueId } = await deliver({ body: 'x', idempotency_key: 'ord_123-paid' }, 'idem');
      assert.equal(req.headers['x-harepost-idempotency-key'], 'ord_123-paid');
      assert.equal(req.headers['x-harepost-queue-id'], queueId);
    });

    it('records the delivery as delivered with one attempt', async () => {
      const { queueId } = await deliver({ body: 'x' }, 'recorded');
      const d = await waitFor(async () => {
        const r = await stack.api('GET', `/v1/deliveries/${queueId}`, { key: acct.live_key });
        return r.body?.status === 'delivered' ? r : undefined;
      }, { message: 'delivery to become delivered' });
      assert.equal(d.body.attempts.length, 1);
      assert.equal(d.body.attempts[0].attempt, 1);
      assert.equal(d.body.attempts[0].outcome, 'delivered');
      assert.equal(d.body.attempts[0].http_status, 200);
      assert.equal(d.body.last_status, 200);
    });
  });

  describe('body encoding', () => {
    it('sends a string body byte-for-byte with no Content-Type added', async () => {
      const text = 'héllo wörld ✓ 日本語 😀\n{"not":"parsed"}  \t trailing';
      const { req } = await deliver({ body: text }, 'string');
      assert.deepEqual(req.body, Buffer.from(text, 'utf8'));
      assert.equal(req.headers['content-type'], undefined);
      assert.equal(req.headers['content-length'], String(Buffer.byteLength(text, 'utf8')));
    });

    it('sends a JSON-looking string as that exact string (not re-encoded, no Content-Type)', async () => {
      const text = '{"b": 2,   "a": [1, 2]}';
      const { req } = await deliver({ body: text }, 'jsonstring');
      assert.equal(req.body.toString('utf8'), text);
      assert.equal(req.headers['content-type'], undefined);
    });

    it('sends an empty string body as an empty body', async () => {
      const { req } = await deliver({ body: '' }, 'emptystring');
      assert.equal(req.body.length, 0);
      assert.equal(req.headers['content-type'], undefined);
    });

    it('JSON-encodes an object body and sets Content-Type: application/json', async () => {
      const obj = { event: 'order.paid', id: 'ord_123', nested: { n: 1.5, ok: true, none: null }, s: 'ü' };
      const { req } = await deliver({ body: obj }, 'object');
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), obj);
      assert.equal(req.headers['content-type'], 'application/json');
    });

    it('JSON-encodes an array body and sets Content-Type: application/json', async () => {
      const arr = [1, 'two', { three: 3 }, [4]];
      const { req } = await deliver({ body: arr }, 'array');
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), arr);
      assert.equal(req.headers['content-type'], 'application/json');
    });

    it("keeps the caller's Content-Type on an object body", async () => {
      const { req } = await deliver(
        { body: { x: 1 }, headers: { 'content-TYPE': 'application/vnd.x+json' } },
        'vnd',
      );
      assert.equal(req.headers['content-type'], 'application/vnd.x+json');
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), { x: 1 });
      const ct = req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === 'content-type');
      assert.equal(ct.length, 1, 'exactly one Content-Type header');
    });

    it('sends no body for body: null', async () => {
      const { req } = await deliver({ body: null }, 'null');
      assert.equal(req.body.length, 0);
      assert.equal(req.headers['content-type'], undefined);
    });

    it('sends no body when body is absent', async () => {
      const { req } = await deliver({}, 'absent');
      assert.equal(req.method, 'POST');
      assert.equal(req.body.length, 0);
      assert.equal(req.headers['content-type'], undefined);
    });

    it('sends no body (and no Content-Type) for GET even when one is given', async () => {
      const { req } = await deliver({ method: 'GET', body: { ignored: true } }, 'getbody');
      assert.equal(req.method, 'GET');
      assert.equal(req.body.length, 0);
      assert.equal(req.headers['content-type'], undefined);
    });

    it('sends no string body for GET either', async () => {
      const { req } = await deliver({ method: 'GET', body: 'ignored text' }, 'getstring');
      assert.equal(req.method, 'GET');
      assert.equal(req.body.length, 0);
    });
  });

  describe('method, path and query', () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'GET', 'POST'] as const) {
      it(`delivers with method ${method}`, async () => {
        const withBody = method !== 'GET';
        const { req } = await deliver({ method, ...(withBody ? { body: `payload for ${method}` } : {}) }, `m-${method}`);
        assert.equal(req.method, method);
        if (withBody) assert.equal(req.body.toString('utf8'), `payload for ${method}`);
      });
    }

    it('delivers POST by default', async () => {
      const { req } = await deliver({ body: 'default' }, 'default-method');
      assert.equal(req.method, 'POST');
    });

    it('keeps the path and query string of the target intact', async () => {
      const path = `/fwd/query/${++seq}/a%20b/c.json`;
      const query = '?x=1&y=%2F&z=&list=a,b&x=2';
      const { req } = await deliver({ target: stack.target(path + query), body: 'q' }, 'query');
      assert.equal(req.path, path + query);
    });

    it('does not send the fragment of the target', async () => {
      const path = `/fwd/fragment/${++seq}`;
      const { req } = await deliver({ target: stack.target(`${path}?q=1#section-2`), body: 'f' }, 'fragment');
      assert.equal(req.path, `${path}?q=1`);
    });
  });

  describe('metadata', () => {
    it('is never sent to the target but is returned by GET /v1/deliveries/{id}', async () => {
      const marker = 'meta-marker-5f1c2e';
      const metadata = { customer: marker, note: { [`${marker}-key`]: [1, 2, 3] } };
      const { req, queueId } = await deliver({ body: { hello: 'world' }, metadata }, 'metadata');
      const seen = [req.path, ...req.rawHeaders, req.body.toString('utf8')].join('\n').toLowerCase();
      assert.equal(seen.includes(marker), false, `metadata leaked into the request: ${seen}`);
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), { hello: 'world' });
      const d = await stack.api('GET', `/v1/deliveries/${queueId}`, { key: acct.live_key });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(d.body.metadata, metadata);
    });
  });
});
