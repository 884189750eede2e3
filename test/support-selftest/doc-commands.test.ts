/** The README-snippet reader: shell words, curl options, and documented answer shapes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertShape, documentedShape, parseShell, readCurl, shellBlocks } from '../support/doc-commands.js';

describe('doc-commands', () => {
  it('splits commands on unquoted newlines, joins `\\` continuations and multi-line single quotes', () => {
    const lines = parseShell(`# a comment
curl -X POST http://h/v1 \\
  -H "Authorization: Bearer $KEY" -d '{"a":1,
   "b":"x y"}'
export KEY=hp_live_…
`);
    assert.deepEqual(lines, [
      { kind: 'comment', text: 'a comment' },
      { kind: 'command', words: ['curl', '-X', 'POST', 'http://h/v1', '-H', 'Authorization: Bearer $KEY', '-d', '{"a":1,\n   "b":"x y"}'] },
      { kind: 'command', words: ['export', 'KEY=hp_live_…'] },
    ]);
    assert.deepEqual(readCurl(lines[1]!.kind === 'command' ? lines[1]!.words : []), {
      method: 'POST',
      url: 'http://h/v1',
      headers: { authorization: 'Bearer $KEY' },
      body: '{"a":1,\n   "b":"x y"}',
    });
    assert.equal(readCurl(['curl', 'http://h/x']).method, 'GET');
  });

  it('reads a documented answer and matches `…` as a wildcard and as "more members"', () => {
    const d = documentedShape('→ 202 {"queue_id":"hr_…","status":"queued","record":{"type":"TXT"},…}');
    assert.deepEqual(d, { status: 202, shape: { queue_id: 'hr_…', status: 'queued', record: { type: 'TXT' } } });
    assertShape({ queue_id: 'hr_abc', status: 'queued', record: { type: 'TXT', name: 'n' }, extra: 1 }, d!.shape);
    assert.throws(() => assertShape({ queue_id: 'evt_abc', status: 'queued', record: { type: 'TXT' } }, d!.shape));
    assert.throws(() => assertShape({ queue_id: 'hr_abc', status: 'retrying', record: { type: 'TXT' } }, d!.shape));
    assert.throws(() => assertShape({ queue_id: 'hr_abc', status: 'queued' }, d!.shape), /record is missing/);
    assert.equal(documentedShape('publish that TXT record at your DNS provider, then:'), null);
    assert.deepEqual(documentedShape('publish: 202 {"id":"evt_…"}'), { status: 202, shape: { id: 'evt_…' } });
  });

  it('finds the sh/bash blocks of one section only', () => {
    const md = '# T\n\n## One\n\n```sh\na\n```\n\n```bash\nb\n```\n\n## Two\n\n```sh\nc\n```\n';
    assert.deepEqual(shellBlocks(md, 'One'), ['a\n', 'b\n']);
    assert.deepEqual(shellBlocks(md, 'Two'), ['c\n']);
    assert.throws(() => shellBlocks(md, 'Three'));
  });
});
