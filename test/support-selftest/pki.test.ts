import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createTestPki, type TestPki } from '../support/ca.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

/** Resolves every name to 127.0.0.1 without touching DNS. */
const toLoopback: LookupFunction = (_host, options, cb) => {
  if (options.all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
};

function get(url: string, opts: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, lookup: toLoopback, ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('createTestPki', () => {
  let pki: TestPki;
  let rx: Receiver;
  before(async () => {
    pki = await createTestPki({ names: ['hooks.example.test', '*.wild.example.test'] });
    rx = await startReceiver({ tls: { certPem: pki.certPem, keyPem: pki.keyPem } });
  });
  after(async () => {
    await rx?.close();
  });

  it('writes files and a cert valid from ~1 day ago for ~a year', async () => {
    assert.equal(await readFile(pki.caCertPath, 'utf8'), pki.caCertPem);
    const leaf = new X509Certificate(pki.certPem);
    const ca = new X509Certificate(pki.caCertPem);
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(leaf.checkIssued(ca));
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    const day = 24 * 3600_000;
    assert.ok(Math.abs(Date.now() - day - from) < 5 * 60_000, `validFrom ${leaf.validFrom}`);
    assert.ok(Math.abs(to - from - 365 * day) < 2 * day, `validTo ${leaf.validTo}`);
    assert.match(leaf.subjectAltName ?? '', /DNS:hooks\.example\.test/);
    assert.match(leaf.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  });

  it('verifies with node:https when the CA is trusted (IP and DNS names, wildcard)', async () => {
    assert.deepEqual(await get(rx.url('/ip'), { ca: pki.caCertPem }), { status: 200, body: 'ok' });
    assert.deepEqual(await get(rx.url('/dns', 'hooks.example.test'), { ca: pki.caCertPem }), { status: 200, body: 'ok' });
    assert.deepEqual(await get(rx.url('/wild', 'a.wild.example.test'), { ca: pki.caCertPem }), { status: 200, body: 'ok' });
    assert.equal(rx.requests.length, 3);
    assert.equal(rx.requests[1]?.headers['host'], `hooks.example.test:${rx.port}`);
  });

  it('fails without the CA, with a name not in the SAN, and with another CA', async () => {
    await assert.rejects(get(rx.url('/'), {}), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT/);
      return true;
    });
    await assert.rejects(get(rx.url('/', 'other.example.test'), { ca: pki.caCertPem }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    // the wildcard covers one label only
    await assert.rejects(get(rx.url('/', 'a.b.wild.example.test'), { ca: pki.caCertPem }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const other = await createTestPki({ names: ['hooks.example.test'] });
    await assert.rejects(get(rx.url('/'), { ca: other.caCertPem }), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE/);
      return true;
    });
    assert.equal(rx.requests.length, 3, 'no request got through');
  });

  it('honours dir and ips', async () => {
    const dir = `${pki.dir}/nested`;
    const p = await createTestPki({ names: ['x.example.test'], ips: [], dir });
    assert.equal(p.dir, dir);
    const leaf = new X509Certificate(p.certPem);
    assert.equal(leaf.subjectAltName, 'DNS:x.example.test');
    await assert.rejects(createTestPki({ names: ['bad name'] }), /invalid DNS name/);
  });
});
