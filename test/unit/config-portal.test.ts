import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

const refused = (env: Record<string, string>, pattern: RegExp) =>
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => err instanceof ConfigError && pattern.test(err.message),
    JSON.stringify(env),
  );

describe('HAREPOST_PORTAL_FRAME_ANCESTORS', () => {
  it('defaults to no origin at all: the dashboard is framed nowhere', () => {
    assert.deepEqual(loadConfig({}).portalFrameAncestors, []);
    assert.deepEqual(loadConfig({ HAREPOST_PORTAL_FRAME_ANCESTORS: '  ' }).portalFrameAncestors, []);
  });

  it('takes origins separated by spaces or commas, as their origin (lowercase, default port dropped, no duplicates)', () => {
    const got = loadConfig({
      HAREPOST_PORTAL_FRAME_ANCESTORS: 'https://App.Example.com, http://localhost:3000  https://portal.example.com:443/ https://app.example.com',
    }).portalFrameAncestors;
    assert.deepEqual(got, ['https://app.example.com', 'http://localhost:3000', 'https://portal.example.com']);
    assert.deepEqual(loadConfig({}, { 'portal-frame-ancestors': 'http://127.0.0.1:8443' }).portalFrameAncestors, ['http://127.0.0.1:8443']);
  });

  it('refuses anything that is not one http(s) origin, naming the setting and the entry', () => {
    for (const bad of [
      'app.example.com', // no scheme
      'https://app.example.com/portal', // a path
      'https://app.example.com/?x=1',
      'https://app.example.com#top',
      'https://user:pw@app.example.com',
      'ftp://app.example.com',
      'javascript:alert(1)',
      'https://*.example.com', // wildcards are not offered
      "'self'",
      "'none'",
      '*',
      'https://[::1]:8080',
      'https://app;example.com',
      'https://app.example.com:0',
      'https:///',
    ]) {
      refused({ HAREPOST_PORTAL_FRAME_ANCESTORS: `https://ok.example.com ${bad}` }, /^HAREPOST_PORTAL_FRAME_ANCESTORS must list origins such as/);
      assert.throws(
        () => loadConfig({ HAREPOST_PORTAL_FRAME_ANCESTORS: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`"${bad}"`),
        `the message names the entry ${bad}`,
      );
    }
  });
});

describe('HAREPOST_PORTAL_TITLE', () => {
  it('defaults to Harepost and takes any short text, trimmed', () => {
    assert.equal(loadConfig({}).portalTitle, 'Harepost');
    assert.equal(loadConfig({ HAREPOST_PORTAL_TITLE: '  Acme <Hooks> & "Co"  ' }).portalTitle, 'Acme <Hooks> & "Co"');
    assert.equal(loadConfig({ HAREPOST_PORTAL_TITLE: 'Ünïcødé ✓' }).portalTitle, 'Ünïcødé ✓');
  });

  it('refuses more than 60 characters and control characters, naming the setting', () => {
    refused({ HAREPOST_PORTAL_TITLE: 'x'.repeat(61) }, /^HAREPOST_PORTAL_TITLE must be 1 to 60 characters/);
    refused({ HAREPOST_PORTAL_TITLE: 'Acme\nHooks' }, /^HAREPOST_PORTAL_TITLE must be 1 to 60 characters with no control characters/);
    refused({ HAREPOST_PORTAL_TITLE: 'Acme\u0000' }, /^HAREPOST_PORTAL_TITLE must/);
    assert.equal(loadConfig({ HAREPOST_PORTAL_TITLE: 'x'.repeat(60) }).portalTitle.length, 60);
  });
});

describe('HAREPOST_PORTAL_ACCENT', () => {
  it("defaults to none (Harepost's own colours); takes #rgb or #rrggbb, kept as lowercase #rrggbb", () => {
    assert.equal(loadConfig({}).portalAccent, null);
    assert.equal(loadConfig({ HAREPOST_PORTAL_ACCENT: '#0A7D5A' }).portalAccent, '#0a7d5a');
    assert.equal(loadConfig({ HAREPOST_PORTAL_ACCENT: '#f80' }).portalAccent, '#ff8800');
    assert.equal(loadConfig({}, { 'portal-accent': '#123456' }).portalAccent, '#123456');
  });

  it('refuses every other way of writing a colour, so nothing but a colour reaches the CSS', () => {
    for (const bad of ['red', '0a7d5a', '#0a7d5', '#0a7d5a80', 'rgb(1,2,3)', '#0a7d5a;}body{display:none', '#fff</style>', 'var(--x)']) {
      refused({ HAREPOST_PORTAL_ACCENT: bad }, /^HAREPOST_PORTAL_ACCENT must be a colour written #rgb or #rrggbb/);
    }
  });
});
