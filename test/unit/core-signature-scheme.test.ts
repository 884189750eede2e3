/**
 * A destination's `signature` setting: what is accepted (and the field named when it is not),
 * the text a store keeps, and HAREPOST_DEFAULT_SIGNATURE.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parseDestinationInput } from '../../src/core/destination-request.js';
import {
  NAMED_SCHEMES,
  parseSignatureScheme,
  signatureFromStored,
  signatureToStored,
  type SignatureScheme,
} from '../../src/core/signature-scheme.js';

function rejects(input: unknown, field: string, message?: RegExp) {
  const r = parseSignatureScheme(input);
  assert.equal(r.ok, false, `${JSON.stringify(input)} must be refused`);
  if (r.ok) return;
  assert.equal(r.field, field, `${JSON.stringify(input)}: ${r.message}`);
  assert.ok(r.message.startsWith(field), `the message names the field: ${r.message}`);
  if (message) assert.match(r.message, message);
}

describe('parseSignatureScheme', () => {
  it('takes each named scheme as it is spelt', () => {
    assert.deepEqual([...NAMED_SCHEMES], ['standard-webhooks', 'posthawk', 'harbor', 'github']);
    for (const name of NAMED_SCHEMES) assert.deepEqual(parseSignatureScheme(name), { ok: true, value: name });
  });

  it('refuses other strings and other types, naming `signature` and the values that work', () => {
    for (const bad of ['', 'Standard-Webhooks', 'stripe', 'svix', 'posthawk ', 'hmac-sha256', 'custom']) {
      rejects(bad, 'signature', /"standard-webhooks", "posthawk", "harbor", "github"/);
    }
    for (const bad of [null, 1, true, [], ['posthawk'], 0]) rejects(bad, 'signature');
  });

  it('takes a custom object, filling encoding "hex", prefix "" and timestamped false when left out', () => {
    assert.deepEqual(parseSignatureScheme({ header: 'X-Signature' }), {
      ok: true,
      value: { header: 'X-Signature', encoding: 'hex', prefix: '', timestamped: false },
    });
    const full = { header: 'X-Acme-Sig', encoding: 'base64', prefix: 'sha256=', timestamped: false };
    assert.deepEqual(parseSignatureScheme(full), { ok: true, value: full });
    const stamped = { header: 'Acme-Signature', encoding: 'hex', prefix: '', timestamped: true };
    assert.deepEqual(parseSignatureScheme(stamped), { ok: true, value: stamped });
    assert.deepEqual(parseSignatureScheme({ header: 'a', timestamped: true }), {
      ok: true,
      value: { header: 'a', encoding: 'hex', prefix: '', timestamped: true },
    });
  });

  it('names the custom field at fault', () => {
    rejects({}, 'signature.header', /required/);
    rejects({ encoding: 'hex' }, 'signature.header', /required/);
    rejects({ header: '' }, 'signature.header');
    rejects({ header: 5 }, 'signature.header');
    rejects({ header: null }, 'signature.header');
    rejects({ header: 'X Sig' }, 'signature.header', /valid HTTP header name/);
    rejects({ header: 'X-Sig:' }, 'signature.header');
    rejects({ header: 'X-Sïg' }, 'signature.header');
    rejects({ header: 'x'.repeat(129) }, 'signature.header', /at most 128/);
    assert.equal(parseSignatureScheme({ header: 'x'.repeat(128) }).ok, true);
    rejects({ header: 'X-Sig', encoding: 'HEX' }, 'signature.encoding', /"hex" or "base64"/);
    rejects({ header: 'X-Sig', encoding: 'base64url' }, 'signature.encoding');
    rejects({ header: 'X-Sig', encoding: null }, 'signature.encoding');
    rejects({ header: 'X-Sig', prefix: 3 }, 'signature.prefix');
    rejects({ header: 'X-Sig', prefix: null }, 'signature.prefix');
    rejects({ header: 'X-Sig', prefix: 'x'.repeat(65) }, 'signature.prefix', /at most 64/);
    assert.equal(parseSignatureScheme({ header: 'X-Sig', prefix: 'x'.repeat(64) }).ok, true);
    rejects({ header: 'X-Sig', prefix: 'a\r\nX-Evil: 1' }, 'signature.prefix', /printable ASCII/);
    rejects({ header: 'X-Sig', prefix: 'é=' }, 'signature.prefix');
    rejects({ header: 'X-Sig', timestamped: 'yes' }, 'signature.timestamped');
    rejects({ header: 'X-Sig', timestamped: 1 }, 'signature.timestamped');
    rejects({ header: 'X-Sig', timestamped: true, prefix: 'sha256=' }, 'signature.prefix', /empty when timestamped/);
    rejects({ header: 'X-Sig', algorithm: 'sha1' }, 'signature.algorithm', /not a known field/);
    rejects({ header: 'X-Sig', 'bad\u0000key': 1 }, 'signature.bad?key');
  });

  it('refuses header names Harepost or the connection controls, in any case', () => {
    const taken = [
      'Host', 'content-length', 'Content-Type', 'content-encoding', 'Content-Language', 'content-md5', 'Connection', 'transfer-encoding', 'keep-alive',
      'upgrade', 'expect', 'Authorization', 'te', 'trailer', 'User-Agent', 'date', 'Proxy-Authorization',
      'X-Harepost-Signature', 'x-harepost-queue-id', 'X-HAREPOST-ANYTHING', 'webhook-signature', 'Webhook-Id', 'webhook-x',
    ];
    for (const header of taken) rejects({ header }, 'signature.header', /Harepost sets itself/);
    // other schemes' header names are fine for a custom scheme
    for (const header of ['X-Hub-Signature-256', 'Harbor-Signature', 'X-Posthawk-Signature', 'Stripe-Signature']) {
      assert.equal(parseSignatureScheme({ header }).ok, true, header);
    }
  });

  it('is what destination input reads, under `signature`', () => {
    const ok = parseDestinationInput({ signature: 'harbor' }, { allowHttp: false });
    assert.ok(ok.ok);
    assert.equal(ok.value.signature, 'harbor');
    const absent = parseDestinationInput({ name: 'x' }, { allowHttp: false });
    assert.ok(absent.ok);
    assert.equal(absent.value.signature, undefined, 'not given: left to the view’s default');
    const bad = parseDestinationInput({ signature: { header: 'X-Sig', encoding: 'b64' } }, { allowHttp: false });
    assert.deepEqual(bad.ok ? null : bad.field, 'signature.encoding');
  });
});

describe('stored signature text', () => {
  it('round-trips every scheme', () => {
    const schemes: SignatureScheme[] = [
      ...NAMED_SCHEMES,
      { header: 'X-Sig', encoding: 'hex', prefix: '', timestamped: false },
      { header: 'x-acme', encoding: 'base64', prefix: 'v0=', timestamped: false },
      { header: 'Acme-Signature', encoding: 'base64', prefix: '', timestamped: true },
    ];
    for (const s of schemes) assert.deepEqual(signatureFromStored(signatureToStored(s)), s);
    assert.equal(signatureToStored('posthawk'), 'posthawk');
    assert.equal(
      signatureToStored({ timestamped: true, prefix: '', encoding: 'hex', header: 'H' } as SignatureScheme),
      '{"header":"H","encoding":"hex","prefix":"","timestamped":true}',
      'fixed key order',
    );
  });

  it('reads NULL (a send) and anything unexpected as Standard Webhooks', () => {
    assert.equal(signatureFromStored(null), 'standard-webhooks');
    assert.equal(signatureFromStored(undefined), 'standard-webhooks');
    for (const junk of ['', 'stripe', '{', '{"header":"host"}', '[]', '{"nope":1}']) {
      assert.equal(signatureFromStored(junk), 'standard-webhooks', junk);
    }
  });
});

describe('HAREPOST_DEFAULT_SIGNATURE', () => {
  it('defaults to standard-webhooks and takes each named scheme, from the environment or --default-signature', () => {
    assert.equal(loadConfig({}).defaultSignature, 'standard-webhooks');
    for (const name of NAMED_SCHEMES) {
      assert.equal(loadConfig({ HAREPOST_DEFAULT_SIGNATURE: name }).defaultSignature, name);
      assert.equal(loadConfig({}, { 'default-signature': name }).defaultSignature, name);
    }
    assert.equal(loadConfig({ HAREPOST_DEFAULT_SIGNATURE: ' harbor ' }).defaultSignature, 'harbor');
    assert.equal(loadConfig({ HAREPOST_DEFAULT_SIGNATURE: 'harbor' }, { 'default-signature': 'github' }).defaultSignature, 'github');
  });

  it('refuses anything else, naming the setting and the values it takes', () => {
    for (const bad of ['stripe', 'Harbor', '{"header":"X-Sig"}', 'custom']) {
      assert.throws(
        () => loadConfig({ HAREPOST_DEFAULT_SIGNATURE: bad }),
        (err: unknown) =>
          err instanceof ConfigError &&
          /^HAREPOST_DEFAULT_SIGNATURE must be one of standard-webhooks, posthawk, harbor, github/.test(err.message),
        bad,
      );
    }
    assert.throws(() => loadConfig({}, { 'default-signature': 'nope' }), /--default-signature must be one of/);
  });
});
