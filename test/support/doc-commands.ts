/**
 * Running a document's shell snippets as tests: the fenced code blocks of a Markdown section, split
 * into commands (quote-aware, `\` line continuations) and comments, and a check that a response has
 * the shape a comment such as `# → 202 {"queue_id":"hr_…","status":"queued",…}` shows, where `…`
 * stands for any text inside a string and for further members at the end of an object.
 */
import assert from 'node:assert/strict';

export type DocLine = { kind: 'comment'; text: string } | { kind: 'command'; words: string[] };

/** The bodies of the ```sh / ```bash blocks under the `## <heading>` section (up to the next `## `). */
export function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no "## ${heading}" section`);
  const next = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```(?:sh|bash)\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * Splits a shell snippet into comments and commands of words. Understands what the README uses:
 * single quotes (literal, may span lines), double quotes (`\"` and `\\` escapes), `\` + newline
 * as a space, and `#` comments at the start of a line. Variables stay as written (`$KEY`).
 */
export function parseShell(text: string): DocLine[] {
  const out: DocLine[] = [];
  let words: string[] = [];
  let word: string | null = null;
  const endWord = () => {
    if (word !== null) words.push(word);
    word = null;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) out.push({ kind: 'command', words });
    words = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '#' && word === null && words.length === 0) {
      const end = text.indexOf('\n', i);
      out.push({ kind: 'comment', text: text.slice(i + 1, end < 0 ? undefined : end).trim() });
      i = end < 0 ? text.length : end;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      endWord();
      i++;
    } else if (c === '\n') {
      endCommand();
    } else if (c === ' ' || c === '\t') {
      endWord();
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      assert.ok(end > i, 'unterminated single quote');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let s = '';
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        s += text[i];
      }
      assert.ok(i < text.length, 'unterminated double quote');
      word = (word ?? '') + s;
    } else {
      word = (word ?? '') + c;
    }
  }
  endCommand();
  return out;
}

/** A curl command line read: method, URL, headers and the `-d` body. */
export interface CurlCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export function readCurl(words: readonly string[]): CurlCall {
  assert.equal(words[0], 'curl', `not a curl command: ${words.join(' ')}`);
  let method: string | undefined;
  let url: string | undefined;
  let body: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-X') method = words[++i];
    else if (w === '-H') {
      const h = words[++i]!;
      const colon = h.indexOf(':');
      headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
    } else if (w === '-d' || w === '--data') body = words[++i];
    else if (w.startsWith('-')) assert.fail(`curl option ${w} is not understood here`);
    else url = w;
  }
  assert.ok(url, `no URL in ${words.join(' ')}`);
  return { method: method ?? (body === undefined ? 'GET' : 'POST'), url, headers, body };
}

/**
 * A response shape as a document writes it: an optional status code, then JSON where a string
 * with `…` matches any string of that form and `,…}` allows more members. Null when `text` holds
 * no JSON object.
 */
export function documentedShape(text: string): { status: number | null; shape: unknown } | null {
  const m = /(?:^|\s)(?:(\d{3}) )?(\{.*\})\s*$/.exec(text);
  if (!m) return null;
  const json = m[2]!.replace(/,\s*…\s*\}/g, '}').replace(/,\s*…\s*\]/g, ']');
  return { status: m[1] === undefined ? null : Number(m[1]), shape: JSON.parse(json) };
}

/** Asserts that `actual` has every member `shape` shows, with `…` in strings as a wildcard. */
export function assertShape(actual: unknown, shape: unknown, path = '$'): void {
  if (typeof shape === 'string' && shape.includes('…')) {
    assert.equal(typeof actual, 'string', `${path}: a string like ${shape}`);
    const pattern = new RegExp(`^${shape.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    assert.match(actual as string, pattern, path);
  } else if (Array.isArray(shape)) {
    assert.ok(Array.isArray(actual), `${path}: an array`);
    assert.equal((actual as unknown[]).length, shape.length, `${path}: ${shape.length} items`);
    shape.forEach((s, i) => assertShape((actual as unknown[])[i], s, `${path}[${i}]`));
  } else if (shape !== null && typeof shape === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), `${path}: an object`);
    for (const [k, s] of Object.entries(shape)) {
      assert.ok(k in (actual as object), `${path}.${k} is missing`);
      assertShape((actual as Record<string, unknown>)[k], s, `${path}.${k}`);
    }
  } else {
    assert.deepEqual(actual, shape, path);
  }
}
