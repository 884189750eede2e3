/**
 * Sending domains (SPEC §9, harepost-quickstart step 2): add, normalise, verify through a real
 * DNS TXT lookup against the test DNS server, list, delete, and tenancy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type ApiResponse, type Stack, type TestAccount } from '../support/stack.js';

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;
const VERIFY_VALUE = /^harepost-verify=[A-Za-z0-9_-]{16,}$/;

function assertError(res: ApiResponse, status: number, field: string | undefined, what: string): void {
  const ctx = `${what}: got ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.equal(typeof res.body?.error, 'object', ctx);
  assert.match(res.body.error.code, SNAKE, ctx);
  assert.equal(typeof res.body.error.message, 'string', ctx);
  assert.notEqual(res.body.error.message.trim(), '', ctx);
  if (field !== undefined) assert.equal(res.body.error.field, field, ctx);
}

function assertPending(res: ApiResponse, status: number, domain: string): void {
  const ctx = `${domain}: got ${res.status} ${res.text}`;
  assert.equal(res.status, status, ctx);
  assert.equal(res.body.domain, domain, ctx);
  assert.equal(res.body.status, 'pending', ctx);
  assert.equal(res.body.record.type, 'TXT', ctx);
  assert.equal(res.body.record.name, `_harepost-challenge.${domain}`, ctx);
  assert.match(res.body.record.value, VERIFY_VALUE, ctx);
  assert.deepEqual(Object.keys(res.body.record).sort(), ['name', 'type', 'value'], ctx);
  assert.match(res.body.created_at, ISO, ctx);
}

describe('/v1/domains', () => {
  let stack: Stack;
  let acme: TestAccount;
  let rival: TestAccount;

  const add = (domain: unknown, key = acme.live_key) => stack.api('POST', '/v1/domains', { key, body: { domain } });
  const verify = (domain: unknown, key = acme.live_key) =>
    stack.api('POST', '/v1/domains/verify', { key, body: { domain } });
  const list = (key = acme.live_key) => stack.api('GET', '/v1/domains', { key });
  const remove = (domain: string, key = acme.live_key) =>
    stack.api('DELETE', `/v1/domains/${encodeURIComponent(domain)}`, { key });

  before(async () => {
    stack = await startStack();
    acme = await stack.createAccount('acme');
    rival = await stack.createAccount('rival');
  });

  after(async () => {
    await stack?.close();
  });

  describe('POST /v1/domains', () => {
    it('answers 201 with a pending TXT challenge for a new domain', async () => {
      const res = await add('your-app.example.test');
      assertPending(res, 201, 'your-app.example.test');
    });

    it('answers 200 with the same record when the domain is added again', async () => {
      const first = await add('again.example.test');
      assertPending(first, 201, 'again.example.test');
      const second = await add('again.example.test');
      assertPending(second, 200, 'again.example.test');
      assert.deepEqual(second.body.record, first.body.record);
      assert.equal(second.body.created_at, first.body.created_at);
    });

    it('gives different domains different tokens', async () => {
      const a = await add('token-a.example.test');
      const b = await add('token-b.example.test');
      assert.notEqual(a.body.record.value, b.body.record.value);
    });

    it('normalises case and a trailing dot (Shop.Example.TEST. → shop.example.test)', async () => {
      const res = await add('Shop.Example.TEST.');
      assertPending(res, 201, 'shop.example.test');
      const again = await add('shop.example.test');
      assertPending(again, 200, 'shop.example.test');
      assert.deepEqual(again.body.record, res.body.record);
    });

    it('converts an IDN to punycode (bücher.example.test → xn--bcher-kva.example.test)', async () => {
      const res = await add('bücher.example.test');
      assertPending(res, 201, 'xn--bcher-kva.example.test');
      const again = await add('xn--bcher-kva.example.test');
      assertPending(again, 200, 'xn--bcher-kva.example.test');
    });

    const refused: Array<[string, unknown]> = [
      ['an IPv4 address', '192.0.2.10'],
      ['a loopback IPv4 address', '127.0.0.1'],
      ['an IPv6 address', '2001:db8::1'],
      ['a bracketed IPv6 address', '[::1]'],
      ['a single label', 'localhost'],
      ['a single label with a trailing dot', 'intranet.'],
      ['an empty string', ''],
      ['only spaces', '   '],
      ['a number', 42],
      ['null', null],
      ['an object', { name: 'example.test' }],
      ['a URL', 'https://example.test/path'],
      ['a space inside a label', 'bad domain.example.test'],
      ['an empty label', 'a..example.test'],
    ];
    for (const [name, domain] of refused) {
      it(`answers 400 with field "domain" for ${name}`, async () => {
        const res = await add(domain);
        assertError(res, 400, 'domain', `add ${JSON.stringify(domain)}`);
      });
    }

    it('answers 400 with field "domain" when domain is missing', async () => {
      const res = await stack.api('POST', '/v1/domains', { key: acme.live_key, body: {} });
      assertError(res, 400, 'domain', 'missing domain');
    });

    it('answers 401 without a key', async () => {
      const res = await stack.api('POST', '/v1/domains', { body: { domain: 'nokey.example.test' } });
      assertError(res, 401, undefined, 'no key');
    });
  });

  describe('POST /v1/domains/verify', () => {
    it('stays pending before the TXT record exists, then verifies once it is published', async () => {
      const domain = 'verify-me.example.test';
      const added = await add(domain);
      assertPending(added, 201, domain);
      const challenge = `_harepost-challenge.${domain}`;

      const queriesBefore = stack.dns.queries.length;
      const early = await verify(domain);
      assertPending(early, 200, domain);
      assert.deepEqual(early.body.record, added.body.record);
      assert.ok(
        stack.dns.queries.slice(queriesBefore).some((q) => q.name === challenge && q.type === 'TXT'),
        `no TXT query for ${challenge} reached the test DNS server: ${JSON.stringify(stack.dns.queries.slice(queriesBefore))}`,
      );

      stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
      const queriesMid = stack.dns.queries.length;
      const res = await verify(domain);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.domain, domain);
      assert.equal(res.body.status, 'verified');
      assert.deepEqual(res.body.record, added.body.record);
      assert.ok(
        stack.dns.queries.slice(queriesMid).some((q) => q.name === challenge && q.type === 'TXT'),
        'the verifying lookup went to the test DNS server',
      );

      const listed = await list();
      const row = listed.body.data.find((d: { domain: string }) => d.domain === domain);
      assert.equal(row?.status, 'verified');

      // Verified now means a send to it is accepted.
      const send = await stack.api('POST', '/v1/send', {
        key: acme.live_key,
        body: { target: stack.target('/after-verify', domain), delivery: { max_attempts: 1 } },
      });
      assert.equal(send.status, 202, send.text);
    });

    it('accepts the verification input in any case / with a trailing dot', async () => {
      const added = await add('case-verify.example.test');
      stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
      const res = await verify('CASE-Verify.Example.Test.');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.domain, 'case-verify.example.test');
      assert.equal(res.body.status, 'verified');
    });

    it('finds the right value among several TXT strings', async () => {
      const added = await add('multi-txt.example.test');
      stack.dns.setTxt(added.body.record.name, ['v=spf1 -all', added.body.record.value, 'something else']);
      const res = await verify('multi-txt.example.test');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.status, 'verified');
    });

    it('stays pending when the TXT record holds a wrong value', async () => {
      const domain = 'wrong-txt.example.test';
      const added = await add(domain);
      stack.dns.setTxt(added.body.record.name, ['harepost-verify=not-the-token']);
      const res = await verify(domain);
      assertPending(res, 200, domain);
      const listed = await list();
      assert.equal(listed.body.data.find((d: { domain: string }) => d.domain === domain)?.status, 'pending');
      const send = await stack.api('POST', '/v1/send', {
        key: acme.live_key,
        body: { target: stack.target('/x', domain) },
      });
      assertError(send, 403, 'target', 'send to a domain whose TXT is wrong');
    });

    it("does not accept another domain's token", async () => {
      const a = await add('token-owner.example.test');
      const b = await add('token-thief.example.test');
      stack.dns.setTxt(b.body.record.name, [a.body.record.value]);
      const res = await verify('token-thief.example.test');
      assertPending(res, 200, 'token-thief.example.test');
    });

    it('answers 404 for a domain never added', async () => {
      const res = await verify('never-added.example.test');
      assertError(res, 404, undefined, 'verify a domain never added');
    });

    it('answers 400 with field "domain" for an IP address', async () => {
      const res = await verify('10.0.0.1');
      assertError(res, 400, 'domain', 'verify an IP');
    });
  });

  describe('GET /v1/domains', () => {
    it('lists the domains of the account in a data array', async () => {
      const fresh = await stack.createAccount('lister');
      const empty = await list(fresh.live_key);
      assert.equal(empty.status, 200, empty.text);
      assert.deepEqual(empty.body.data, []);

      const one = await add('list-one.example.test', fresh.live_key);
      const two = await add('list-two.example.test', fresh.live_key);
      stack.dns.setTxt(two.body.record.name, [two.body.record.value]);
      assert.equal((await verify('list-two.example.test', fresh.live_key)).body.status, 'verified');

      const res = await list(fresh.live_key);
      assert.equal(res.status, 200, res.text);
      assert.ok(Array.isArray(res.body.data));
      const byName = new Map(res.body.data.map((d: { domain: string }) => [d.domain, d]));
      assert.deepEqual([...byName.keys()].sort(), ['list-one.example.test', 'list-two.example.test']);
      const rowOne = byName.get('list-one.example.test') as Record<string, any>;
      const rowTwo = byName.get('list-two.example.test') as Record<string, any>;
      assert.equal(rowOne.status, 'pending');
      assert.deepEqual(rowOne.record, one.body.record);
      assert.equal(rowTwo.status, 'verified');
      assert.deepEqual(rowTwo.record, two.body.record);
    });

    it('is the same list for the test key of the account (domains serve both modes)', async () => {
      const live = await list(acme.live_key);
      const test = await list(acme.test_key);
      assert.equal(test.status, 200, test.text);
      assert.deepEqual(
        test.body.data.map((d: { domain: string }) => d.domain).sort(),
        live.body.data.map((d: { domain: string }) => d.domain).sort(),
      );
    });
  });

  describe('DELETE /v1/domains/{domain}', () => {
    it('deletes a domain: 200, then it is gone from the list, verify gives 404, a second delete gives 404', async () => {
      const domain = 'delete-me.example.test';
      const added = await add(domain);
      stack.dns.setTxt(added.body.record.name, [added.body.record.value]);
      assert.equal((await verify(domain)).body.status, 'verified');

      const res = await remove(domain);
      assert.equal(res.status, 200, res.text);

      const listed = await list();
      assert.equal(
        listed.body.data.some((d: { domain: string }) => d.domain === domain),
        false,
        'deleted domain still listed',
      );
      assertError(await verify(domain), 404, undefined, 'verify after delete');
      assertError(await remove(domain), 404, undefined, 'second delete');

      // A deleted domain no longer authorises sends.
      const send = await stack.api('POST', '/v1/send', {
        key: acme.live_key,
        body: { target: stack.target('/x', domain) },
      });
      assertError(send, 403, 'target', 'send to a deleted domain');
    });

    it('deletes by the normalised name', async () => {
      await add('norm-delete.example.test');
      const res = await remove('Norm-Delete.EXAMPLE.test');
      assert.equal(res.status, 200, res.text);
      assert.equal(
        (await list()).body.data.some((d: { domain: string }) => d.domain === 'norm-delete.example.test'),
        false,
      );
    });

    it('answers 404 for a domain never added', async () => {
      assertError(await remove('never-there.example.test'), 404, undefined, 'delete never added');
    });
  });

  describe('tenancy', () => {
    it("another account cannot see, verify or delete an account's domain (404)", async () => {
      const domain = 'private.example.test';
      const added = await add(domain);
      stack.dns.setTxt(added.body.record.name, [added.body.record.value]);

      const theirList = await list(rival.live_key);
      assert.equal(theirList.status, 200, theirList.text);
      assert.equal(theirList.body.data.some((d: { domain: string }) => d.domain === domain), false);

      assertError(await verify(domain, rival.live_key), 404, undefined, "rival verifies acme's domain");
      assertError(await remove(domain, rival.live_key), 404, undefined, "rival deletes acme's domain");

      // Still there, still pending, for its owner (the rival's verify did not verify it for acme).
      const mine = await list();
      const row = mine.body.data.find((d: { domain: string }) => d.domain === domain);
      assert.equal(row?.status, 'pending');
      assert.deepEqual(row?.record, added.body.record);
      const rivalSend = await stack.api('POST', '/v1/send', {
        key: rival.live_key,
        body: { target: stack.target('/x', domain) },
      });
      assertError(rivalSend, 403, 'target', "rival sends to acme's domain");
    });

    it('a domain added by two accounts has a separate challenge for each', async () => {
      const domain = 'shared.example.test';
      const mine = await add(domain);
      const theirs = await add(domain, rival.live_key);
      assertPending(mine, 201, domain);
      assertPending(theirs, 201, domain);
      assert.notEqual(mine.body.record.value, theirs.body.record.value);

      // Publishing only acme's token verifies acme, not the rival.
      stack.dns.setTxt(mine.body.record.name, [mine.body.record.value]);
      assert.equal((await verify(domain)).body.status, 'verified');
      assert.equal((await verify(domain, rival.live_key)).body.status, 'pending');
    });
  });
});
