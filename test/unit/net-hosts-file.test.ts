// The hosts-file parser and table the resolver consults before DNS (no network: files in a temp dir).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostsFileTable, parseHostsFile } from '../../src/net/hosts-file.js';

const SAMPLE = [
  '# a comment line',
  '127.0.0.1\tlocalhost',
  '::1     localhost ip6-localhost ip6-loopback',
  '10.1.2.3 Internal.Corp internal   # trailing comment',
  '2001:db8::5 both.corp',
  '192.0.2.5 both.corp',
  '192.0.2.5 both.corp.',
  'fe80::1%eth0 zoned.corp',
  'not-an-address bad.corp',
  '203.0.113.9',
  '',
].join('\n');

describe('parseHostsFile', () => {
  const table = parseHostsFile(SAMPLE);

  it('maps every name and alias to its addresses, lower case, without a trailing dot', () => {
    assert.deepEqual(table.get('internal.corp'), [{ address: '10.1.2.3', family: 4 }]);
    assert.deepEqual(table.get('internal'), [{ address: '10.1.2.3', family: 4 }]);
    assert.deepEqual(table.get('ip6-loopback'), [{ address: '::1', family: 6 }]);
  });

  it('lists IPv4 before IPv6 and each address once', () => {
    assert.deepEqual(table.get('both.corp'), [
      { address: '192.0.2.5', family: 4 },
      { address: '2001:db8::5', family: 6 },
    ]);
    assert.deepEqual(table.get('localhost'), [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
  });

  it('keeps a zone id, skips lines without a valid address or without names, and comments', () => {
    assert.deepEqual(table.get('zoned.corp'), [{ address: 'fe80::1%eth0', family: 6 }]);
    assert.equal(table.get('bad.corp'), undefined);
    assert.equal(table.get('comment'), undefined);
    assert.equal([...table.values()].flat().some((a) => a.address === '203.0.113.9'), false);
  });
});

describe('hostsFileTable', () => {
  it('reads the file, and reads it again once it changes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'harepost-hosts-'));
    try {
      const path = join(dir, 'hosts');
      writeFileSync(path, '10.0.0.1 one.corp\n');
      const table = hostsFileTable(path, { recheckMs: 0 });
      assert.deepEqual(table.lookup('one.corp'), [{ address: '10.0.0.1', family: 4 }]);
      assert.equal(table.lookup('two.corp'), undefined);
      writeFileSync(path, '10.0.0.1 one.corp\n10.0.0.22 two.corp\n');
      assert.deepEqual(table.lookup('two.corp'), [{ address: '10.0.0.22', family: 4 }]);
      rmSync(path);
      assert.equal(table.lookup('one.corp'), undefined, 'a removed file lists nothing');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('within recheckMs, answers from what it read (no file access per lookup)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'harepost-hosts-'));
    try {
      const path = join(dir, 'hosts');
      writeFileSync(path, '10.0.0.1 one.corp\n');
      const table = hostsFileTable(path, { recheckMs: 60_000 });
      assert.ok(table.lookup('one.corp'));
      writeFileSync(path, '10.0.0.1 one.corp\n10.0.0.22 two.corp\n');
      assert.equal(table.lookup('two.corp'), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file lists nothing', () => {
    assert.equal(hostsFileTable('/nonexistent/harepost/hosts').lookup('localhost'), undefined);
  });
});
