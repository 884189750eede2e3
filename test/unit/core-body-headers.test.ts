/**
 * headersWithBody: the headers an event's deliveries get without encoding its body once per
 * destination — always exactly the headers encodeBody gives the same body and headers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBody, headersWithBody } from '../../src/core/body.js';

const bodies: unknown[] = [{ a: 1 }, [1, 2], [], {}, 'plain text', '', '{"looks":"like json"}', null, undefined];
const headerSets: Array<Record<string, string>> = [
  {},
  { 'X-Team': 'a' },
  { 'content-type': 'application/cloudevents+json' },
  { 'Content-Type': 'text/plain', 'X-Other': 'b' },
  { 'CONTENT-TYPE': 'application/xml' },
];

describe('headersWithBody', () => {
  it('equals encodeBody(POST)’s headers for every kind of body and every set of headers', () => {
    for (const body of bodies) {
      for (const headers of headerSets) {
        const encoded = encodeBody('POST', body, headers);
        assert.ok(encoded.ok);
        assert.deepEqual(headersWithBody(body, headers), encoded.value.headers, `${JSON.stringify(body)} with ${JSON.stringify(headers)}`);
      }
    }
  });

  it('adds Content-Type: application/json to a JSON body only, and never changes the headers given', () => {
    const given = { 'X-Team': 'a' };
    assert.deepEqual(headersWithBody({ a: 1 }, given), { 'X-Team': 'a', 'Content-Type': 'application/json' });
    assert.deepEqual(headersWithBody('text', given), { 'X-Team': 'a' });
    assert.deepEqual(given, { 'X-Team': 'a' });
  });
});
