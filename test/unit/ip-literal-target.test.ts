/** What the 403 for an allowed IP-literal send target says (src/api/ip-literal-target.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ipLiteralTargetMessage } from '../../src/api/ip-literal-target.js';

describe('ipLiteralTargetMessage', () => {
  it('suggests the localhost URL for a loopback address when localhost is verified', () => {
    assert.match(ipLiteralTargetMessage('http://127.0.0.1:8080/dev/sink', '127.0.0.1', true), /send to http:\/\/localhost:8080\/dev\/sink instead$/);
    assert.match(ipLiteralTargetMessage('http://127.9.9.9/x?y=1', '127.9.9.9', true), /send to http:\/\/localhost\/x\?y=1 instead$/);
    assert.match(ipLiteralTargetMessage('https://[::1]:9443/a', '::1', true), /send to https:\/\/localhost:9443\/a instead$/);
    assert.match(ipLiteralTargetMessage('http://[::ffff:7f00:1]/', '::ffff:7f00:1', true), /send to http:\/\/localhost\/ instead$/);
  });

  it('never suggests localhost for another address, or when localhost is not verified', () => {
    for (const [target, host, verified] of [
      ['https://10.0.0.5/hook', '10.0.0.5', true],
      ['https://[fd00::1]/hook', 'fd00::1', true],
      ['http://127.0.0.1:8080/', '127.0.0.1', false],
    ] as const) {
      const message = ipLiteralTargetMessage(target, host, verified);
      assert.doesNotMatch(message, /localhost/, message);
      assert.match(message, new RegExp(`^${host.replaceAll('.', '\\.')} is an IP address, and only a host name can be a verified domain`));
      assert.match(message, /HAREPOST_ALLOW_PRIVATE_NETWORKS/);
    }
  });
});
